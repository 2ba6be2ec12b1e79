/**
 * qemu+ssh://[user@]host[:port]/system: the system `ssh` client carries the connection, exactly
 * as libvirt's own client does it (virNetSocketNewConnectSSH), so ~/.ssh/config, ssh-agent,
 * ProxyJump, known_hosts and Kerberos all work unchanged. On the remote side ssh runs libvirt's
 * own helper command: `virt-ssh-helper URI` when installed, else netcat to the daemon's socket,
 * byte for byte the command libvirt sends (so authorized_keys command= restrictions written for
 * virsh match us too). ssh's stdin/stdout are the byte stream; its stderr is kept for errors.
 *
 * Differences from libvirt, on purpose: BatchMode=yes always (a provider never answers prompts,
 * so a missing key fails at once instead of hanging), and known_hosts=FILE works here too
 * (UserKnownHostsFile; libvirt honours it only for its libssh transports).
 *
 * Dialing ends with one AUTH_LIST round trip, so that a refused key, an unknown host key or a
 * missing daemon fails here with ssh's own words rather than later as a lost connection.
 */
import { ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { Duplex } from "node:stream";
import { ErrorCode, ErrorDomain, LibvirtError, ProtocolError } from "../errors";
import { finishPacket, LENGTH_WORD, MessageType, parsePacket, Program, PROTOCOL_VERSION, Status, startPacket } from "../packet";
import { P } from "../protocol";
import { flagParam, LibvirtUri } from "../uri";
import type { Dialed } from "./index";
import { hostPort, readExactly } from "./tcp";

export type Proxy = "auto" | "netcat" | "native";

export interface SshPlan {
  /** The ssh binary (command=, default "ssh"). */
  command: string;
  args: string[];
  /** What runs on the remote side, for messages: "virt-ssh-helper, else nc -U /var/run/libvirt/libvirt-sock". */
  via: string;
  /** "ssh root@host:2222", for errors and `doctor`. */
  peer: string;
}

/** virBufferEscapeShell's rule: quote only when the string holds a shell metacharacter. */
export function escapeShell(s: string): string {
  if (s === "") return "''";
  if (!/[\r\t\n !"#$&'()*;<>?[\\\]^`{|}~]/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The remote login shell and then `sh -c` each unquote once. */
const escapeTwice = (s: string) => escapeShell(escapeShell(s));

/** Legacy-mode socket on the remote host, as libvirt computes it for ssh (remoteGetUNIXSocket). */
export function remoteSocket(uri: LibvirtUri, readOnly: boolean): string {
  return uri.params.get("socket") || `/var/run/libvirt/libvirt-${readOnly ? "sock-ro" : "sock"}`;
}

/**
 * The proxy mode: proxy= when given; netcat when socket= or netcat= is given (virt-ssh-helper
 * cannot take a socket path); virt-ssh-helper only for /session (a remote user's socket path
 * cannot be computed here); otherwise try virt-ssh-helper and fall back to netcat.
 */
export function proxyMode(uri: LibvirtUri): Proxy {
  const given = uri.params.get("proxy");
  if (given !== undefined) {
    if (given !== "auto" && given !== "netcat" && given !== "native") {
      throw new LibvirtError(`unknown proxy "${given}" in ${uri.text}: use proxy=auto, proxy=netcat or proxy=native`, ErrorCode.INVALID_ARG);
    }
    if (given === "native" && uri.params.has("netcat")) {
      throw new LibvirtError(`netcat= cannot be combined with proxy=native (virt-ssh-helper) in ${uri.text}: drop one of them`, ErrorCode.INVALID_ARG);
    }
    if (given === "native" && uri.params.has("socket")) {
      throw new LibvirtError(`socket= cannot be combined with proxy=native in ${uri.text}: virt-ssh-helper finds the socket itself; use proxy=netcat with socket=`, ErrorCode.INVALID_ARG);
    }
    return given === "auto" && uri.params.has("netcat") ? "netcat" : given;
  }
  if (uri.params.has("socket") || uri.params.has("netcat")) return "netcat";
  if (uri.path === "/session") return "native";
  return "auto";
}

/** libvirt's remote command (virNetClientSSHHelperCommand), for the given proxy mode. */
export function remoteCommand(uri: LibvirtUri, readOnly: boolean, proxy: Proxy = proxyMode(uri)): string {
  const nc = escapeTwice(uri.params.get("netcat") || "nc");
  const sock = remoteSocket(uri, readOnly);
  if (proxy === "netcat" && uri.path === "/session" && !uri.params.get("socket")) {
    throw new LibvirtError(
      `proxy=netcat needs socket=PATH for ${uri.text}: the remote user's session socket cannot be known here. To fix: drop proxy=netcat (virt-ssh-helper finds it), or add socket=/run/user/UID/libvirt/virtqemud-sock`,
      ErrorCode.INVALID_ARG,
    );
  }
  const ncCmd = `if '${nc}' -q 2>&1 | grep "requires an argument" >/dev/null 2>&1; then ARG=-q0;else ARG=;fi;'${nc}' $ARG -U ${escapeTwice(sock)}`;
  const helperCmd = `virt-ssh-helper${readOnly ? " -r " : " "}'${escapeTwice(uri.remoteName)}'`;
  switch (proxy) {
    case "auto":
      return `sh -c 'which virt-ssh-helper 1>/dev/null 2>&1; if test $? = 0; then     ${helperCmd}; else    ${ncCmd}; fi'`;
    case "netcat":
      return `sh -c '${ncCmd}'`;
    case "native":
      return `sh -c '${helperCmd}'`;
  }
}

/** ssh -o values are split on whitespace by ssh; quote a path that has some. */
const sshOptionValue = (s: string) => (/\s/.test(s) ? `"${s}"` : s);

/** The ssh command line for a URI: libvirt's, plus BatchMode=yes always and known_hosts=. */
export function sshPlan(uri: LibvirtUri, readOnly: boolean): SshPlan {
  const host = uri.host ?? "localhost";
  const proxy = proxyMode(uri);
  const args: string[] = [];
  if (uri.port !== undefined) args.push("-p", String(uri.port));
  if (uri.user) args.push("-l", uri.user);
  const keyfile = uri.params.get("keyfile");
  if (keyfile) args.push("-i", keyfile);
  args.push("-T", "-e", "none", "-o", "BatchMode=yes");
  if (flagParam(uri, "no_verify")) args.push("-o", "StrictHostKeyChecking=no");
  const knownHosts = uri.params.get("known_hosts");
  if (knownHosts) args.push("-o", `UserKnownHostsFile=${sshOptionValue(knownHosts)}`);
  args.push("--", host, remoteCommand(uri, readOnly, proxy));
  const nc = `${uri.params.get("netcat") || "nc"} -U ${remoteSocket(uri, readOnly)}`;
  const via = proxy === "auto" ? `virt-ssh-helper, else ${nc}` : proxy === "native" ? "virt-ssh-helper" : nc;
  const peer = `ssh ${uri.user ? `${uri.user}@` : ""}${uri.port !== undefined ? hostPort(host, uri.port) : host}`;
  return { command: uri.params.get("command") || "ssh", args, via, peer };
}

// ---- Failures

/** The last few KiB of ssh's stderr: its diagnostics, never anything we sent. */
class Tail {
  private text = "";
  add(chunk: Buffer): void {
    this.text = (this.text + chunk.toString("utf8")).slice(-4096);
  }
  /** The meaningful lines: without ssh's "Permanently added" notices and blank lines. */
  get lines(): string {
    return this.text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !/^Warning: Permanently added/.test(l)).join("; ");
  }
}

export interface SshExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Turn ssh's exit and stderr into a LibvirtError that names the URI, ssh's words and the fix. */
export function sshFailure(uri: LibvirtUri, plan: SshPlan, exit: SshExit, when: string): LibvirtError {
  const host = uri.host ?? "localhost";
  const portFlag = uri.port !== undefined ? `-p ${uri.port} ` : "";
  const who = `${uri.user ? `${uri.user}@` : ""}${host}`;
  const keyfile = uri.params.get("keyfile");
  const status = exit.signal ? `was killed by ${exit.signal}` : `exited with status ${exit.code}`;
  const said = exit.stderr ? `: ${exit.stderr}` : " without a message";
  const what = `ssh to ${who}${uri.port !== undefined ? ` port ${uri.port}` : ""} for ${uri.text} ${status} ${when}${said}`;
  const s = exit.stderr;
  const tryIt = `try \`${plan.command} ${portFlag}${keyfile ? `-i ${keyfile} ` : ""}${who} true\` by hand`;
  let fix: string;
  let code: number = ErrorCode.NO_CONNECT;
  if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|No .* host key is known/i.test(s)) {
    code = ErrorCode.AUTH_FAILED;
    fix = `add the host's key to known_hosts after checking its fingerprint (\`ssh-keyscan ${portFlag}${host}\`, or connect once with ssh by hand)` +
      `${uri.params.get("known_hosts") ? `, in ${uri.params.get("known_hosts")} (the known_hosts= file)` : ", or name a known_hosts=FILE that has it"}; ` +
      "no_verify=1 accepts an unknown key, which lets anyone on the path impersonate the host";
  } else if (/(nc: |virt-ssh-helper|Failed to connect socket|unix connect failed)[^;]*Permission denied/i.test(s)) {
    // ssh got in, but the remote user may not open the daemon's socket.
    code = ErrorCode.AUTH_FAILED;
    fix = `connect as a user allowed to open the daemon's socket on ${host}: root@, or a member of the libvirt group there (\`usermod -aG libvirt USER\`, then log in again); read-only connections need no group`;
  } else if (/Permission denied \(|Permission denied, please try again|Too many authentication failures|no mutual signature|Authentication failed/i.test(s)) {
    code = ErrorCode.AUTH_FAILED;
    fix = `${keyfile ? `make sure the public half of ${keyfile} is in ~${uri.user ?? ""}/.ssh/authorized_keys on ${host}` : "pass keyfile=PATH, or load the key into ssh-agent, and put its public half in the remote user's ~/.ssh/authorized_keys"}` +
      `${uri.user ? "" : ", and add user@ to the URI if the remote user differs from the local one"} (this client never prompts: passwords and passphrases cannot be typed in); ${tryIt}`;
  } else if (/Load key|bad permissions|invalid format|No such identity/i.test(s)) {
    code = ErrorCode.AUTH_FAILED;
    fix = `check keyfile=${keyfile ?? ""}: it must exist, be a private key without a passphrase (or be in ssh-agent) and be readable only by its owner (chmod 600)`;
  } else if (/ssh: connect to host|Could not resolve hostname|kex_exchange_identification|Connection closed by|Connection reset by|Connection timed out during banner/i.test(s)) {
    fix = `check the host and port, and that sshd runs on ${host}; ${tryIt}`;
  } else if (/virt-ssh-helper|nc: |netcat|unix connect failed|Failed to connect socket|No such file or directory|Connection refused|not found/i.test(s)) {
    fix = `make sure the libvirt daemon runs on ${host} (\`systemctl status libvirtd\` or virtqemud.socket there) and that ${plan.via} is installed there (libvirt-daemon or libvirt-clients provides virt-ssh-helper; netcat-openbsd provides nc -U)`;
  } else {
    fix = tryIt;
  }
  return new LibvirtError(`${what}. To fix: ${fix}`, code, ErrorDomain.RPC);
}

// ---- The stream

/**
 * ssh's stdout and stdin as one Duplex. When ssh exits, the end of the stream is delayed until
 * its exit status and stderr are known: a clean exit ends the stream, a failed one errors it
 * with ssh's message (so a dropped connection says why, not just "closed").
 */
export class ChildStream extends Duplex {
  private exited = false;

  constructor(private readonly child: ChildProcessWithoutNullStreams, private readonly failure: (code: number | null, signal: NodeJS.Signals | null) => LibvirtError | undefined) {
    super({ allowHalfOpen: false });
    child.stdout.on("data", (d: Buffer) => {
      if (!this.push(d)) child.stdout.pause();
    });
    child.stdout.on("error", () => undefined); // reported through the exit status
    child.stdin.on("error", () => undefined); // EPIPE once ssh is gone: the exit status says why
    child.once("close", (code, signal) => {
      this.exited = true;
      const e = this.destroyed ? undefined : this.failure(code, signal);
      if (e) this.destroy(e);
      else this.push(null);
    });
  }

  override _read(): void {
    this.child.stdout.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (this.child.stdin.destroyed) return cb();
    this.child.stdin.write(chunk, () => cb());
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (e?: Error | null) => void): void {
    if (this.child.stdin.destroyed) return cb();
    chunks.forEach(({ chunk }, i) => (i === chunks.length - 1 ? this.child.stdin.write(chunk, () => cb()) : this.child.stdin.write(chunk)));
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.child.stdin.end();
    cb();
  }

  override _destroy(e: Error | null, cb: (e?: Error | null) => void): void {
    if (!this.exited) abandon(this.child);
    cb(e);
  }
}

/** Stop ssh and let go of its pipes at once (a grandchild might hold them open). */
function abandon(child: ChildProcessWithoutNullStreams): void {
  child.kill("SIGTERM");
  child.stdin.destroy();
  child.stdout.destroy();
  child.stderr.destroy();
}

/** An AUTH_LIST call with serial 0: answered by every daemon before auth, and by nothing else. */
function probePacket(): Buffer {
  const p = P.AUTH_LIST;
  return finishPacket(startPacket({ program: p.program, version: PROTOCOL_VERSION, procedure: p.number, type: MessageType.CALL, serial: 0, status: Status.OK }, 0));
}

export async function dialSsh(uri: LibvirtUri, readOnly: boolean): Promise<Dialed> {
  const plan = sshPlan(uri, readOnly);
  const stderr = new Tail();
  const child = spawn(plan.command, plan.args, { stdio: ["pipe", "pipe", "pipe"] });
  child.stderr.on("data", (d: Buffer) => stderr.add(d));

  let spawnError: NodeJS.ErrnoException | undefined;
  const exited = new Promise<SshExit>((resolve) => {
    child.once("error", (e) => {
      spawnError = e;
      resolve({ code: null, signal: null, stderr: e.message });
    });
    child.once("close", (code, signal) => resolve({ code, signal, stderr: stderr.lines }));
  });
  child.stdin.on("error", () => undefined);

  const early = new Error("ssh ended before the daemon answered");
  try {
    child.stdin.write(probePacket());
    const lengthWord = await readExactly(child.stdout, LENGTH_WORD, () => early, () => early);
    const length = lengthWord.readUInt32BE(0);
    if (length < LENGTH_WORD + 24 || length > 65536) {
      const text = lengthWord.toString("latin1").replace(/[^\x20-\x7e]/g, "?");
      throw new LibvirtError(
        `the remote command for ${uri.text} wrote "${text}..." where a libvirt reply was expected. To fix: make the login shell of ${uri.user ?? "the remote user"} on ${uri.host ?? "localhost"} print nothing for non-interactive sessions (an echo in ~/.bashrc or a motd script), and check that ${plan.via} is the libvirt proxy`,
        ErrorCode.OPERATION_FAILED, ErrorDomain.RPC,
      );
    }
    const rest = await readExactly(child.stdout, length - LENGTH_WORD, () => early, () => early);
    const reply = parsePacket(Buffer.concat([lengthWord, rest]));
    if (reply.program !== Program.REMOTE || reply.type !== MessageType.REPLY || reply.serial !== 0) {
      throw new ProtocolError(`unexpected first packet from the daemon behind ${plan.peer} (program ${reply.program}, type ${reply.type})`);
    }
  } catch (e) {
    if (e instanceof LibvirtError) {
      abandon(child);
      throw e;
    }
    // ssh (or the remote helper) is gone: wait for its status and stderr, briefly.
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    const exit = await exited;
    clearTimeout(timer);
    if (spawnError) {
      throw new LibvirtError(
        `cannot run the ssh client "${plan.command}" for ${uri.text}: ${spawnError.code ?? spawnError.message}. To fix: install it (Debian: apt-get install openssh-client) or name its path with command=`,
        ErrorCode.SYSTEM_ERROR, ErrorDomain.RPC,
      );
    }
    throw sshFailure(uri, plan, exit, "before the daemon answered");
  }

  const socket = new ChildStream(child, (code, signal) =>
    code === 0 && !signal ? undefined : sshFailure(uri, plan, { code, signal, stderr: stderr.lines }, "while connected"));
  return { socket, peer: plan.peer };
}
