/**
 * Throwaway servers for the remote-transport tests (provider/libvirt/remote.int.test.ts), all on
 * 127.0.0.1 with random high ports and everything in a temp dir that stop() removes:
 *
 * - startSshd(): Debian's openssh sshd with its own sshd_config, host key and authorized_keys
 *   (root may log in with the generated test key only). The system sshd and its config are not
 *   touched; /run/sshd (sshd's privilege separation directory) is created when missing.
 * - startTlsDaemon(): a second libvirtd, unprivileged (uid nobody, a session daemon with its own
 *   HOME and XDG_RUNTIME_DIR), listening for TLS and for tcp with auth "none", with a PKI made by
 *   make-pki.sh. The system libvirtd keeps serving its unix socket undisturbed: nothing restarts.
 *
 * Both are children of the test process, stopped by their pid only.
 */
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { accepts, freePort } from "../ports";
import { tmpdir } from "node:os";
import { join } from "node:path";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** URI query text; values escaped only where the URI syntax needs it, so paths stay readable. */
function query(params: Record<string, string>): string {
  return Object.entries(params).map(([k, v]) => `${k}=${v.replace(/[%&=?#\s+]/g, encodeURIComponent)}`).join("&");
}


/** Wait until 127.0.0.1:port accepts connections, failing early if the server process died. */
async function waitForPort(port: number, child: ChildProcess, log: () => string, what: string, ms = 60_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before listening on ${port}:\n${log()}`);
    if (Date.now() > until) throw new Error(`${what} did not listen on 127.0.0.1:${port} within ${ms} ms:\n${log()}`);
    await sleep(100);
  }
}

/** SIGTERM our child, SIGKILL after a grace period; resolves once it has exited. */
async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

function keygen(path: string, comment: string): void {
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path], { stdio: "ignore" });
}

export interface Sshd {
  port: number;
  dir: string;
  /** The authorized client key (private half). */
  key: string;
  /** A key sshd does not know. */
  wrongKey: string;
  /** known_hosts with this sshd's host key, for UserKnownHostsFile. */
  knownHosts: string;
  /** The host key as it appears in known_hosts: "ssh-ed25519 AAAA...". */
  hostPublicKey: string;
  /** A new, empty known_hosts file (for unknown-host and no_verify tests). */
  emptyKnownHosts(): string;
  /** qemu+ssh://root@127.0.0.1:PORT/system?keyfile=...&known_hosts=... plus extra params. */
  uri(extra?: Record<string, string>, path?: string): string;
  log(): string;
  stop(): Promise<void>;
}

export async function startSshd(): Promise<Sshd> {
  const sshd = "/usr/sbin/sshd";
  if (!existsSync(sshd)) throw new Error("sshd not found: apt-get install -y openssh-server");
  const dir = mkdtempSync(join(tmpdir(), "plt-sshd-"));
  const key = join(dir, "id_test");
  const wrongKey = join(dir, "id_wrong");
  const hostKey = join(dir, "host_ed25519");
  keygen(hostKey, "plt test host");
  keygen(key, "plt test client");
  keygen(wrongKey, "plt unknown client");
  writeFileSync(join(dir, "authorized_keys"), readFileSync(`${key}.pub`), { mode: 0o600 });
  // sshd refuses to start without its privilege separation directory (normally made by systemd).
  if (!existsSync("/run/sshd")) mkdirSync("/run/sshd", { mode: 0o755 });

  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const config = join(dir, "sshd_config");
    writeFileSync(config, [
      `ListenAddress 127.0.0.1:${port}`,
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      "AllowUsers root",
      "PermitRootLogin prohibit-password",
      "PubkeyAuthentication yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "StrictModes no",
      "PrintMotd no",
      "UseDNS no",
      "MaxStartups 100",
      "MaxSessions 100",
      "LogLevel VERBOSE",
      "",
    ].join("\n"));
    let log = "";
    const child = spawn(sshd, ["-D", "-e", "-f", config], { stdio: ["ignore", "ignore", "pipe"] });
    child.stderr!.on("data", (d: Buffer) => { log = (log + d.toString()).slice(-20_000); });
    try {
      await waitForPort(port, child, () => log, "sshd");
    } catch (e) {
      lastError = e as Error;
      await stopChild(child);
      continue; // most likely the port was taken between freePort() and sshd's bind
    }
    const knownHosts = join(dir, "known_hosts");
    const hostPub = readFileSync(`${hostKey}.pub`, "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
    writeFileSync(knownHosts, `[127.0.0.1]:${port} ${hostPub}\n`);
    let empties = 0;
    return {
      port, dir, key, wrongKey, knownHosts, hostPublicKey: hostPub,
      emptyKnownHosts() {
        const p = join(dir, `known_hosts.empty.${empties++}`);
        writeFileSync(p, "");
        return p;
      },
      uri(extra = {}, path = "/system") {
        return `qemu+ssh://root@127.0.0.1:${port}${path}?${query({ keyfile: key, known_hosts: knownHosts, ...extra })}`;
      },
      log: () => log,
      async stop() {
        await stopChild(child);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError ?? new Error("sshd did not start");
}

export interface TlsDaemon {
  dir: string;
  tlsPort: number;
  tcpPort: number;
  /** make-pki.sh's output: client/, wrongca/, nocert/, badname/, server/. */
  pki: string;
  /** A directory the daemon's user (nobody) may write: for pool targets. */
  home: string;
  /** qemu+tls://127.0.0.1:PORT/session?pkipath=PKI/client (pkipath relative to pki/ by default). */
  tlsUri(pkiDir?: string, extra?: Record<string, string>): string;
  tcpUri(): string;
  log(): string;
  stop(): Promise<void>;
}

const NOBODY = 65534;

export async function startTlsDaemon(): Promise<TlsDaemon> {
  const dir = mkdtempSync(join(tmpdir(), "plt-tlsd-"));
  chmodSync(dir, 0o755); // the daemon runs as nobody and reads its config and certificates here
  const pki = join(dir, "pki");
  execFileSync("sh", [join(__dirname, "make-pki.sh"), pki], { stdio: ["ignore", "ignore", "pipe"] });
  const home = join(dir, "home");
  const run = join(dir, "run");
  mkdirSync(home, { mode: 0o755 });
  mkdirSync(run, { mode: 0o700 });
  for (const p of [home, run, join(pki, "server"), join(pki, "server", "serverkey.pem")]) chownSync(p, NOBODY, NOBODY);

  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const [tlsPort, tcpPort] = [await freePort(), await freePort()];
    if (tlsPort === tcpPort) continue;
    const conf = join(dir, "libvirtd.conf");
    writeFileSync(conf, [
      "listen_tls = 1",
      "listen_tcp = 1",
      'listen_addr = "127.0.0.1"',
      `tls_port = "${tlsPort}"`,
      `tcp_port = "${tcpPort}"`,
      'auth_tls = "none"',
      'auth_tcp = "none"',
      "tls_no_verify_certificate = 0",
      `key_file = "${join(pki, "server", "serverkey.pem")}"`,
      `cert_file = "${join(pki, "server", "servercert.pem")}"`,
      `ca_file = "${join(pki, "server", "cacert.pem")}"`,
      'log_outputs = "3:stderr"',
      // No pings from the daemon: a client stall (a reply left unread) then lasts until jest's
      // timeout, so tests see it as a failure instead of a 5 s pause that ends by itself.
      "keepalive_interval = -1",
      "",
    ].join("\n"), { mode: 0o644 });
    let log = "";
    // --timeout: should the test process die without stop(), the daemon leaves by itself once idle.
    const child = spawn("/usr/sbin/libvirtd", ["--listen", "--timeout", "600", "-f", conf], {
      uid: NOBODY, gid: NOBODY, cwd: home,
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME: home, XDG_RUNTIME_DIR: run, LANG: "C" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    child.stderr!.on("data", (d: Buffer) => { log = (log + d.toString()).slice(-20_000); });
    try {
      await waitForPort(tlsPort, child, () => log, "the TLS libvirtd");
      await waitForPort(tcpPort, child, () => log, "the TLS libvirtd");
    } catch (e) {
      lastError = e as Error;
      await stopChild(child);
      continue;
    }
    return {
      dir, tlsPort, tcpPort, pki, home,
      tlsUri(pkiDir = "client", extra = {}) {
        return `qemu+tls://127.0.0.1:${tlsPort}/session?${query({ pkipath: join(pki, pkiDir), ...extra })}`;
      },
      tcpUri: () => `qemu+tcp://127.0.0.1:${tcpPort}/session`,
      log: () => log,
      async stop() {
        await stopChild(child);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError ?? new Error("the TLS libvirtd did not start");
}
