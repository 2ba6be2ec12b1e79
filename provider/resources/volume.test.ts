/** Volume check() and diff() without a daemon: both are pure, and check never connects. */
import { makeProvider } from "../core/resource";
import { UNKNOWN } from "../core/unknown";
import { volume, volumeFields } from "./volume";

const p = makeProvider(volume);
const ok = { pool: "images", name: "disk.qcow2", capacity: "20GiB" };
const GiB = 1024 ** 3;

async function failures(news: Record<string, unknown>, olds: Record<string, unknown> = {}) {
  return (await p.check(olds, news)).failures ?? [];
}
async function inputs(news: Record<string, unknown>, olds: Record<string, unknown> = {}) {
  const r = await p.check(olds, news);
  if (r.failures?.length) throw new Error(JSON.stringify(r.failures));
  return r.inputs;
}

describe("check rejects bad inputs, naming the property and what is accepted", () => {
  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    ["capacity with an unknown unit", { ...ok, capacity: "20 parsecs" }, "capacity", /not a size: expected .*GiB/],
    ["capacity that is not a number", { ...ok, capacity: "lots" }, "capacity", /not a size/],
    ["negative capacity", { ...ok, capacity: -1 }, "capacity", /not a size/],
    ["fractional bytes", { ...ok, capacity: 1.5 }, "capacity", /not a size/],
    ["capacity as an object", { ...ok, capacity: { size: 1 } }, "capacity", /not a size/],
    ["qcow2 capacity not in whole sectors", { ...ok, capacity: 1000 }, "capacity", /512-byte sectors.*1024/],
    ["a blank volume without capacity", { pool: "images", name: "v" }, "capacity", /blank volume needs a capacity/],
    ["format not in the list", { ...ok, format: "vmdk" }, "format", /not one of the accepted values: qcow2, raw/],
    ["name with a slash", { ...ok, name: "a/b" }, "name", /not valid: expected/],
    ["name starting with a dot", { ...ok, name: ".hidden" }, "name", /not valid/],
    ["missing name", { pool: "images", capacity: 1024 }, "name", /required/],
    ["missing pool", { name: "v", capacity: 1024 }, "pool", /required/],
    ["pool with a slash", { ...ok, pool: "../etc" }, "pool", /not valid/],
    ["unknown key", { ...ok, size: 5 }, "size", /unknown property "size": accepted are pool, name, capacity/],
    ["both source.path and source.url", { ...ok, source: { path: "/a.img", url: "http://h/a.img" } }, "source", /not both/],
    ["source with neither path nor url", { ...ok, source: { sha256: "a".repeat(64) } }, "source", /needs a path .* or a url/],
    ["url with a bad scheme", { ...ok, source: { url: "ftp://h/a.img" } }, "source.url", /http:\/\/ or https:\/\//],
    ["url that does not parse", { ...ok, source: { url: "http://[::1/a" } }, "source.url", /not a valid URL/],
    ["sha256 too short", { ...ok, source: { path: "/a", sha256: "abc" } }, "source.sha256", /64 hexadecimal digits/],
    ["sha256 not hex", { ...ok, source: { path: "/a", sha256: "z".repeat(64) } }, "source.sha256", /64 hexadecimal digits/],
    ["compression not in the list", { ...ok, source: { path: "/a", compression: "bzip2" } }, "source.compression", /auto, none, gzip, xz/],
    ["unknown key inside source", { ...ok, source: { path: "/a", checksum: "x" } }, "source.checksum", /accepted are path, url, sha256, compression/],
    ["cloneOf together with source", { ...ok, source: { path: "/a" }, cloneOf: "/v/b" }, "cloneOf", /use one of them/],
    ["backingStore together with source", { ...ok, source: { path: "/a" }, backingStore: { volume: "/v/b" } }, "backingStore", /use one of them/],
    ["backingStore together with cloneOf", { ...ok, cloneOf: "/v/a", backingStore: { volume: "/v/b" } }, "backingStore", /use one of them/],
    ["backingStore with format raw", { ...ok, format: "raw", backingStore: { volume: "/v/b" } }, "format", /qcow2 overlay/],
    ["backingStore without volume", { ...ok, backingStore: { format: "qcow2" } }, "backingStore.volume", /required/],
    ["backingStore.format not in the list", { ...ok, backingStore: { volume: "/v/b", format: "vdi" } }, "backingStore.format", /qcow2, raw/],
    ["backingStore not an object", { ...ok, backingStore: "/v/b" }, "backingStore", /expected an object/],
    ["cloneOf not a string", { ...ok, cloneOf: 42 }, "cloneOf", /expected a string/],
    ["permissions: bad mode", { ...ok, permissions: { mode: "0999" } }, "permissions.mode", /octal string/],
    ["permissions: negative owner", { ...ok, permissions: { owner: -1 } }, "permissions.owner", /whole number from 0/],
    ["permissions: unknown key", { ...ok, permissions: { mode: "0644", acl: "x" } }, "permissions.acl", /accepted are mode, owner, group/],
    ["allocation larger than capacity", { ...ok, allocation: "30GiB" }, "allocation", /larger than capacity/],
    ["allocation with source", { ...ok, allocation: 0, source: { path: "/a" } }, "allocation", /blank and cloned volumes only/],
    ["allocation with a bad unit", { ...ok, allocation: "1 GiBi" }, "allocation", /not a size/],
    ["bad uri", { ...ok, uri: "not a uri" }, "uri", /libvirt URI/],
    ["timeoutSeconds of zero", { ...ok, timeoutSeconds: 0 }, "timeoutSeconds", /whole number from 1/],
  ];
  test.each(cases)("%s", async (_what, news, property, reason) => {
    const f = await failures(news);
    const mine = f.find((x) => x.property === property);
    if (!mine) throw new Error(`no failure for ${property}: ${JSON.stringify(f)}`);
    expect(mine.reason).toMatch(reason);
  });

  test("shrinking is refused at check, naming capacity and both sizes", async () => {
    const olds = await inputs(ok);
    const f = await failures({ ...ok, capacity: "10GiB" }, olds);
    expect(f).toHaveLength(1);
    expect(f[0].property).toBe("capacity");
    expect(f[0].reason).toMatch(/shrinking the volume from 20 GiB \(21474836480 bytes\) to 10 GiB/);
  });

  test("a changed permission value is refused with the way out; adding one is not", async () => {
    const olds = await inputs({ ...ok, permissions: { mode: "0600" } });
    const f = await failures({ ...ok, permissions: { mode: "0640" } }, olds);
    expect(f.map((x) => x.property)).toEqual(["permissions"]);
    expect(f[0].reason).toMatch(/cannot change a volume's permissions.*chmod 0640/);
    expect(await failures({ ...ok, permissions: { mode: "0600", owner: 107 } }, olds)).toEqual([]);
  });

  test("check needs no connection: it works with an unreachable uri", async () => {
    expect(await failures({ ...ok, uri: "qemu+ssh://nobody@192.0.2.1/system" })).toEqual([]);
  });
});

describe("check normalizes", () => {
  test("sizes to bytes, defaults, sha256 to lower case", async () => {
    const i = await inputs({ pool: "images", name: "v", capacity: "1.5GiB", allocation: "512MiB" });
    expect(i).toEqual({ pool: "images", name: "v", capacity: 1.5 * GiB, allocation: 512 * 1024 ** 2 });
    const s = await inputs({ pool: "images", name: "v", source: { url: "https://example.com/a.img", sha256: "AB".repeat(32) } });
    expect(s.source).toEqual({ url: "https://example.com/a.img", sha256: "ab".repeat(32), compression: "auto" });
    const m = await inputs({ ...ok, permissions: { mode: 0o640, owner: 0 } });
    expect(m.permissions).toEqual({ mode: "0640", owner: 0 });
  });

  test("raw volumes may have any byte count", async () => {
    expect((await inputs({ ...ok, format: "raw", capacity: 1000 })).capacity).toBe(1000);
  });

  test("unknown values in preview pass, at any depth", async () => {
    await inputs({ pool: UNKNOWN, name: "v", backingStore: { volume: UNKNOWN }, capacity: "30GiB" });
    await inputs({ pool: "p", name: "v", source: UNKNOWN });
    await inputs({ pool: "p", name: "v", source: { url: UNKNOWN, sha256: UNKNOWN } });
    await inputs({ pool: "p", name: "v", capacity: UNKNOWN });
    await inputs({ pool: "p", name: "v", cloneOf: UNKNOWN, source: UNKNOWN }); // may turn out to be one of them
  });
});

describe("diff follows the field table", () => {
  const outs = async (news: Record<string, unknown>, live: Record<string, unknown> = {}) => ({ ...(await inputs(news)), key: "/k", path: "/k", allocatedBytes: 196608, type: "file", format: "qcow2", ...live });

  test("no change: no diff, whatever libvirt reports for what the user left unset", async () => {
    const i = await inputs({ pool: "images", name: "v", source: { path: "/a.qcow2" } });
    expect(await p.diff("/k", await outs({ pool: "images", name: "v", source: { path: "/a.qcow2" } }, { capacity: 5 * GiB, permissions: { mode: "0600", owner: 0, group: 0 } }), i)).toEqual({ changes: false });
  });

  test("growing is an in-place update; the live capacity in outputs is what it compares to", async () => {
    const o = await outs(ok, { capacity: 20 * GiB });
    expect(await p.diff("/k", o, await inputs({ ...ok, capacity: "30GiB" }))).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
  });

  test("source, format, backingStore, cloneOf, pool and name replace; same name deletes first", async () => {
    const base = { pool: "images", name: "v", source: { path: "/a.img" } };
    const o = await outs(base, { capacity: GiB });
    for (const [field, next, dbr] of [
      ["source", { ...base, source: { path: "/b.img" } }, true],
      ["source", { ...base, source: { path: "/a.img", sha256: "a".repeat(64) } }, true],
      ["format", { ...base, format: "raw" }, true],
      ["name", { ...base, name: "w" }, false],
      ["pool", { ...base, pool: "other" }, false],
    ] as const) {
      const d = await p.diff("/k", o, await inputs(next));
      expect(d.replaces).toEqual([field]);
      expect(d.deleteBeforeReplace).toBe(dbr);
    }
    const overlay = { pool: "images", name: "o", backingStore: { volume: "/base1" } };
    expect((await p.diff("/k", await outs(overlay), await inputs({ ...overlay, backingStore: { volume: "/base2" } }))).replaces).toEqual(["backingStore"]);
    const clone = { pool: "images", name: "c", cloneOf: "/orig1" };
    expect((await p.diff("/k", await outs(clone), await inputs({ ...clone, cloneOf: "/orig2" }))).replaces).toEqual(["cloneOf"]);
  });

  test("unknown in preview: a change", async () => {
    const overlay = { pool: "images", name: "o", backingStore: { volume: "/base1" } };
    const d = await p.diff("/k", await outs(overlay), { ...(await inputs(overlay)), backingStore: { volume: UNKNOWN } });
    expect(d.changes).toBe(true);
    expect(d.replaces).toEqual(["backingStore"]);
  });

  test("allocation never causes a diff against the live figure (it is the output allocatedBytes)", async () => {
    const i = await inputs({ ...ok, allocation: "1GiB" });
    expect(await p.diff("/k", { ...i, allocatedBytes: 123, capacity: 20 * GiB, format: "qcow2" }, i)).toEqual({ changes: false });
  });

  test("every input has a row with a doc", () => {
    for (const [k, f] of Object.entries(volumeFields)) expect(f.doc.length).toBeGreaterThan(10);
    expect(Object.keys(volumeFields).sort()).toEqual(["allocation", "backingStore", "capacity", "cloneOf", "format", "name", "permissions", "pool", "source", "timeoutSeconds", "uri"]);
  });
});
