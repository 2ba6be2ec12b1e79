/**
 * The ssh transport without an sshd: the command line and remote command compared with what
 * libvirt 9.0's virsh runs (captured with a fake ssh binary via command=), failure messages,
 * URI redaction, and the dialer driven through fake `ssh` programs.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Libvirt } from "../client";
import { ErrorCode, LibvirtError } from "../errors";
import { parseUri, redactUri } from "../uri";
import { dial } from "./index";
import { escapeShell, proxyMode, remoteCommand, sshFailure, sshPlan } from "./ssh";
import { alive, rejection, waitFor } from "../../../test/util";

function thrown(fn: () => unknown): LibvirtError {
  try {
    fn();
  } catch (e) {
    if (e instanceof LibvirtError) return e;
    throw e;
  }
  throw new Error("expected a LibvirtError");
}


describe("escapeShell (virBufferEscapeShell's rule)", () => {
  test.each([
    ["nc", "nc"],
    ["/usr/bin/nc", "/usr/bin/nc"],
    ["qemu:///system", "qemu:///system"],
    ["", "''"],
    ["a b", "'a b'"],
    ["it's", `'it'\\''s'`],
    ["qemu:///system?x=1&y=2", "'qemu:///system?x=1&y=2'"],
  ])("%j -> %j", (input, out) => {
    expect(escapeShell(input)).toBe(out);
  });
});

describe("the remote command is libvirt's, byte for byte", () => {
  // Captured from `virsh -c 'qemu+ssh://...?command=/fake/ssh'` (libvirt 9.0.0).
  const AUTO = `sh -c 'which virt-ssh-helper 1>/dev/null 2>&1; if test $? = 0; then     virt-ssh-helper 'qemu:///system'; else    if 'nc' -q 2>&1 | grep "requires an argument" >/dev/null 2>&1; then ARG=-q0;else ARG=;fi;'nc' $ARG -U /var/run/libvirt/libvirt-sock; fi'`;
  const AUTO_RO = `sh -c 'which virt-ssh-helper 1>/dev/null 2>&1; if test $? = 0; then     virt-ssh-helper -r 'qemu:///system'; else    if 'nc' -q 2>&1 | grep "requires an argument" >/dev/null 2>&1; then ARG=-q0;else ARG=;fi;'nc' $ARG -U /var/run/libvirt/libvirt-sock-ro; fi'`;
  const NETCAT = `sh -c 'if '/usr/bin/nc' -q 2>&1 | grep "requires an argument" >/dev/null 2>&1; then ARG=-q0;else ARG=;fi;'/usr/bin/nc' $ARG -U /tmp/sock'`;
  const NATIVE_ODD = `sh -c 'virt-ssh-helper '''\\''qemu:///system?foo=a%20b%27c'\\'''''`;

  test("auto: virt-ssh-helper, else netcat to the legacy socket", () => {
    expect(remoteCommand(parseUri("qemu+ssh://root@127.0.0.1:2222/system?keyfile=/k&no_tty=1"), false)).toBe(AUTO);
  });

  test("read-only: -r and the -ro socket", () => {
    expect(remoteCommand(parseUri("qemu+ssh://root@127.0.0.1:2222/system"), true)).toBe(AUTO_RO);
  });

  test("socket= and netcat= select netcat", () => {
    expect(remoteCommand(parseUri("qemu+ssh://h/system?socket=/tmp/sock&netcat=/usr/bin/nc"), false)).toBe(NETCAT);
  });

  test("a daemon URI with shell metacharacters survives both shells", () => {
    expect(remoteCommand(parseUri("qemu+ssh://h/system?proxy=native&foo=a%20b%27c"), false)).toBe(NATIVE_ODD);
  });

  test("the ssh arguments are libvirt's, plus BatchMode always and known_hosts", () => {
    const plan = sshPlan(parseUri("qemu+ssh://root@127.0.0.1:2222/system?keyfile=/k&no_tty=1"), false);
    expect(plan.command).toBe("ssh");
    expect(plan.args).toEqual(["-p", "2222", "-l", "root", "-i", "/k", "-T", "-e", "none", "-o", "BatchMode=yes", "--", "127.0.0.1", AUTO]);
    expect(plan.peer).toBe("ssh root@127.0.0.1:2222");
    expect(plan.via).toBe("virt-ssh-helper, else nc -U /var/run/libvirt/libvirt-sock");

    const other = sshPlan(parseUri("qemu+ssh://h/system?no_verify=1&known_hosts=/my%20dir/kh&command=/opt/ssh"), false);
    expect(other.command).toBe("/opt/ssh");
    expect(other.args.slice(0, 9)).toEqual(["-T", "-e", "none", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", `UserKnownHostsFile="/my dir/kh"`]);
    expect(other.args.slice(9, 11)).toEqual(["--", "h"]);
    expect(other.peer).toBe("ssh h");
  });

  test("no host means localhost, as in libvirt; IPv6 peers are bracketed", () => {
    expect(sshPlan(parseUri("qemu+ssh:///system"), false).args.slice(-2, -1)).toEqual(["localhost"]);
    expect(sshPlan(parseUri("qemu+ssh://root@[::1]:22/system"), false)).toMatchObject({ peer: "ssh root@[::1]:22" });
    expect(sshPlan(parseUri("qemu+ssh://root@[::1]:22/system"), false).args).toContain("::1");
  });

  test("a password in the URI never reaches ssh's arguments", () => {
    const plan = sshPlan(parseUri("qemu+ssh://admin:hunter2@host/system"), false);
    expect(plan.args.join(" ")).not.toContain("hunter2");
    expect(plan.args).toEqual(expect.arrayContaining(["-l", "admin"]));
    expect(plan.peer).toBe("ssh admin@host");
  });
});

describe("proxy modes", () => {
  test.each([
    ["qemu+ssh://h/system", "auto"],
    ["qemu+ssh://h/system?proxy=netcat", "netcat"],
    ["qemu+ssh://h/system?proxy=native", "native"],
    ["qemu+ssh://h/system?socket=/s", "netcat"],
    ["qemu+ssh://h/system?netcat=/bin/nc", "netcat"],
    ["qemu+ssh://h/system?proxy=auto&netcat=/bin/nc", "netcat"],
    ["qemu+ssh://h/session", "native"],
  ])("%s -> %s", (uri, mode) => {
    expect(proxyMode(parseUri(uri))).toBe(mode);
  });

  test("invalid combinations are INVALID_ARG naming the URI", () => {
    for (const uri of ["qemu+ssh://h/system?proxy=pigeon", "qemu+ssh://h/system?proxy=native&netcat=/bin/nc", "qemu+ssh://h/system?proxy=native&socket=/s"]) {
      const e = thrown(() => proxyMode(parseUri(uri)));
      expect(e.code).toBe(ErrorCode.INVALID_ARG);
      expect(e.message).toContain(uri);
    }
    const e = thrown(() => remoteCommand(parseUri("qemu+ssh://h/session?proxy=netcat"), false));
    expect(e.message).toContain("socket=");
  });

  test("/session goes through virt-ssh-helper with the session URI", () => {
    expect(remoteCommand(parseUri("qemu+ssh://u@h/session"), false)).toBe(`sh -c 'virt-ssh-helper 'qemu:///session''`);
  });
});

describe("ssh failures", () => {
  const uri = parseUri("qemu+ssh://root@host:2222/system?keyfile=/keys/id");
  const plan = sshPlan(uri, false);
  const fail = (stderr: string, code = 255) => sshFailure(uri, plan, { code, signal: null, stderr }, "before the daemon answered");

  test("an unknown host key: AUTH_FAILED, not retried, with ssh-keyscan and no_verify in the fix", () => {
    const e = fail("Host key verification failed.");
    expect(e.code).toBe(ErrorCode.AUTH_FAILED);
    expect(e.message).toBe(
      "ssh to root@host port 2222 for qemu+ssh://root@host:2222/system?keyfile=/keys/id exited with status 255 before the daemon answered: Host key verification failed.. " +
      "To fix: add the host's key to known_hosts after checking its fingerprint (`ssh-keyscan -p 2222 host`, or connect once with ssh by hand), or name a known_hosts=FILE that has it; " +
      "no_verify=1 accepts an unknown key, which lets anyone on the path impersonate the host");
  });

  test("a refused key: AUTH_FAILED naming the key file and authorized_keys", () => {
    const e = fail("root@host: Permission denied (publickey).");
    expect(e.code).toBe(ErrorCode.AUTH_FAILED);
    expect(e.message).toContain("Permission denied (publickey)");
    expect(e.message).toContain("make sure the public half of /keys/id is in ~root/.ssh/authorized_keys on host");
    expect(e.message).toContain("`ssh -p 2222 -i /keys/id root@host true`");
  });

  test("network trouble and a missing daemon are NO_CONNECT (retryable)", () => {
    expect(fail("ssh: connect to host host port 2222: Connection refused").code).toBe(ErrorCode.NO_CONNECT);
    expect(fail("ssh: Could not resolve hostname host: Name or service not known").message).toContain("check the host and port");
    const nc = fail("nc: unix connect failed: No such file or directory", 1);
    expect(nc.code).toBe(ErrorCode.NO_CONNECT);
    expect(nc.message).toContain("exited with status 1");
    expect(nc.message).toContain("make sure the libvirt daemon runs on host");
  });

  test("a remote user without access to the daemon's socket is not told to fix its ssh key", () => {
    for (const stderr of ["nc: unix connect failed: Permission denied", "virt-ssh-helper: cannot connect to 'qemu:///system': Failed to connect socket to '/var/run/libvirt/libvirt-sock': Permission denied"]) {
      const e = fail(stderr, 1);
      expect(e.code).toBe(ErrorCode.AUTH_FAILED);
      expect(e.message).toContain("libvirt group");
      expect(e.message).not.toContain("authorized_keys");
    }
  });

  test("no stderr at all still says what happened", () => {
    expect(sshFailure(uri, plan, { code: null, signal: "SIGKILL", stderr: "" }, "while connected").message)
      .toContain("was killed by SIGKILL while connected without a message");
  });
});

describe("redaction of passwords in URIs", () => {
  test.each([
    ["qemu+ssh://u:pw@h/system", "qemu+ssh://u:***@h/system"],
    ["qemu+ssh://u:p%40w@h:22/system?keyfile=/k", "qemu+ssh://u:***@h:22/system?keyfile=/k"],
    ["qemu+tls://u:@h/system", "qemu+tls://u:***@h/system"],
    ["qemu+ssh://u@h:22/system", "qemu+ssh://u@h:22/system"],
    ["qemu+ssh://h:22/system?x=a:b@c", "qemu+ssh://h:22/system?x=a:b@c"],
    ["qemu:///system", "qemu:///system"],
  ])("%s -> %s", (given, shown) => {
    expect(redactUri(given)).toBe(shown);
  });

  test("parseUri keeps the user, drops the password, and shows only the redacted text", () => {
    const u = parseUri("qemu+ssh://admin:hunter2@host:22/system");
    expect(u).toMatchObject({ user: "admin", host: "host", port: 22, text: "qemu+ssh://admin:***@host:22/system", remoteName: "qemu:///system" });
    expect(JSON.stringify({ ...u, params: [...u.params] })).not.toContain("hunter2");
  });

  test("parse errors are redacted too", () => {
    const e = thrown(() => parseUri("qemu+ssh://admin:hunter2@host:99999/system"));
    expect(e.message).toContain("admin:***@host");
    expect(e.message).not.toContain("hunter2");
  });
});

describe("the dialer with fake ssh programs", () => {
  let dir: string;
  const script = (name: string, body: string) => {
    const p = join(dir, name);
    writeFileSync(p, body);
    chmodSync(p, 0o755);
    return p;
  };
  /** A fake ssh whose remote side answers the probe, then behaves as `then` says. */
  const fakeDaemon = (name: string, then: string) => script(name, `#!${process.execPath}
let buf = Buffer.alloc(0), seen = 0;
process.stdin.on("data", (d) => {
  buf = Buffer.concat([buf, d]);
  while (buf.length >= 4 && buf.length >= buf.readUInt32BE(0)) {
    const len = buf.readUInt32BE(0), serial = buf.readUInt32BE(20);
    buf = buf.subarray(len);
    if (seen++ === 0) {
      const r = Buffer.alloc(36);
      r.writeUInt32BE(36, 0); r.writeUInt32BE(0x20008086, 4); r.writeUInt32BE(1, 8); r.writeInt32BE(66, 12);
      r.writeInt32BE(1, 16); r.writeUInt32BE(serial, 20); r.writeInt32BE(0, 24); r.writeUInt32BE(1, 28); r.writeInt32BE(0, 32);
      process.stdout.write(r);
    } else {
      ${then}
    }
  }
});
`);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "plt-fakessh-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("ssh's stderr and exit status become the error (AUTH_FAILED for a refused key)", async () => {
    const ssh = script("refused", "#!/bin/sh\necho 'root@h: Permission denied (publickey).' >&2\nexit 255\n");
    const e = await rejection(Libvirt.connect(`qemu+ssh://root:s3cr3t@h/system?command=${ssh}&keyfile=/k`));
    expect(e.code).toBe(ErrorCode.AUTH_FAILED);
    expect(e.message).toContain("ssh to root@h for qemu+ssh://root:***@h/system?command=");
    expect(e.message).toContain("exited with status 255 before the daemon answered: root@h: Permission denied (publickey).");
    expect(e.message).not.toContain("s3cr3t");
  });

  test("ssh gets libvirt's arguments (the fake records them)", async () => {
    const record = join(dir, "args.txt");
    const ssh = script("record", `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done > ${record}\nexit 1\n`);
    await rejection(dial(parseUri(`qemu+ssh://root@h:2222/system?command=${ssh}&keyfile=/k&known_hosts=/kh`), false));
    const args = readFileSync(record, "utf8").trimEnd().split("\n");
    expect(args.slice(0, 15)).toEqual(["-p", "2222", "-l", "root", "-i", "/k", "-T", "-e", "none", "-o", "BatchMode=yes", "-o", "UserKnownHostsFile=/kh", "--", "h"]);
    expect(args[15]).toMatch(/^sh -c 'which virt-ssh-helper/);
  });

  test("a login script printing to stdout is named as such, and its ssh is ended (not waited for)", async () => {
    // The fake ssh stays up far past jest's timeout: waiting for it to exit would fail the test.
    const pidFile = join(dir, "banner.pid");
    const ssh = script("banner", `#!/bin/sh\necho $$ > ${pidFile}\necho 'Welcome to host!'\nexec sleep 600\n`);
    const e = await rejection(dial(parseUri(`qemu+ssh://h/system?command=${ssh}`), false));
    expect(e.code).toBe(ErrorCode.OPERATION_FAILED);
    expect(e.message).toContain(`wrote "Welc..." where a libvirt reply was expected`);
    expect(e.message).toContain("print nothing for non-interactive sessions");
    const pid = Number(readFileSync(pidFile, "utf8"));
    await waitFor(() => !alive(pid), `the fake ssh (pid ${pid}) to be ended`, 10_000);
  });

  test("a missing ssh binary is SYSTEM_ERROR naming command=", async () => {
    const e = await rejection(dial(parseUri(`qemu+ssh://h/system?command=${join(dir, "no-such-ssh")}`), false));
    expect(e.code).toBe(ErrorCode.SYSTEM_ERROR);
    expect(e.message).toContain("ENOENT");
    expect(e.message).toContain("command=");
  });

  test("ssh failing after the probe: the RPC error carries ssh's status and stderr", async () => {
    const ssh = fakeDaemon("dies", `process.stderr.write("helper: daemon went away\\n"); process.exit(3);`);
    const e = await rejection(Libvirt.connect(`qemu+ssh://h/system?command=${ssh}`));
    expect(e.code).toBe(ErrorCode.NO_CONNECT);
    expect(e.message).toContain("lost connection to libvirt at ssh h: ssh to h for qemu+ssh://h/system?command=");
    expect(e.message).toContain("exited with status 3 while connected: helper: daemon went away");
  });

  test("ssh exiting cleanly after the probe is an ordinary close", async () => {
    const ssh = fakeDaemon("closes", "process.exit(0);");
    const e = await rejection(Libvirt.connect(`qemu+ssh://h/system?command=${ssh}`));
    expect(e.code).toBe(ErrorCode.NO_CONNECT);
    expect(e.message).toBe("lost connection to libvirt at ssh h: the daemon closed the connection");
  });

  test("destroying the stream ends the ssh process", async () => {
    const pidFile = join(dir, "pid");
    const ssh = fakeDaemon("lingers", "");
    const wrapper = script("lingers-wrapper", `#!/bin/sh\necho $$ > ${pidFile}\nexec ${ssh}\n`);
    const { socket } = await dial(parseUri(`qemu+ssh://h/system?command=${wrapper}`), false);
    const pid = Number(readFileSync(pidFile, "utf8"));
    const closed = new Promise((r) => socket.once("close", r));
    socket.destroy();
    await closed;
    for (let i = 0; i < 50; i++) {
      try {
        process.kill(pid, 0);
      } catch {
        return; // gone
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`fake ssh ${pid} still runs`);
  });
});
