/**
 * qemu:///session: when no per-user daemon listens, the client starts one (libvirtd
 * --timeout=120, as libvirt's own client does) and connects to it. Run as an unprivileged user
 * with a fresh runtime directory, so the daemon started is certainly ours.
 */
import { spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const NOBODY = 65534;

/** Alive and not a zombie (an exited daemon nobody has reaped yet). */
function running(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

test("qemu:///session starts the per-user daemon when none listens, then connects to it", () => {
  const home = mkdtempSync(join(tmpdir(), "plt-session-"));
  const run = join(home, "run");
  mkdirSync(run, { mode: 0o700 });
  chownSync(home, NOBODY, NOBODY);
  chownSync(run, NOBODY, NOBODY);
  const client = join(__dirname, "..", "..", "bin", "provider", "libvirt", "client.js");
  const script = `
    const { Libvirt } = require(${JSON.stringify(client)});
    (async () => {
      const lv = await Libvirt.connect("qemu:///session");
      console.log(JSON.stringify({ uri: await lv.getUri(), peer: lv.rpc.peer }));
      await lv.close();
    })().catch((e) => { console.error(e.message); process.exit(1); });`;
  try {
    const r = spawnSync(process.execPath, ["-e", script], {
      uid: NOBODY, gid: NOBODY, encoding: "utf8", timeout: 60_000,
      env: { HOME: home, XDG_RUNTIME_DIR: run, PATH: "/usr/sbin:/usr/bin:/bin" },
    });
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual({ uri: "qemu:///session", peer: expect.stringContaining(`${run}/libvirt/`) });
    expect(existsSync(join(run, "libvirt", "libvirtd.pid"))).toBe(true);
  } finally {
    // The daemon would exit by itself after 120 s idle; stop it now, by the pid it wrote in
    // this test's own runtime directory (no other daemon writes there).
    const pidFile = join(run, "libvirt", "libvirtd.pid");
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8").trim()) : 0;
    if (pid > 0) {
      process.kill(pid, "SIGTERM");
      for (let i = 0; i < 100 && running(pid); i++) spawnSync("sleep", ["0.1"]);
    }
    rmSync(home, { recursive: true, force: true });
  }
});
