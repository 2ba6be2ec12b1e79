/**
 * The connection itself against the real daemon: many calls in flight at once, keepalive over an
 * idle pause, close semantics, and a daemon that goes away (and comes back) while we are connected.
 *
 * The restart test kills and restarts the shared libvirtd (started by hand with `libvirtd -d`, no
 * systemd here). It keeps the daemon down as briefly as it can and afterAll makes sure it runs
 * again whatever happened.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { Readable } from "node:stream";
import { alive, awaitDaemon, rejection, sleep, TEST_URI, uniqueName, virshPools, virshQuiet, vsh, waitFor } from "../../test/util";
import { daemonPid, startDaemon } from "../../test/daemon";
import { Libvirt, StoragePoolRef } from "./client";
import { ErrorCode, isConnectionLost, isNotFound, LibvirtError } from "./errors";
import { Keepalive } from "./protocol";

jest.setTimeout(120_000);

const IMAGES = "/var/lib/libvirt/images";
const VIR_ERR_OPERATION_DENIED = 29;
const SOCKET = "/var/run/libvirt/libvirt-sock";



// ---- the daemon process

let lv: Libvirt | undefined;
const pools: string[] = [];

afterAll(async () => {
  // whatever happened, leave a running (and not frozen) daemon behind: other tests need it
  const pid = daemonPid();
  if (pid !== undefined) process.kill(pid, "SIGCONT");
  await startDaemon();
  await lv?.close();
  for (const p of pools) {
    const vols = await vsh("vol-list", "--pool", p).catch(() => ""); // virsh 9.0's vol-list has no --name
    for (const v of vols.split("\n").map((s) => s.trim().split(/\s+/)[0]).filter(Boolean)) virshQuiet("vol-delete", "--pool", p, v);
    virshQuiet("pool-destroy", p);
    virshQuiet("pool-delete", p);
    virshQuiet("pool-undefine", p);
    rmSync(`${IMAGES}/${p}`, { recursive: true, force: true });
  }
}, 120_000);

async function makePool(c: Libvirt): Promise<StoragePoolRef> {
  const name = uniqueName("cpool");
  pools.push(name);
  const pool = await c.storagePoolDefineXml(`<pool type='dir'><name>${name}</name><target><path>${IMAGES}/${name}</path></target></pool>`);
  await c.storagePoolBuild(pool);
  await c.storagePoolCreate(pool);
  return pool;
}

// ---------------------------------------------------------------------------------------------

describe("one connection, many calls", () => {
  test("50 concurrent calls of different kinds all settle, each with its own result", async () => {
    lv = await Libvirt.connect(TEST_URI);
    const pool = await makePool(lv);
    const N = 50;
    // 50 volume creations in flight at once, each with its own size
    const size = (i: number) => (i + 1) * 4096;
    const created = await Promise.all(Array.from({ length: N }, (_, i) => lv!.storageVolCreateXml(pool,
      `<volume><name>v${i}.raw</name><capacity unit='bytes'>${size(i)}</capacity><target><format type='raw'/></target></volume>`)));
    created.forEach((v, i) => expect(v.name).toBe(`v${i}.raw`));

    // then 50 lookups, 50 getInfo and 50 getPath, interleaved with 10 lookups that must fail and
    // a few connection-level calls, all in flight together
    const missing = Array.from({ length: 10 }, (_, i) => `${uniqueName("nope")}-${i}`);
    const lookups = created.map((v) => lv!.storageVolLookupByName(pool, v.name));
    const infos = created.map((v) => lv!.storageVolGetInfo(v));
    const paths = created.map((v) => lv!.storageVolGetPath(v));
    const failures = missing.map((m) => lv!.storageVolLookupByName(pool, m).then(() => undefined, (e: unknown) => e));
    const [type, hostname, uri] = [lv.getType(), lv.getHostname(), lv.getUri()];

    const [l, inf, p, f] = await Promise.all([Promise.all(lookups), Promise.all(infos), Promise.all(paths), Promise.all(failures)]);
    for (let i = 0; i < N; i++) {
      expect(l[i]).toEqual(created[i]);
      expect(inf[i].capacity).toBe(size(i));
      expect(p[i]).toBe(`${IMAGES}/${pool.name}/v${i}.raw`);
    }
    f.forEach((e, i) => {
      expect(isNotFound(e)).toBe(true);
      expect((e as LibvirtError).message).toContain(missing[i]);
    });
    expect(await type).toBe("QEMU");
    expect(await hostname).toBe((await vsh("hostname")).trim());
    expect(await uri).toBe("qemu:///system");

    // and 50 deletions at once
    await Promise.all(created.map((v) => lv!.storageVolDelete(v)));
    expect((await lv.storagePoolListVolumes(pool)).length).toBe(0);
    expect((await vsh("vol-list", "--pool", pool.name)).trim()).toBe("");
  });

  test("keepalive: an idle connection survives a pause longer than interval x count", async () => {
    const c = await Libvirt.connect(TEST_URI, { keepaliveInterval: 1, keepaliveCount: 3 });
    try {
      expect(c.features.keepalive).toBe(true);
      // without answered pings the client would declare the daemon dead after 3 s of silence
      await sleep(4500);
      expect(c.closed).toBe(false);
      expect(await c.getType()).toBe("QEMU");
      expect(await c.getHostname()).toBe((await vsh("hostname")).trim());
    } finally {
      await c.close();
    }
  });

  test("close() twice is safe; calls after close reject with a LibvirtError", async () => {
    const c = await Libvirt.connect(TEST_URI);
    expect(await c.getType()).toBe("QEMU");
    await c.close();
    expect(c.closed).toBe(true);
    await c.close();
    expect(c.closed).toBe(true);
    const e = await rejection(c.getType());
    expect(e.code).toBe(ErrorCode.NO_CONNECT);
    expect(e.message).toMatch(/closed by the client/);
    expect(e.message).toContain(SOCKET);
    // streams too
    const e2 = await rejection(c.storageVolUpload({ pool: "p", name: "v", key: "k" }, Readable.from([Buffer.alloc(1)])));
    expect(e2.code).toBe(ErrorCode.NO_CONNECT);
  });

  test("a read-only connection reads, and is refused writes", async () => {
    const c = await Libvirt.connect(TEST_URI, { readOnly: true });
    try {
      expect(await c.getType()).toBe("QEMU");
      expect((await c.listAllStoragePools()).map((p) => p.name).sort()).toEqual(virshPools());
      const e = await rejection(c.storagePoolDefineXml(`<pool type='dir'><name>${uniqueName("ro")}</name><target><path>/nonexistent</path></target></pool>`));
      expect(e.code).toBe(VIR_ERR_OPERATION_DENIED);
      expect(e.message).toMatch(/read only|read-only/i);
    } finally {
      await c.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe("the daemon goes away", () => {
  test("keepalive declares a daemon that stops answering (SIGSTOP) dead, naming the socket", async () => {
    const c = await Libvirt.connect(TEST_URI, { keepaliveInterval: 1, keepaliveCount: 2 });
    const pid = daemonPid();
    expect(pid).toBeDefined();
    // What the client sends while it waits: a ping after one silent interval, before giving up
    // at interval*count. (How long detection takes is measured in bench/run.ts, not asserted.)
    const sent: number[] = [];
    const rpc = c.rpc as unknown as { sendKeepalive(proc: number): void };
    const send = rpc.sendKeepalive.bind(rpc);
    rpc.sendKeepalive = (proc) => { if (proc === Keepalive.PING) sent.push(proc); send(proc); };
    let pingsBeforeClose = -1;
    const closed = new Promise<LibvirtError>((resolve) => c.rpc.once("closed", (e) => { pingsBeforeClose = sent.length; resolve(e); }));
    process.kill(pid!, "SIGSTOP"); // frozen, not gone: the socket stays open, nothing answers
    let why: LibvirtError;
    try {
      why = await Promise.race([closed, sleep(30_000).then(() => { throw new Error("keepalive never fired"); })]);
    } finally {
      process.kill(pid!, "SIGCONT");
    }
    expect(pingsBeforeClose).toBeGreaterThanOrEqual(1);
    expect(isConnectionLost(why)).toBe(true);
    expect(why.message).toMatch(/no answer to keepalive/);
    expect(why.message).toContain(SOCKET);
    const e = await rejection(c.getType());
    expect(isConnectionLost(e)).toBe(true);
    await c.close();
    // the thawed daemon serves a new connection
    const fresh = await Libvirt.connect(TEST_URI);
    expect(await fresh.getType()).toBe("QEMU");
    await fresh.close();
  });

  test("a daemon restart: pending and later calls reject as connection lost, naming the socket; a new connection works", async () => {
    const c = await Libvirt.connect(TEST_URI);
    let slowTimer: NodeJS.Timeout | undefined;
    try {
      const pool = await makePool(c);
      const vol = await c.storageVolCreateXml(pool,
        `<volume><name>pending.raw</name><capacity unit='bytes'>${64 * 1024 * 1024}</capacity><target><format type='raw'/></target></volume>`);
      // an upload that is still going when the daemon dies: 64 KiB every 50 ms, forever
      const slow = new Readable({
        read() {
          slowTimer = setTimeout(() => this.push(Buffer.alloc(64 * 1024, 7)), 50);
        },
      });
      let progressed = 0;
      const pending = c.storageVolUpload(vol, slow, { onProgress: (n) => { progressed = n; } });
      pending.catch(() => undefined);
      await waitFor(() => progressed >= 256 * 1024, "the upload to be under way");

      const pid = daemonPid();
      expect(pid).toBeDefined();
      if (existsSync("/var/run/libvirtd.pid")) expect(Number(readFileSync("/var/run/libvirtd.pid", "utf8").trim())).toBe(pid);
      const closed = new Promise<LibvirtError>((resolve) => c.rpc.once("closed", resolve));
      const killedAt = Date.now();
      process.kill(pid!, "SIGTERM");
      try {
        // the client notices on its own, without a call being made
        const why = await closed;
        expect(isConnectionLost(why)).toBe(true);
        expect(c.closed).toBe(true);

        // the pending upload rejects as connection lost, naming the socket
        const e = await rejection(pending);
        expect(isConnectionLost(e)).toBe(true);
        expect(e.code).toBe(ErrorCode.NO_CONNECT);
        expect(e.message).toContain(SOCKET);
        expect(e.message).toMatch(/lost connection|closed/);
        expect(slow.destroyed).toBe(true);

        // and so does the next call, at once
        const next = await rejection(c.getType());
        expect(isConnectionLost(next)).toBe(true);
        expect(next.message).toContain(SOCKET);

        // a new connection while the daemon is down fails cleanly too (once the old one is gone)
        await waitFor(() => !alive(pid!), "the old libvirtd to exit", 60_000);
        // (unless someone else has restarted it already: other test runs share this daemon)
        if (daemonPid() === undefined) {
          const down = await rejection(Libvirt.connect(TEST_URI));
          expect(down.code).toBe(ErrorCode.NO_CONNECT);
          expect(down.message).toContain(SOCKET); // absent, or present but refusing (stale)
          expect(down.message).toMatch(/libvirtd -d/);
          console.log(`while down: ${down.message}`);
        }
      } finally {
        if (alive(pid!)) await waitFor(() => !alive(pid!), "the old libvirtd to exit", 60_000).catch(() => process.kill(pid!, "SIGKILL"));
        await startDaemon();
        console.log(`libvirtd was down for ${Date.now() - killedAt} ms`);
      }

      // a new connection works, and sees what was there before
      const fresh = await Libvirt.connect(TEST_URI);
      try {
        expect(await fresh.getType()).toBe("QEMU");
        const p = await fresh.storagePoolLookupByName(pool.name);
        expect(await fresh.storagePoolIsActive(p)).toBe(true);
        const v = await fresh.storageVolLookupByName(p, "pending.raw");
        expect((await fresh.storageVolGetInfo(v)).capacity).toBe(64 * 1024 * 1024);
      } finally {
        await fresh.close();
      }
    } finally {
      clearTimeout(slowTimer);
      await c.close();
    }
  });
});
