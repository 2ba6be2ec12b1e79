import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildIso } from "./iso9660";

const SECTOR = 2048;

// Deterministic pseudo-random bytes (no Math.random: failures must reproduce).
function bytes(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

const seed = [
  { name: "user-data", data: Buffer.from("#cloud-config\nhostname: test\n") },
  { name: "meta-data", data: Buffer.from("instance-id: iid-1\nlocal-hostname: test\n") },
  { name: "network-config", data: bytes(5 * 1024) }, // 5 KiB: spans three sectors
  { name: "vendor-data", data: Buffer.alloc(0) }, // empty file
];

// Enough long names that both root directories need several sectors.
const many = Array.from({ length: 40 }, (_, i) => ({
  name: `file-${String(i).padStart(2, "0")}-with-a-rather-long-name.yaml`,
  data: bytes(i * 700, i + 7), // 0 B .. ~27 KiB
}));

interface Rec { name: Buffer; extent: number; size: number; flags: number; sysUse: Buffer }

/** Minimal reader for root directory records (ECMA-119 9.1), for white-box checks. */
function readRoot(img: Buffer, vdSector: number): Rec[] {
  const vd = img.subarray(vdSector * SECTOR);
  const extent = vd.readUInt32LE(156 + 2);
  const size = vd.readUInt32LE(156 + 10);
  const out: Rec[] = [];
  for (let s = 0; s < size / SECTOR; s++) {
    const sec = img.subarray((extent + s) * SECTOR, (extent + s + 1) * SECTOR);
    for (let o = 0; o < SECTOR && sec[o] !== 0; o += sec[o]) {
      const r = sec.subarray(o, o + sec[o]);
      const lenFi = r[32];
      const head = 33 + lenFi + (lenFi % 2 === 0 ? 1 : 0);
      // Both-endian fields must agree (7.2.3 / 7.3.3).
      expect(r.readUInt32BE(6)).toBe(r.readUInt32LE(2));
      expect(r.readUInt32BE(14)).toBe(r.readUInt32LE(10));
      out.push({ name: Buffer.from(r.subarray(33, 33 + lenFi)), extent: r.readUInt32LE(2),
        size: r.readUInt32LE(10), flags: r[25], sysUse: Buffer.from(r.subarray(head)) });
    }
  }
  return out;
}

describe("buildIso structure", () => {
  const img = buildIso(seed, { volumeId: "cidata" });

  test("volume descriptors, sizes and path tables", () => {
    expect(img.length % SECTOR).toBe(0);
    expect(img.subarray(0, 16 * SECTOR).equals(Buffer.alloc(16 * SECTOR))).toBe(true);
    const pvd = img.subarray(16 * SECTOR, 17 * SECTOR);
    const svd = img.subarray(17 * SECTOR, 18 * SECTOR);
    expect(pvd[0]).toBe(1);
    expect(pvd.toString("ascii", 1, 6)).toBe("CD001");
    expect(pvd.toString("ascii", 40, 72)).toBe("cidata".padEnd(32));
    expect(svd[0]).toBe(2);
    expect(svd.toString("ascii", 88, 91)).toBe("%/E");
    expect(Buffer.from(svd.subarray(40, 72)).swap16().toString("utf16le")).toBe("cidata".padEnd(16));
    expect(img.subarray(18 * SECTOR, 18 * SECTOR + 7).equals(Buffer.from("\xffCD001\x01", "latin1"))).toBe(true);
    for (const vd of [pvd, svd]) {
      expect(vd.readUInt32LE(80)).toBe(img.length / SECTOR);
      expect(vd.readUInt32BE(84)).toBe(img.length / SECTOR);
      expect(vd.readUInt16LE(128)).toBe(SECTOR);
      expect(vd.readUInt16BE(130)).toBe(SECTOR);
      expect(vd.toString("ascii", 813, 829)).toBe("2000010100000000");
      // L path table (LE) and M path table (BE) both point at this tree's root.
      const root = vd.readUInt32LE(158);
      const l = img.subarray(vd.readUInt32LE(140) * SECTOR);
      const m = img.subarray(vd.readUInt32BE(148) * SECTOR);
      expect([l[0], l.readUInt32LE(2), l.readUInt16LE(6), l[8]]).toEqual([1, root, 1, 0]);
      expect([m[0], m.readUInt32BE(2), m.readUInt16BE(6), m[8]]).toEqual([1, root, 1, 0]);
    }
  });

  test("primary names are 8.3 with Rock Ridge NM, file data in place", () => {
    const recs = readRoot(img, 16);
    expect(recs.map((r) => r.name.toString("latin1"))).toEqual(
      ["\x00", "\x01", "META_DAT.;1", "NETWORK_.;1", "USER_DAT.;1", "VENDOR_D.;1"]);
    expect(recs[0].sysUse.subarray(0, 7).equals(Buffer.from([0x53, 0x50, 7, 1, 0xbe, 0xef, 0]))).toBe(true);
    for (const r of recs.slice(2)) {
      const i = r.sysUse.indexOf("NM");
      const realName = r.sysUse.toString("ascii", i + 5, i + r.sysUse[i + 2]);
      const f = seed.find((s) => s.name === realName)!;
      expect(r.size).toBe(f.data.length);
      expect(img.subarray(r.extent * SECTOR, r.extent * SECTOR + r.size).equals(f.data)).toBe(true);
    }
  });

  test("empty file has extent 0 and size 0", () => {
    const j = readRoot(img, 17).slice(2).find((r) => Buffer.from(r.name).swap16().toString("utf16le") === "vendor-data")!;
    expect([j.extent, j.size]).toEqual([0, 0]);
    const p = readRoot(img, 16).find((r) => r.name.toString("ascii") === "VENDOR_D.;1")!;
    expect([p.extent, p.size]).toEqual([0, 0]);
  });

  test("directories spanning several sectors keep every record whole (6.8.1.1)", () => {
    const big = buildIso(many, { volumeId: "cidata" });
    for (const vd of [16, 17]) {
      expect(big.readUInt32LE(vd * SECTOR + 156 + 10)).toBeGreaterThan(SECTOR);
      expect(readRoot(big, vd).length).toBe(many.length + 2);
    }
  });

  test("name collisions are mangled to unique primary names", () => {
    const names = readRoot(buildIso([
      { name: "user-data", data: Buffer.from("a") },
      { name: "user-datb", data: Buffer.from("b") },
      { name: "USER_DAT", data: Buffer.from("c") },
    ], { volumeId: "cidata" }), 16).slice(2).map((r) => r.name.toString("ascii"));
    expect(new Set(names).size).toBe(3);
    for (const n of names) expect(n).toMatch(/^[A-Z0-9_]{1,8}\.[A-Z0-9_]{0,3};1$/);
  });
});

describe("buildIso determinism", () => {
  test("same inputs give identical bytes, independent of input order", () => {
    const a = buildIso(seed, { volumeId: "cidata" });
    const b = buildIso([...seed].reverse().map((f) => ({ name: f.name, data: Buffer.from(f.data) })), { volumeId: "cidata" });
    expect(a.equals(b)).toBe(true);
  });

  test("date option and content changes alter the image", () => {
    const a = buildIso(seed, { volumeId: "cidata" });
    expect(a.equals(buildIso(seed, { volumeId: "cidata", date: new Date(Date.UTC(2000, 0, 1)) }))).toBe(true);
    expect(a.equals(buildIso(seed, { volumeId: "cidata", date: new Date(Date.UTC(2024, 5, 1)) }))).toBe(false);
    const changed = seed.map((f) => (f.name === "user-data" ? { ...f, data: Buffer.from("#cloud-config\n") } : f));
    expect(a.equals(buildIso(changed, { volumeId: "cidata" }))).toBe(false);
  });
});

describe("buildIso validation", () => {
  const ok = { name: "user-data", data: Buffer.from("x") };
  test.each([
    [[{ name: "", data: Buffer.alloc(0) }], "cidata", /invalid file name ""/],
    [[{ name: "a".repeat(65), data: Buffer.alloc(0) }], "cidata", /1-64 characters/],
    [[{ name: "dir/user-data", data: Buffer.alloc(0) }], "cidata", /only \[A-Za-z0-9._-\]/],
    [[{ name: "..", data: Buffer.alloc(0) }], "cidata", /not "\." or "\.\."/],
    [[ok, ok], "cidata", /duplicate file name "user-data"/],
    [[ok], "", /invalid volumeId/],
    [[ok], "a".repeat(17), /invalid volumeId/],
    [[ok], "ci data", /invalid volumeId/],
  ])("rejects %#", (files, volumeId, msg) => {
    expect(() => buildIso(files, { volumeId })).toThrow(msg);
  });
  test("rejects bad data and dates", () => {
    expect(() => buildIso([{ name: "x", data: "s" as unknown as Buffer }], { volumeId: "cidata" })).toThrow(/must be a Buffer/);
    expect(() => buildIso([ok], { volumeId: "cidata", date: new Date(NaN) })).toThrow(/invalid date/);
    expect(() => buildIso([ok], { volumeId: "cidata", date: new Date(Date.UTC(1899, 0, 1)) })).toThrow(/invalid date/);
  });
  test("accepts 64-char names and no files", () => {
    expect(() => buildIso([{ name: "a".repeat(64), data: Buffer.from("x") }], { volumeId: "CIDATA" })).not.toThrow();
    expect(buildIso([], { volumeId: "cidata" }).length % SECTOR).toBe(0);
  });
});

// --- Cross-checks with independent readers (Debian: genisoimage, util-linux; .ci/run installs them) ---

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { maxBuffer: 64 << 20 });

/** Parse `isoinfo -l` lines: "... <size> <Mon> <dd> <yyyy> [ <extent> <flags>]  <name> ". */
function listing(out: string): Map<string, { size: number; extent: number }> {
  const m = new Map<string, { size: number; extent: number }>();
  for (const line of out.split("\n")) {
    const r = /\s(\d+)\s+\w{3}\s+\d+\s+\d{4}\s+\[\s*(\d+)\s+\d+\]\s+(.*?)\s*$/.exec(line);
    if (r && r[3] !== "." && r[3] !== "..") m.set(r[3], { size: Number(r[1]), extent: Number(r[2]) });
  }
  return m;
}

describe("independent readers (isoinfo, blkid)", () => {
  let dir: string;
  beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "iso9660-test-")); });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const cases: [string, { name: string; data: Buffer }[]][] = [
    ["nocloud seed", seed],
    ["single sector-sized file", [{ name: "user-data", data: bytes(SECTOR, 3) }, { name: "meta-data", data: bytes(SECTOR + 1, 4) }]],
    ["40 files (multi-sector directories)", many],
  ];

  test.each(cases)("%s: isoinfo sees all three trees and extracts identical bytes", (_, files) => {
    const img = path.join(dir, "t.iso");
    fs.writeFileSync(img, buildIso(files, { volumeId: "cidata" }));

    const d = run("isoinfo", ["-d", "-i", img]).toString();
    expect(d).toMatch(/Volume id: cidata\n/);
    expect(d).toMatch(/Logical block size is: 2048/);
    expect(d).toMatch(new RegExp(`Volume size is: ${fs.statSync(img).size / SECTOR}\n`));
    expect(d).toMatch(/Joliet with UCS level 3 found/);
    expect(d).toMatch(/Rock Ridge signatures version 1 found/);

    const primary = listing(run("isoinfo", ["-l", "-i", img]).toString());
    expect(primary.size).toBe(files.length);
    for (const n of primary.keys()) expect(n).toMatch(/^[A-Z0-9_]{1,8}\.[A-Z0-9_]{0,3};1$/);

    for (const flag of ["-J", "-R"]) {
      const tree = listing(run("isoinfo", [flag, "-l", "-i", img]).toString());
      expect([...tree.keys()].sort()).toEqual(files.map((f) => f.name).sort());
      for (const f of files) {
        expect(tree.get(f.name)!.size).toBe(f.data.length);
        if (f.data.length === 0) expect(tree.get(f.name)!.extent).toBe(0);
        const got = run("isoinfo", [flag, "-x", `/${f.name}`, "-i", img]);
        expect(got.equals(f.data)).toBe(true);
      }
    }
  });

  test("blkid probes TYPE=iso9660 LABEL=cidata like cloud-init", () => {
    const img = path.join(dir, "blkid.iso");
    fs.writeFileSync(img, buildIso(seed, { volumeId: "cidata" }));
    const out = run("blkid", ["-p", "-o", "export", img]).toString();
    expect(out).toMatch(/^TYPE=iso9660$/m);
    expect(out).toMatch(/^LABEL=cidata$/m);
    expect(out).toMatch(/^UUID=2000-01-01-00-00-00-00$/m); // derived from the fixed date
  });
});
