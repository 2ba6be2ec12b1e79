/**
 * The remote transports against real servers, all on 127.0.0.1 (test/remote/fixtures.ts):
 *
 * - qemu+ssh: a private sshd (own config, host key, authorized_keys) in front of the system
 *   libvirtd, reached through virt-ssh-helper or netcat exactly as libvirt's client does it;
 * - qemu+tls and qemu+tcp: a second, unprivileged libvirtd (uid nobody, session mode) listening
 *   with a throwaway PKI. The system daemon is never restarted, so suites running alongside keep
 *   their unix-socket connections.
 *
 * Plus: unix and ssh connections side by side, secrets kept out of every message, and
 * `pulumi-libvirt doctor` over ssh and tls through the built CLI.
 */
import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { promisify } from "node:util";
import { startSshd, startTlsDaemon, Sshd, TlsDaemon } from "../../test/remote/fixtures";
import { rejection, TEST_URI, uniqueName, virsh, virshPools, virshQuiet } from "../../test/util";
import { Libvirt } from "./client";
import { ErrorCode, isNotFound } from "./errors";

jest.setTimeout(300_000);

const MiB = 1024 * 1024;
const IMAGES = "/var/lib/libvirt/images";
const ROOT = join(__dirname, "..", "..");
const run = promisify(execFile);


/** Connect, run fn, always close. */
async function withLv<T>(uri: string, fn: (lv: Libvirt) => Promise<T>): Promise<T> {
  const lv = await Libvirt.connect(uri);
  try {
    return await fn(lv);
  } finally {
    await lv.close();
  }
}

function sink(): { stream: Writable; data: () => Buffer } {
  const chunks: Buffer[] = [];
  return {
    stream: new Writable({ write(c: Buffer, _e, cb) { chunks.push(c); cb(); } }),
    data: () => Buffer.concat(chunks),
  };
}

/**
 * A dir pool from define to undefine, with a volume uploaded and downloaded in between: the
 * stream path (many 256 KiB packets each way) is what a transport most easily gets wrong.
 */
async function poolVolumeLifecycle(lv: Libvirt, parent: string, bytes = 5 * MiB + 12345): Promise<void> {
  const name = uniqueName("rpool");
  const path = join(parent, name);
  const pool = await lv.storagePoolDefineXml(`<pool type='dir'><name>${name}</name><target><path>${path}</path></target></pool>`);
  try {
    await lv.storagePoolBuild(pool);
    await lv.storagePoolCreate(pool);
    expect(await lv.storagePoolIsActive(pool)).toBe(true);
    const vol = await lv.storageVolCreateXml(pool,
      `<volume><name>data.raw</name><capacity unit='bytes'>${bytes}</capacity><target><format type='raw'/></target></volume>`);
    const data = randomBytes(bytes);
    expect(await lv.storageVolUpload(vol, Readable.from([data.subarray(0, 3 * MiB), data.subarray(3 * MiB)]))).toBe(bytes);
    const out = sink();
    expect(await lv.storageVolDownload(vol, out.stream)).toBe(bytes);
    expect(out.data().equals(data)).toBe(true);
    expect((await lv.storagePoolListVolumes(pool)).map((v) => v.name)).toEqual(["data.raw"]);
    await lv.storageVolDelete(vol);
    expect(await lv.storagePoolListVolumes(pool)).toEqual([]);
    await lv.storagePoolDestroy(pool);
    await lv.storagePoolDelete(pool);
  } finally {
    await lv.storagePoolDestroy(pool).catch(() => undefined);
    await lv.storagePoolUndefine(pool).catch(() => undefined);
    rmSync(path, { recursive: true, force: true });
  }
  expect(isNotFound(await lv.storagePoolLookupByName(name).catch((e) => e))).toBe(true);
}

// ---- doctor through the built CLI

/** bin/ as `npm run build` leaves it; rebuilt when older than the transport sources. */
function builtCli(): string {
  const cli = join(ROOT, "bin", "provider", "cli.js");
  const sources = ["ssh", "tls", "tcp", "index"].map((f) => join(ROOT, "provider", "libvirt", "transport", `${f}.ts`)).concat(join(ROOT, "provider", "libvirt", "uri.ts"));
  const built = (src: string) => join(ROOT, "bin", src.slice(ROOT.length + 1).replace(/\.ts$/, ".js"));
  const stale = !existsSync(cli) || sources.some((s) => !existsSync(built(s)) || statSync(built(s)).mtimeMs < statSync(s).mtimeMs);
  if (stale) {
    try {
      execFileSync("npx", ["tsc", "-p", "tsconfig.json"], { cwd: ROOT, stdio: "pipe" });
    } catch {
      // tsc emits despite type errors elsewhere in the tree; the checks below say if it did not.
    }
  }
  return cli;
}

async function doctor(uri: string): Promise<{ code: number; report: any; stderr: string }> {
  try {
    const { stdout, stderr } = await run("node", [builtCli(), "doctor", "--uri", uri, "--json"], { cwd: ROOT, encoding: "utf8", timeout: 240_000 });
    return { code: 0, report: JSON.parse(stdout), stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, report: err.stdout ? JSON.parse(err.stdout) : undefined, stderr: err.stderr ?? "" };
  }
}

// ---- ssh

describe("qemu+ssh through a private sshd on 127.0.0.1", () => {
  let sshd: Sshd;

  beforeAll(async () => {
    sshd = await startSshd();
  }, 120_000);

  afterAll(async () => {
    await sshd?.stop();
  });

  test("connects to the system daemon and names the ssh peer", async () => {
    await withLv(sshd.uri(), async (lv) => {
      expect(lv.rpc.peer).toBe(`ssh root@127.0.0.1:${sshd.port}`);
      expect(await lv.getUri()).toBe("qemu:///system");
      expect(await lv.getType()).toBe("QEMU");
      expect(await lv.getHostname()).toBe(virsh("hostname").trim());
    });
  });

  test("a pool and volume lifecycle with a 5 MiB upload and download, and an isolated network", async () => {
    await withLv(sshd.uri(), async (lv) => {
      await poolVolumeLifecycle(lv, IMAGES);
      const name = uniqueName("rnet");
      const net = await lv.networkDefineXml(`<network><name>${name}</name><bridge name='plt${randomBytes(3).toString("hex")}' stp='on' delay='0'/></network>`);
      try {
        expect(await lv.networkGetXmlDesc(net)).toContain(`<name>${name}</name>`);
        expect(virsh("net-list", "--all", "--name")).toContain(name); // seen through the unix socket too
        expect(await lv.networkIsActive(net)).toBe(false);
      } finally {
        await lv.networkUndefine(net).catch(() => virshQuiet("net-undefine", name));
      }
      expect(isNotFound(await lv.networkLookupByName(name).catch((e) => e))).toBe(true);
    });
  });

  test("both remote helpers work: virt-ssh-helper (proxy=native) and nc -U (proxy=netcat, socket=)", async () => {
    const variants: Record<string, string>[] = [{ proxy: "native" }, { proxy: "netcat" }, { socket: "/var/run/libvirt/libvirt-sock" }, { netcat: "/usr/bin/nc" }];
    for (const extra of variants) {
      await withLv(sshd.uri(extra), async (lv) => {
        expect(await lv.getUri()).toBe("qemu:///system");
      });
    }
  });

  test("read-only connections go through the read-only socket (netcat) and virt-ssh-helper -r", async () => {
    for (const extra of [{ proxy: "netcat" }, { proxy: "native" }]) {
      const lv = await Libvirt.connect(sshd.uri(extra), { readOnly: true });
      try {
        expect((await lv.listAllStoragePools()).map((p) => p.name).sort()).toEqual(virshPools());
        const e = await rejection(lv.storagePoolDefineXml(`<pool type='dir'><name>${uniqueName("ro")}</name><target><path>/nonexistent</path></target></pool>`));
        expect(e.message).toMatch(/read.only|denied/i);
      } finally {
        await lv.close();
      }
    }
  });

  test("an unknown host key is refused with ssh's own message, the URI and the fix", async () => {
    const e = await rejection(Libvirt.connect(sshd.uri({ known_hosts: sshd.emptyKnownHosts() })));
    expect(e.code).toBe(ErrorCode.AUTH_FAILED);
    expect(e.message).toContain("Host key verification failed");
    expect(e.message).toContain(`qemu+ssh://root@127.0.0.1:${sshd.port}/system`);
    expect(e.message).toContain("To fix: add the host's key to known_hosts");
    expect(e.message).toContain("no_verify=1");
  });

  test("a key the server does not know fails fast with Permission denied (publickey)", async () => {
    const e = await rejection(Libvirt.connect(sshd.uri({ keyfile: sshd.wrongKey })));
    expect(e.code).toBe(ErrorCode.AUTH_FAILED);
    expect(e.message).toContain("Permission denied (publickey)");
    expect(e.message).toContain(sshd.wrongKey); // the path is fine to show
    expect(e.message).toContain("To fix: make sure the public half of");
    // BatchMode: no prompt to hang on (a prompt would hang to jest's timeout), and AUTH_FAILED
    // is not retried by the provider.
  });

  test("no_verify=1 accepts an unknown host key (and records it in the known_hosts= file, not ~/.ssh)", async () => {
    const knownHosts = sshd.emptyKnownHosts();
    await withLv(sshd.uri({ known_hosts: knownHosts, no_verify: "1" }), async (lv) => {
      expect(await lv.getUri()).toBe("qemu:///system");
    });
    // Debian's ssh_config hashes host names (HashKnownHosts), so look for the key itself.
    expect(readFileSync(knownHosts, "utf8")).toContain(sshd.hostPublicKey);
  });

  test("a daemon that is not there: the remote helper's error, as NO_CONNECT (retryable)", async () => {
    const e = await rejection(Libvirt.connect(sshd.uri({ socket: "/nonexistent/libvirt-sock" })));
    expect(e.code).toBe(ErrorCode.NO_CONNECT);
    expect(e.message).toMatch(/nc: .*No such file or directory/);
    expect(e.message).toContain("To fix: make sure the libvirt daemon runs on 127.0.0.1");
  });

  test("nothing listening on the ssh port: ssh's connect error", async () => {
    const e = await rejection(Libvirt.connect(`qemu+ssh://root@127.0.0.1:1/system?keyfile=${sshd.key}`));
    expect(e.code).toBe(ErrorCode.NO_CONNECT);
    expect(e.message).toContain("Connection refused");
    expect(e.message).toContain("sshd runs on 127.0.0.1");
  });

  test("unix and ssh connections to the same daemon coexist and see each other's changes", async () => {
    const local = await Libvirt.connect(TEST_URI);
    const remote = await Libvirt.connect(sshd.uri());
    const name = uniqueName("both");
    try {
      expect(local.rpc.peer).toMatch(/^unix socket /);
      expect(remote.rpc.peer).toMatch(/^ssh root@127\.0\.0\.1:/);
      const pool = await remote.storagePoolDefineXml(`<pool type='dir'><name>${name}</name><target><path>${IMAGES}/${name}</path></target></pool>`);
      const seen = await local.storagePoolLookupByName(name);
      expect(Buffer.compare(seen.uuid, pool.uuid)).toBe(0);
      // Interleaved calls on both connections at once.
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? local : remote).storagePoolGetXmlDesc(seen)));
      for (const xml of results) expect(xml).toContain(`<name>${name}</name>`);
      await local.storagePoolUndefine(seen);
      expect(isNotFound(await remote.storagePoolLookupByName(name).catch((e) => e))).toBe(true);
    } finally {
      virshQuiet("pool-undefine", name);
      await Promise.all([local.close(), remote.close()]);
    }
  });

  test("a password in the URI and the key's contents never reach a message or the peer name", async () => {
    const secret = "pw-" + randomBytes(6).toString("hex");
    const keyBody = readFileSync(sshd.key, "utf8").split("\n").filter((l) => l && !l.startsWith("-----"));
    const wrongBody = readFileSync(sshd.wrongKey, "utf8").split("\n").filter((l) => l && !l.startsWith("-----"));
    const withPassword = (u: string) => u.replace("qemu+ssh://root@", `qemu+ssh://root:${secret}@`);
    const clean = (text: string) => {
      expect(text).not.toContain(secret);
      for (const line of [...keyBody, ...wrongBody]) expect(text).not.toContain(line);
    };

    // Accepted (ssh gets only the user name: this client never sends passwords)...
    await withLv(withPassword(sshd.uri()), async (lv) => {
      clean(lv.rpc.peer);
      clean(lv.uri.text);
      expect(lv.uri.text).toContain("root:***@");
      expect(lv.uri.user).toBe("root");
      clean(JSON.stringify({ uri: lv.uri, params: [...lv.uri.params] }));
    });
    // ...and redacted in every failure: ssh refusals, a bad port, an unknown parameter value.
    const failures = await Promise.all([
      rejection(Libvirt.connect(withPassword(sshd.uri({ keyfile: sshd.wrongKey })))),
      rejection(Libvirt.connect(withPassword(sshd.uri({ known_hosts: sshd.emptyKnownHosts() })))),
      rejection(Libvirt.connect(`qemu+ssh://root:${secret}@127.0.0.1:99999/system`)),
      rejection(Libvirt.connect(withPassword(sshd.uri({ proxy: "carrier-pigeon" })))),
      rejection(Libvirt.connect(`qemu+tls://root:${secret}@127.0.0.1:1/system`)),
      rejection(Libvirt.connect(`qemu+tcp://root:${secret}@127.0.0.1:1/system`)),
    ]);
    for (const e of failures) {
      clean(e.message);
      clean(String(e.stack));
      expect(e.message).toContain("root:***@");
    }
  });

  test("`pulumi-libvirt doctor --uri qemu+ssh://...` through the built CLI", async () => {
    const { code, report, stderr } = await doctor(sshd.uri());
    expect(stderr).toBe("");
    expect(report).toMatchObject({ ok: true, transport: "ssh", socket: `ssh root@127.0.0.1:${sshd.port}`, readOnly: false, libvirtVersion: expect.stringMatching(/^\d+\.\d+\.\d+$/) });
    expect(report.hypervisor.type).toBe("QEMU");
    expect(code).toBe(0);

    const refused = await doctor(sshd.uri({ keyfile: sshd.wrongKey }));
    expect(refused.code).toBe(1);
    expect(refused.report.ok).toBe(false);
    expect(refused.report.problems[0]).toMatchObject({ severity: "error", problem: expect.stringContaining("Permission denied (publickey)"), fix: expect.stringContaining("authorized_keys") });
  });
});

// ---- tls and tcp

describe("qemu+tls and qemu+tcp against a second, unprivileged libvirtd on 127.0.0.1", () => {
  let daemon: TlsDaemon;

  beforeAll(async () => {
    daemon = await startTlsDaemon();
  }, 120_000);

  afterAll(async () => {
    await daemon?.stop();
  });

  test("connects over TLS with pkipath= and runs a pool and volume lifecycle", async () => {
    await withLv(daemon.tlsUri(), async (lv) => {
      expect(lv.rpc.peer).toBe(`tls 127.0.0.1:${daemon.tlsPort}`);
      expect(await lv.getUri()).toBe("qemu:///session");
      await poolVolumeLifecycle(lv, daemon.home);
    });
  });

  test("many calls in flight over TLS are all answered (no TLS record holds two messages)", async () => {
    // libvirtd leaves a second message of a shared TLS record unread until more bytes arrive.
    // Keepalive is off on both sides (the test daemon sends no pings), so nothing would end
    // such a stall: it would hang here until jest's timeout.
    const lv = await Libvirt.connect(daemon.tlsUri(), { keepaliveInterval: 0 });
    try {
      for (let round = 0; round < 5; round++) {
        const uris = await Promise.all(Array.from({ length: 25 }, () => lv.getUri()));
        expect(uris).toEqual(Array(25).fill("qemu:///session"));
      }
    } finally {
      await lv.close();
    }
  });

  test("qemu://host/... without a transport is TLS too, and localhost matches the certificate's DNS name", async () => {
    const uri = daemon.tlsUri().replace("qemu+tls://127.0.0.1", "qemu://localhost");
    await withLv(uri, async (lv) => {
      expect(lv.rpc.peer).toBe(`tls localhost:${daemon.tlsPort}`);
      expect(await lv.getUri()).toBe("qemu:///session");
    });
  });

  test("a server certificate from another CA is refused (AUTH_FAILED, naming the CA file)", async () => {
    const e = await rejection(Libvirt.connect(daemon.tlsUri("wrongca")));
    expect(e.code).toBe(ErrorCode.AUTH_FAILED);
    expect(e.message).toContain("failed verification");
    expect(e.message).toContain(join(daemon.pki, "wrongca", "cacert.pem"));
    expect(e.message).toContain("To fix:");
  });

  test("no_verify=1 skips only the server certificate check", async () => {
    await withLv(daemon.tlsUri("wrongca", { no_verify: "1" }), async (lv) => {
      expect(await lv.getUri()).toBe("qemu:///session");
    });
    // The daemon still checks us: no client certificate is still refused.
    const e = await rejection(Libvirt.connect(daemon.tlsUri("nocert", { no_verify: "1" })));
    expect(e.code).toBe(ErrorCode.AUTH_FAILED);
  });

  test("a client without a certificate is refused after the handshake, naming the missing files", async () => {
    const e = await rejection(Libvirt.connect(daemon.tlsUri("nocert")));
    expect(e.code).toBe(ErrorCode.AUTH_FAILED);
    expect(e.message).toContain("refused this client after the TLS handshake");
    expect(e.message).toContain(`no client certificate was sent, because ${join(daemon.pki, "nocert", "clientcert.pem")} and ${join(daemon.pki, "nocert", "clientkey.pem")} do not exist`);
    expect(e.message).toContain("To fix: pass pkipath=DIR");
  });

  test("a pkipath without a CA certificate fails before connecting", async () => {
    const e = await rejection(Libvirt.connect(daemon.tlsUri("does-not-exist")));
    expect(e.code).toBe(ErrorCode.SYSTEM_ERROR);
    expect(e.message).toContain(`cannot read the TLS CA certificate ${join(daemon.pki, "does-not-exist", "cacert.pem")} for qemu+tls://127.0.0.1:${daemon.tlsPort}/session`);
    expect(e.message).toContain("ENOENT");
  });

  test("TLS to the plaintext tcp port fails as a handshake error, not a hang", async () => {
    const uri = daemon.tlsUri().replace(`:${daemon.tlsPort}/`, `:${daemon.tcpPort}/`);
    const e = await rejection(Libvirt.connect(uri));
    expect(e.code).toBe(ErrorCode.AUTH_FAILED);
    expect(e.message).toContain("TLS handshake");
  });

  test("qemu+tcp to a daemon with auth_tcp = none", async () => {
    await withLv(daemon.tcpUri(), async (lv) => {
      expect(lv.rpc.peer).toBe(`tcp 127.0.0.1:${daemon.tcpPort}`);
      expect(await lv.getUri()).toBe("qemu:///session");
      expect((await lv.listAllStoragePools()).map((p) => p.name).sort()).toEqual(virshPools(daemon.tcpUri()));
    });
  });

  test("tls and tcp connections side by side with the local unix socket", async () => {
    const [a, b, c] = await Promise.all([Libvirt.connect(daemon.tlsUri()), Libvirt.connect(daemon.tcpUri()), Libvirt.connect(TEST_URI)]);
    try {
      const [ua, ub, uc] = await Promise.all([a.getUri(), b.getUri(), c.getUri()]);
      expect([ua, ub, uc]).toEqual(["qemu:///session", "qemu:///session", "qemu:///system"]);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  test("`pulumi-libvirt doctor --uri qemu+tls://...` through the built CLI", async () => {
    const { code, report, stderr } = await doctor(daemon.tlsUri());
    expect(stderr).toBe("");
    expect(report).toMatchObject({ transport: "tls", socket: `tls 127.0.0.1:${daemon.tlsPort}`, readOnly: false });
    expect(report.problems.filter((p: { severity: string }) => p.severity === "error")).toEqual([]);
    expect(report.ok).toBe(true);
    expect(code).toBe(0);

    const refused = await doctor(daemon.tlsUri("nocert"));
    expect(refused.code).toBe(1);
    expect(refused.report.problems[0]).toMatchObject({ severity: "error", problem: expect.stringContaining("no client certificate was sent") });
  });
});
