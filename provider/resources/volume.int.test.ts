/**
 * Volume against the real daemon, through the serialized shim (revive), as the Pulumi host
 * drives it. Each test creates what it needs in this file's own dir pools; afterAll removes
 * every volume, domain, pool and directory, also after failures.
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { checked, closeProviderConnections, failureFor, revive, Revived } from "../../test/provider";
import { rowTest } from "../../test/rows";
import { uniqueName, virsh, virshQuiet } from "../../test/util";

const IMAGES = "/var/lib/libvirt/images";
const MiB = 1024 ** 2;

let p: Revived;
const pools: string[] = [];
const domains: string[] = [];
const tmp = mkdtempSync(join(tmpdir(), "plt-vol-"));
const pool = uniqueName("vol");
let server: Server;
let base: string;

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const run = (cmd: string, ...args: string[]) => execFileSync(cmd, args, { encoding: "utf8" });
const qemuInfo = (path: string) => JSON.parse(run("qemu-img", "info", "--output=json", "-U", path));
function makePool(name: string): string {
  pools.push(name);
  virsh("pool-create-as", name, "dir", "--target", `${IMAGES}/${name}`, "--build");
  return name;
}
function volNames(poolName: string): string[] {
  return virsh("vol-list", poolName).split("\n").map((l) => l.trim().split(/\s+/)[0]).filter(Boolean);
}
const volCapacity = (path: string) => Number(/Capacity:\s+(\d+) bytes/.exec(virsh("vol-info", "--bytes", path))![1]);
function tmpFile(name: string, data: Buffer): string {
  const f = join(tmp, name);
  writeFileSync(f, data);
  return f;
}
/** A qcow2 image whose guest-visible bytes are `data` (then zeros up to the virtual size). */
function qcow2Of(name: string, data: Buffer, virtualSize: string): string {
  const raw = tmpFile(`${name}.raw`, data);
  const out = join(tmp, name);
  run("qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw, out);
  run("qemu-img", "resize", "-q", "-f", "qcow2", out, virtualSize);
  return out;
}
/** The first `length` guest-visible bytes of an image, whatever its format. */
function guestBytes(path: string, length: number): Buffer {
  const out = join(tmp, `${basename(path)}.${randomBytes(3).toString("hex")}.dump`);
  run("qemu-img", "convert", "-q", "-U", "-O", "raw", path, out);
  const b = readFileSync(out).subarray(0, length);
  rmSync(out);
  return b;
}

/** create(), then the two no-op diffs: right after create, and after read. */
async function create(news: Record<string, unknown>): Promise<{ id: string; outs: any; inputs: any }> {
  const inputs = await checked(p, news);
  const { id, outs } = await p.create(inputs);
  expect(await p.diff(id, outs, inputs)).toEqual({ changes: false });
  const r = await p.read(id, outs);
  expect(r.id).toBe(id);
  expect(await p.diff(id, r.props, inputs)).toEqual({ changes: false });
  // and what read says the inputs now are passes check against the user's inputs
  expect((await p.check(r.inputs, news)).failures ?? []).toEqual([]);
  return { id, outs, inputs };
}

const DATA = Buffer.concat([randomBytes(512 * 1024), Buffer.alloc(256 * 1024), randomBytes(256 * 1024)]); // 1 MiB

beforeAll(async () => {
  p = await revive("Volume");
  makePool(pool);
  server = createServer((req, res) => {
    const file = join(tmp, decodeURIComponent((req.url ?? "/").slice(1)).replace(/^cut\//, ""));
    if (!existsSync(file)) {
      res.writeHead(404);
      res.end();
      return;
    }
    const body = readFileSync(file);
    res.writeHead(200, { "content-length": body.length });
    // /cut/<file>: the connection breaks after half the body
    if (req.url!.startsWith("/cut/")) res.write(body.subarray(0, body.length >> 1), () => res.destroy());
    else res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  await closeProviderConnections();
  for (const d of domains) virshQuiet("undefine", d);
  for (const name of pools) {
    for (const v of (() => { try { return volNames(name); } catch { return []; } })()) virshQuiet("vol-delete", "--pool", name, v);
    virshQuiet("pool-destroy", name);
    rmSync(`${IMAGES}/${name}`, { recursive: true, force: true });
  }
  rmSync(tmp, { recursive: true, force: true });
});

describe("blank volumes", () => {
  test("qcow2 by default, capacity in bytes from units, no diff after create or read", async () => {
    const { id, outs } = await create({ pool, name: "blank.qcow2", capacity: "64MiB" });
    expect(id).toBe(`${IMAGES}/${pool}/blank.qcow2`);
    expect(outs).toMatchObject({ key: id, path: id, capacity: 64 * MiB, format: "qcow2", type: "file" });
    expect(typeof outs.allocatedBytes).toBe("number");
    expect(volCapacity(id)).toBe(64 * MiB);
    expect(qemuInfo(id).format).toBe("qcow2");
  });

  test("raw with preallocation and permissions", async () => {
    const { outs } = await create({ pool, name: "blank.raw", format: "raw", capacity: "8MiB", allocation: "2MiB", permissions: { mode: "0640", owner: 0, group: 0 } });
    expect(outs.format).toBe("raw");
    expect(statSync(outs.path).mode & 0o777).toBe(0o640);
    expect(outs.allocatedBytes).toBeGreaterThanOrEqual(2 * MiB);
    expect(statSync(outs.path).size).toBe(8 * MiB);
  });

  test("a name already taken in the pool fails clearly, and the existing volume is left alone", async () => {
    virsh("vol-create-as", pool, "taken.raw", "1M", "--format", "raw");
    const inputs = await checked(p, { pool, name: "taken.raw", capacity: "1MiB" });
    await expect(p.create(inputs)).rejects.toThrow(/already exists in pool .* this stack does not manage it/);
    expect(volNames(pool)).toContain("taken.raw");
  });

  test("a pool that does not exist fails clearly", async () => {
    const inputs = await checked(p, { pool: uniqueName("nopool"), name: "v", capacity: "1MiB" });
    await expect(p.create(inputs)).rejects.toThrow(/storage pool "plt-nopool-[0-9a-f]+" does not exist/);
  });
});

describe("capacity", () => {
  rowTest("growing a raw volume resizes in place and keeps the data", { Volume: ["capacity"] }, async () => {
    const src = tmpFile("grow.raw", DATA);
    const { id, outs, inputs } = await create({ pool, name: "grow.raw", source: { path: src }, capacity: "2MiB" });
    expect(volCapacity(id)).toBe(2 * MiB);
    const next = await checked(p, { pool, name: "grow.raw", source: { path: src }, capacity: "6MiB" }, inputs);
    const d = await p.diff(id, outs, next);
    expect(d).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    const u = await p.update(id, outs, next);
    expect(u.outs.capacity).toBe(6 * MiB);
    expect(volCapacity(id)).toBe(6 * MiB);
    expect(sha(readFileSync(id).subarray(0, DATA.length))).toBe(sha(DATA));
    expect(await p.diff(id, u.outs, next)).toEqual({ changes: false });
  });

  rowTest("growing a qcow2 volume grows its virtual size and keeps the data", { Volume: ["capacity"] }, async () => {
    const img = qcow2Of("grow.qcow2", DATA, "16M");
    const { id, outs, inputs } = await create({ pool, name: "grow.qcow2", source: { path: img } });
    expect(outs.capacity).toBe(16 * MiB);
    const next = await checked(p, { pool, name: "grow.qcow2", source: { path: img }, capacity: "48MiB" }, inputs);
    const u = await p.update(id, outs, next);
    expect(u.outs.capacity).toBe(48 * MiB);
    expect(qemuInfo(id)["virtual-size"]).toBe(48 * MiB);
    expect(sha(guestBytes(id, DATA.length))).toBe(sha(DATA));
  });

  test("shrinking is refused by check, naming capacity", async () => {
    const { inputs } = await create({ pool, name: "noshrink.qcow2", capacity: "32MiB" });
    const reason = await failureFor(p, { pool, name: "noshrink.qcow2", capacity: "16MiB" }, "capacity", inputs);
    expect(reason).toMatch(/shrinking the volume from 32 MiB .* to 16 MiB/);
  });

  test("a capacity set later that is below the live size fails the update, naming capacity, and changes nothing", async () => {
    const img = qcow2Of("later.qcow2", DATA, "16M");
    const { id, outs, inputs } = await create({ pool, name: "later.qcow2", source: { path: img } });
    // capacity was unset (the image's), so check cannot know; the update compares with the live size
    const next = await checked(p, { pool, name: "later.qcow2", source: { path: img }, capacity: "8MiB" }, inputs);
    await expect(p.update(id, outs, next)).rejects.toThrow(/capacity: shrinking the volume from 16 MiB/);
    expect(volCapacity(id)).toBe(16 * MiB);
  });
});

describe("refresh after out-of-band changes", () => {
  test("virsh vol-resize shows up as drift, and shrinking back is then refused; vol-delete reads as gone", async () => {
    const news = { pool, name: "drift.qcow2", capacity: "32MiB" };
    const { id, outs } = await create(news);
    virsh("vol-resize", "--pool", pool, "drift.qcow2", "64M");
    const r = await p.read(id, outs);
    expect(r.props.capacity).toBe(64 * MiB);
    expect(r.inputs.capacity).toBe(64 * MiB);
    const d = await p.diff(id, r.props, await checked(p, news));
    expect(d.changes).toBe(true);
    expect(d.replaces).toEqual([]);
    expect(await failureFor(p, news, "capacity", r.inputs)).toMatch(/shrinking the volume from 64 MiB/);
    // the user accepts the new size: no diff
    expect(await p.diff(id, r.props, await checked(p, { ...news, capacity: "64MiB" }, r.inputs))).toEqual({ changes: false });

    virsh("vol-delete", "--pool", pool, "drift.qcow2");
    expect(await p.read(id, r.props)).toEqual({});
    await p.delete(id, r.props); // deleting what is gone is fine
  });
});

describe("replacements", () => {
  /** The volume a test replaces step by step, as the engine does: delete first only where the diff says so. */
  type Current = { id: string; outs: any; inputs: any };
  async function replaced(cur: Current, news: Record<string, unknown>, field: string, deleteFirst: boolean): Promise<Current> {
    const next = await checked(p, news, cur.inputs);
    expect([field, await p.diff(cur.id, cur.outs, next)]).toEqual([field, { changes: true, replaces: [field], deleteBeforeReplace: deleteFirst }]);
    if (deleteFirst) await p.delete(cur.id, cur.outs);
    const made = await p.create(next);
    if (!deleteFirst) {
      expect([field, existsSync(cur.id)]).toEqual([field, true]);
      await p.delete(cur.id, cur.outs);
    }
    if (made.id !== cur.id) expect([field, existsSync(cur.id)]).toEqual([field, false]);
    return { id: made.id, outs: made.outs, inputs: next };
  }

  rowTest("source, format, name and pool: each makes the new volume (the old one deleted first where the two would collide); qemu-img sees the new content", { Volume: ["source", "format", "name", "pool"] }, async () => {
    const other = makePool(uniqueName("vol2"));
    const data2 = randomBytes(64 * 1024);
    tmpFile("repl.raw", DATA);
    let cur = await create({ pool, name: "repl.raw", source: { path: tmpFile("repl2.raw", data2) } });
    cur = await replaced(cur, { pool, name: "repl.raw", source: { url: `${base}/repl.raw` } }, "source", true);
    expect(guestBytes(cur.id, DATA.length).equals(DATA)).toBe(true);
    cur = await replaced(cur, { pool, name: "repl.raw", source: { url: `${base}/repl.raw`, sha256: sha(DATA) } }, "source", true);
    expect(guestBytes(cur.id, DATA.length).equals(DATA)).toBe(true);

    let blank = await create({ pool, name: "repl-blank", format: "raw", capacity: "1MiB" });
    blank = await replaced(blank, { pool, name: "repl-blank", format: "qcow2", capacity: "1MiB" }, "format", true);
    expect(qemuInfo(blank.id)).toMatchObject({ format: "qcow2", "virtual-size": MiB });
    blank = await replaced(blank, { pool, name: "repl-renamed", format: "qcow2", capacity: "1MiB" }, "name", false);
    expect(volNames(pool)).toContain("repl-renamed");
    expect(volNames(pool)).not.toContain("repl-blank");
    blank = await replaced(blank, { pool: other, name: "repl-renamed", format: "qcow2", capacity: "1MiB" }, "pool", false);
    expect([volNames(other), volNames(pool).includes("repl-renamed")]).toEqual([["repl-renamed"], false]);
    for (const x of [cur, blank]) await p.delete(x.id, x.outs);
  });

  rowTest("backingStore and cloneOf: a different base or original makes the volume again on it", { Volume: ["backingStore", "cloneOf"] }, async () => {
    const data2 = randomBytes(128 * 1024);
    const b = await create({ pool, name: "repl-base.qcow2", source: { path: qcow2Of("repl-base.qcow2", DATA, "16M") } });
    const b2 = await create({ pool, name: "repl-base2.qcow2", source: { path: qcow2Of("repl-base2.qcow2", data2, "16M") } });
    let o = await create({ pool, name: "repl-overlay.qcow2", backingStore: { volume: b.outs.key } });
    o = await replaced(o, { pool, name: "repl-overlay.qcow2", backingStore: { volume: b2.outs.key } }, "backingStore", true);
    expect(qemuInfo(o.id)["backing-filename"]).toBe(b2.outs.path);
    expect(guestBytes(o.id, data2.length).equals(data2)).toBe(true);
    let c = await create({ pool, name: "repl-clone.qcow2", cloneOf: b.outs.key });
    c = await replaced(c, { pool, name: "repl-clone.qcow2", cloneOf: b2.outs.key }, "cloneOf", true);
    expect(guestBytes(c.id, data2.length).equals(data2)).toBe(true);
    expect(qemuInfo(c.id)["backing-filename"]).toBeUndefined();
    for (const x of [o, c, b, b2]) await p.delete(x.id, x.outs);
  });
});

describe("provider-side rows", () => {
  rowTest("allocation and timeoutSeconds after create: an update changes nothing in libvirt or on disk", { Volume: ["allocation", "timeoutSeconds"] }, async () => {
    const { id, outs, inputs } = await create({ pool, name: "side.raw", format: "raw", capacity: "1MiB" });
    const [xml, bytes] = [virsh("vol-dumpxml", id), sha(readFileSync(id))];
    const next = await checked(p, { pool, name: "side.raw", format: "raw", capacity: "1MiB", allocation: "1MiB", timeoutSeconds: 30 }, inputs);
    expect(await p.diff(id, outs, next)).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    const u = await p.update(id, outs, next);
    expect([virsh("vol-dumpxml", id), sha(readFileSync(id))]).toEqual([xml, bytes]);
    expect(await p.diff(id, u.outs, next)).toEqual({ changes: false });
    await p.delete(id, u.outs);
  });
});

describe("permissions", () => {
  rowTest("changing a value is refused by check; adding one the file already has is accepted by update", { Volume: ["permissions"] }, async () => {
    const news = { pool, name: "perm.raw", format: "raw", capacity: "1MiB", permissions: { mode: "0600" } };
    const { id, outs, inputs } = await create(news);
    const reason = await failureFor(p, { ...news, permissions: { mode: "0644" } }, "permissions", inputs);
    expect(reason).toMatch(/cannot change a volume's permissions.*chmod 0644/);
    const owner = statSync(id).uid;
    const next = await checked(p, { ...news, permissions: { mode: "0600", owner } }, inputs);
    const u = await p.update(id, outs, next);
    expect(u.outs.permissions).toEqual({ mode: "0600", owner });
    const wrong = await checked(p, { ...news, permissions: { mode: "0600", group: 4242 } }, inputs);
    await expect(p.update(id, outs, wrong)).rejects.toThrow(/has group 0.*chown :4242/);
  });
});

describe("delete", () => {
  test("refused while a shut-off domain uses the volume (by path or as pool/volume), naming the domain; fine after", async () => {
    const { id, outs } = await create({ pool, name: "inuse.qcow2", capacity: "16MiB" });
    const other = await create({ pool, name: "inuse2.raw", format: "raw", capacity: "1MiB" });
    const dom = uniqueName("voldom");
    const xml = tmpFile(`${dom}.xml`, Buffer.from(`<domain type='qemu'><name>${dom}</name><memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os><devices>
      <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${id}'/><target dev='vda' bus='virtio'/></disk>
      <disk type='volume' device='disk'><driver name='qemu' type='raw'/><source pool='${pool}' volume='inuse2.raw'/><target dev='vdb' bus='virtio'/></disk>
    </devices></domain>`));
    virsh("define", xml);
    domains.push(dom);
    await expect(p.delete(id, outs)).rejects.toThrow(new RegExp(`in use by domain "${dom}" \\(shut off; disk vda\\)`));
    await expect(p.delete(other.id, other.outs)).rejects.toThrow(new RegExp(`domain "${dom}" \\(shut off; disk vdb\\)`));
    expect(existsSync(id)).toBe(true);
    virsh("undefine", dom);
    await p.delete(id, outs);
    await p.delete(other.id, other.outs);
    expect(existsSync(id)).toBe(false);
    expect(volNames(pool)).not.toContain("inuse.qcow2");
  });

  test("refused while a running domain uses it, also only through its disk's backing chain (base in another pool)", async () => {
    const basePool = makePool(uniqueName("volbase"));
    const b = await create({ pool: basePool, name: "run-base.qcow2", capacity: "16MiB" });
    const o = await create({ pool, name: "run-overlay.qcow2", backingStore: { volume: b.outs.key } });
    const dom = uniqueName("voldomrun");
    domains.push(dom);
    const xml = tmpFile(`${dom}.xml`, Buffer.from(`<domain type='qemu'><name>${dom}</name><memory unit='MiB'>32</memory><os><type arch='x86_64'>hvm</type></os><devices>
      <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${o.id}'/><target dev='vda' bus='virtio'/></disk>
    </devices></domain>`));
    try {
      virsh("create", xml); // transient and running: only live XML exists
      await expect(p.delete(o.id, o.outs)).rejects.toThrow(new RegExp(`domain "${dom}" \\(running; disk vda\\)`));
      await expect(p.delete(b.id, b.outs)).rejects.toThrow(new RegExp(`domain "${dom}" \\(running; disk vda\\)`));
    } finally {
      virshQuiet("destroy", dom);
    }
    await p.delete(o.id, o.outs);
    await p.delete(b.id, b.outs);
    expect(existsSync(b.id)).toBe(false);
  });

  test("refused while an overlay in the pool uses it as its backing store", async () => {
    const b = await create({ pool, name: "del-base.qcow2", capacity: "16MiB" });
    virsh("vol-create-as", pool, "del-overlay.qcow2", "16M", "--format", "qcow2", "--backing-vol", b.id, "--backing-vol-format", "qcow2");
    await expect(p.delete(b.id, b.outs)).rejects.toThrow(/volume "del-overlay.qcow2" \(an overlay whose backing store it is\)/);
    virsh("vol-delete", "--pool", pool, "del-overlay.qcow2");
    await p.delete(b.id, b.outs);
  });
});

describe("content", () => {
  test("raw from a local file: bytes, capacity = size", async () => {
    const src = tmpFile("c.raw", DATA);
    const { outs } = await create({ pool, name: "c.raw", source: { path: src, sha256: sha(DATA) } });
    expect(outs).toMatchObject({ format: "raw", capacity: DATA.length });
    expect(sha(readFileSync(outs.path))).toBe(sha(DATA));
  });

  test("raw from a local file with a larger capacity", async () => {
    const src = tmpFile("c-big.raw", DATA);
    const { outs } = await create({ pool, name: "c-big.raw", source: { path: src }, capacity: "4MiB" });
    expect(outs.capacity).toBe(4 * MiB);
    expect(sha(readFileSync(outs.path).subarray(0, DATA.length))).toBe(sha(DATA));
  });

  test("qcow2 from a local file: the image's own virtual size; byte-identical file", async () => {
    const img = qcow2Of("c.qcow2", DATA, "24M");
    const { outs } = await create({ pool, name: "c.qcow2", source: { path: img } });
    expect(outs).toMatchObject({ format: "qcow2", capacity: 24 * MiB });
    expect(sha(readFileSync(outs.path))).toBe(sha(readFileSync(img)));
    run("qemu-img", "check", "-q", "-U", outs.path);
  });

  test("qcow2 with a larger capacity is grown after the upload", async () => {
    const img = qcow2Of("c-grow.qcow2", DATA, "16M");
    const { outs } = await create({ pool, name: "c-grow.qcow2", source: { path: img }, capacity: "40MiB" });
    expect(outs.capacity).toBe(40 * MiB);
    expect(sha(guestBytes(outs.path, DATA.length))).toBe(sha(DATA));
  });

  test("gzip-compressed raw and qcow2 (gzip CLI), checksum of the .gz file", async () => {
    const raw = tmpFile("gz.raw", DATA);
    run("gzip", "-k", "-f", raw);
    const a = await create({ pool, name: "gz.raw", source: { path: raw + ".gz", sha256: sha(readFileSync(raw + ".gz")) } });
    expect(a.outs).toMatchObject({ format: "raw", capacity: DATA.length });
    expect(sha(readFileSync(a.outs.path))).toBe(sha(DATA));

    const img = qcow2Of("gz.qcow2", DATA, "16M");
    run("gzip", "-k", "-f", img);
    const b = await create({ pool, name: "gz.qcow2", source: { path: img + ".gz", compression: "gzip" } });
    expect(b.outs).toMatchObject({ format: "qcow2", capacity: 16 * MiB });
    expect(sha(readFileSync(b.outs.path))).toBe(sha(readFileSync(img)));
  });

  test("xz-compressed raw and qcow2 (xz CLI)", async () => {
    const raw = tmpFile("xz.raw", DATA);
    run("xz", "-k", "-f", raw);
    const a = await create({ pool, name: "xz.raw", source: { path: raw + ".xz" } });
    expect(a.outs).toMatchObject({ format: "raw", capacity: DATA.length });
    expect(sha(readFileSync(a.outs.path))).toBe(sha(DATA));

    const img = qcow2Of("xz.qcow2", DATA, "16M");
    run("xz", "-k", "-f", "-T2", img);
    const b = await create({ pool, name: "xz.qcow2", source: { path: img + ".xz", sha256: sha(readFileSync(img + ".xz")) } });
    expect(b.outs).toMatchObject({ format: "qcow2", capacity: 16 * MiB });
    expect(sha(guestBytes(b.outs.path, DATA.length))).toBe(sha(DATA));
  });

  test("an ISO image lands as raw data; libvirt calls it iso, and format: raw causes no diff", async () => {
    const iso = Buffer.alloc(64 * 1024);
    iso.write("CD001", 0x8001, "latin1");
    const src = tmpFile("c.iso", iso);
    const a = await create({ pool, name: "c.iso", source: { path: src } });
    expect(a.outs.format).toBe("iso");
    const b = await create({ pool, name: "c2.iso", format: "raw", source: { path: src } });
    expect(b.outs.format).toBe("raw");
  });

  test("from an http URL, with and without compression, checksum ok", async () => {
    tmpFile("h.raw", DATA);
    const a = await create({ pool, name: "h.raw", source: { url: `${base}/h.raw`, sha256: sha(DATA) } });
    expect(sha(readFileSync(a.outs.path))).toBe(sha(DATA));
    const img = qcow2Of("h.qcow2", DATA, "16M");
    run("xz", "-k", "-f", img);
    const b = await create({ pool, name: "h.qcow2", source: { url: `${base}/h.qcow2.xz` } });
    expect(b.outs).toMatchObject({ format: "qcow2", capacity: 16 * MiB });
  });

  test("checksum mismatch: create fails and no volume remains (file and URL)", async () => {
    const src = tmpFile("bad.raw", DATA);
    const inputs = await checked(p, { pool, name: "bad.raw", source: { path: src, sha256: "0".repeat(64) } });
    await expect(p.create(inputs)).rejects.toThrow(new RegExp(`sha256 of .*bad.raw is ${sha(DATA)}, not the expected 0{64}`));
    expect(volNames(pool)).not.toContain("bad.raw");
    expect(existsSync(`${IMAGES}/${pool}/bad.raw`)).toBe(false);

    const gz = tmpFile("bad2.raw", DATA);
    run("gzip", "-k", "-f", gz);
    const viaUrl = await checked(p, { pool, name: "bad2.raw", source: { url: `${base}/bad2.raw.gz`, sha256: sha(DATA) /* of the decompressed bytes: wrong */ } });
    await expect(p.create(viaUrl)).rejects.toThrow(/not the expected/);
    expect(volNames(pool)).not.toContain("bad2.raw");
  });

  test("a transfer that breaks off midway leaves nothing; a re-run converges", async () => {
    tmpFile("cut.raw", Buffer.concat([DATA, DATA, DATA, DATA]));
    const cut = await checked(p, { pool, name: "cut.raw", source: { url: `${base}/cut/cut.raw` } });
    await expect(p.create(cut)).rejects.toThrow(/transfer broke off|ended after/);
    expect(volNames(pool)).not.toContain("cut.raw");
    await create({ pool, name: "cut.raw", source: { url: `${base}/cut.raw` } });
  });

  test("content that contradicts format, or an image larger than capacity, fails before anything is left", async () => {
    const src = tmpFile("mismatch.raw", DATA);
    await expect(p.create(await checked(p, { pool, name: "mm1", format: "qcow2", source: { path: src } }))).rejects.toThrow(/format is "qcow2", but .* holds raw data/);
    const img = qcow2Of("mismatch.qcow2", DATA, "16M");
    await expect(p.create(await checked(p, { pool, name: "mm2", format: "raw", source: { path: img } }))).rejects.toThrow(/format is "raw", but .* is a qcow2 image/);
    await expect(p.create(await checked(p, { pool, name: "mm3", source: { path: img }, capacity: "8MiB" }))).rejects.toThrow(/smaller than the virtual size/);
    await expect(p.create(await checked(p, { pool, name: "mm4", source: { path: src }, capacity: "512KiB" }))).rejects.toThrow(/smaller than the image/);
    // compressed, so the size is unknown up front: the upload stops at the capacity
    run("gzip", "-k", "-f", src);
    await expect(p.create(await checked(p, { pool, name: "mm5", source: { path: src + ".gz" }, capacity: "512KiB" }))).rejects.toThrow(/larger than the volume's capacity/);
    for (const n of ["mm1", "mm2", "mm3", "mm4", "mm5"]) expect(volNames(pool)).not.toContain(n);
  });
});

describe("overlays and clones", () => {
  test("a backing-store overlay larger than its base; capacity defaults to the base's; by key or by path", async () => {
    const img = qcow2Of("base.qcow2", DATA, "16M");
    const b = await create({ pool, name: "base.qcow2", source: { path: img } });
    const o = await create({ pool, name: "overlay.qcow2", backingStore: { volume: b.outs.key }, capacity: "64MiB" });
    expect(o.outs).toMatchObject({ format: "qcow2", capacity: 64 * MiB, backingStorePath: b.outs.path });
    const info = qemuInfo(o.outs.path);
    expect(info["backing-filename"]).toBe(b.outs.path);
    expect(info["virtual-size"]).toBe(64 * MiB);
    expect(sha(guestBytes(o.outs.path, DATA.length))).toBe(sha(DATA));

    const o2 = await create({ pool, name: "overlay2.qcow2", backingStore: { volume: b.outs.path, format: "qcow2" } });
    expect(o2.outs.capacity).toBe(16 * MiB);
    const small = await checked(p, { pool, name: "overlay3.qcow2", backingStore: { volume: b.outs.key }, capacity: "8MiB" });
    await expect(p.create(small)).rejects.toThrow(/smaller than the base volume's/);
    const wrongFormat = await checked(p, { pool, name: "overlay4.qcow2", backingStore: { volume: b.outs.key, format: "raw" } });
    await expect(p.create(wrongFormat)).rejects.toThrow(/backingStore.format is "raw", but the base volume .* is qcow2/);
    const missing = await checked(p, { pool, name: "overlay5.qcow2", backingStore: { volume: "/nope/x.qcow2" } });
    await expect(p.create(missing)).rejects.toThrow(/not a volume on this host/);
  });

  test("a clone has the original's content; a larger capacity grows it", async () => {
    const img = qcow2Of("orig.qcow2", DATA, "16M");
    const b = await create({ pool, name: "orig.qcow2", source: { path: img } });
    const c = await create({ pool, name: "clone.qcow2", cloneOf: b.outs.key });
    expect(c.outs).toMatchObject({ format: "qcow2", capacity: 16 * MiB });
    expect(c.outs.backingStorePath).toBeUndefined();
    expect(sha(guestBytes(c.outs.path, DATA.length))).toBe(sha(DATA));
    const big = await create({ pool, name: "clone-big.raw", cloneOf: b.outs.path, format: "raw", capacity: "32MiB" });
    expect(big.outs).toMatchObject({ format: "raw", capacity: 32 * MiB });
    expect(sha(readFileSync(big.outs.path).subarray(0, DATA.length))).toBe(sha(DATA));
  });
});

describe("concurrency", () => {
  test("20 volumes created concurrently in one pool (blank, uploaded, gzip): all succeed, then all deleted concurrently", async () => {
    const many = makePool(uniqueName("vol20"));
    const src = tmpFile("many.raw", DATA);
    run("gzip", "-k", "-f", src);
    const news = Array.from({ length: 20 }, (_, i) => ({
      pool: many,
      name: `v${i}`,
      ...(i % 3 === 0 ? { capacity: "16MiB" } : i % 3 === 1 ? { source: { path: src, sha256: sha(DATA) } } : { source: { path: src + ".gz" } }),
    }));
    const t0 = Date.now();
    const made = await Promise.all(news.map(async (n) => {
      const inputs = await checked(p, n);
      return { inputs, ...(await p.create(inputs)) };
    }));
    console.log(`20 concurrent creates: ${Date.now() - t0} ms`);
    expect(volNames(many).sort()).toEqual(news.map((n) => n.name).sort());
    for (const m of made) {
      expect(await p.diff(m.id, m.outs, m.inputs)).toEqual({ changes: false });
      if (m.inputs.source) expect(sha(readFileSync(m.outs.path))).toBe(sha(DATA));
    }
    const t1 = Date.now();
    await Promise.all(made.map((m) => p.delete(m.id, m.outs)));
    console.log(`20 concurrent deletes: ${Date.now() - t1} ms`);
    expect(volNames(many)).toEqual([]);
  });
});
