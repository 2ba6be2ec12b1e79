/**
 * StoragePool against the real daemon, through the provider revived as the Pulumi host does.
 * Every outcome is cross-checked with virsh (libvirt's own client), the filesystem or LVM.
 * dir and logical pools are built for real (logical on a loop device); fs, netfs, disk and
 * iscsi are defined without starting, to prove libvirt accepts what the provider writes.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { closeProviderConnections, checked, failureFor, revive, Revived } from "../../test/provider";
import { rowTest } from "../../test/rows";
import { uniqueName, virsh, virshQuiet } from "../../test/util";

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** Every pool path lives under one directory per run, removed at the end whatever happens. */
const ROOT = `/var/tmp/plt-pooltest-${randomBytes(4).toString("hex")}`;
/** Pools, loop devices, volume groups and image files to remove in afterAll. */
const pools = new Set<string>();
const loops: string[] = [];
const vgs: string[] = [];
const files: string[] = [];

/**
 * The Pulumi host hands the provider inputs it deserialized itself, in Node's own realm. Values
 * written in this file live in jest's sandbox realm instead, and util.isDeepStrictEqual (diff)
 * tells an array of one realm from an equal array of the other. So every argument crosses into
 * the main realm the way the host's data arrives: as JSON parsed there.
 */
const hostRealmClone: (v: unknown) => any = require("node:vm").runInThisContext("(v) => v === undefined ? undefined : JSON.parse(JSON.stringify(v))");
function asHost(r: Revived): Revived {
  return {
    check: (olds, news) => r.check(hostRealmClone(olds), hostRealmClone(news)),
    diff: (id, olds, news) => r.diff(id, hostRealmClone(olds), hostRealmClone(news)),
    create: (inputs) => r.create(hostRealmClone(inputs)),
    read: (id, props) => r.read(id, hostRealmClone(props)),
    update: (id, olds, news) => r.update(id, hostRealmClone(olds), hostRealmClone(news)),
    delete: (id, props) => r.delete(id, hostRealmClone(props)),
  };
}

let p: Revived;

beforeAll(async () => {
  mkdirSync(ROOT, { recursive: true });
  p = asHost(await revive("StoragePool"));
});

afterAll(async () => {
  for (const name of pools) {
    virshQuiet("pool-destroy", name);
    virshQuiet("pool-undefine", name);
  }
  for (const vg of vgs) quiet("vgremove", "-f", vg);
  for (const loop of loops) {
    quiet("pvremove", "-ff", "-y", loop);
    quiet("losetup", "-d", loop);
  }
  for (const f of files) rmSync(f, { force: true });
  rmSync(ROOT, { recursive: true, force: true });
  await closeProviderConnections();
  // jest 30's require("node:module").createRequire is bound to jest's registry, so
  // closeProviderConnections closes a second copy of bin/; the revived shim's copy is the one in
  // Node's own cache, reached through the native Module class (the prototype of jest's).
  await Object.getPrototypeOf(require("node:module")).createRequire(__filename)("../../bin/provider/index.js").closeAll();
});

function sh(cmd: string, ...args: string[]): string {
  return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LVM_SUPPRESS_FD_WARNINGS: "1" } });
}
function quiet(cmd: string, ...args: string[]): void {
  try {
    sh(cmd, ...args);
  } catch {
    // already gone
  }
}

/** A fresh pool name, removed in afterAll if a test leaves it behind. */
function poolName(prefix = "pool"): string {
  const name = uniqueName(prefix);
  pools.add(name);
  return name;
}

/** `virsh pool-info --bytes` as a map. */
function info(name: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of virsh("pool-info", "--bytes", name).split("\n")) {
    const m = /^([^:]+):\s*(.*)$/.exec(line.trim());
    if (m) out[m[1]] = m[2];
  }
  return out;
}

/** The pool's row in `virsh pool-list --all`. */
function listed(name: string): { state: string; autostart: string } | undefined {
  for (const line of virsh("pool-list", "--all").split("\n")) {
    const [n, state, autostart] = line.trim().split(/\s+/);
    if (n === name) return { state, autostart };
  }
  return undefined;
}

function poolExists(name: string): boolean {
  try {
    virsh("pool-uuid", name);
    return true;
  } catch {
    return false;
  }
}

const modeOf = (path: string) => statSync(path).mode & 0o7777;

/** The two no-op diffs every state must give: against its outputs, and against a fresh read. */
async function expectNoDiff(id: string, outs: any, inputs: any): Promise<any> {
  expect(await p.diff(id, outs, inputs)).toEqual({ changes: false });
  const r = await p.read(id, outs);
  expect(r.id).toBe(id);
  expect(await p.diff(id, r.props, inputs)).toEqual({ changes: false });
  return r;
}

describe("a dir pool through its life", () => {
  const name = poolName();
  const path = `${ROOT}/${name}`;
  let inputs: any;
  let id: string;
  let outs: any;

  test("create builds the directory and reports outputs that match virsh", async () => {
    inputs = await checked(p, { name, type: "dir", target: { path } });
    ({ id, outs } = await p.create(inputs));
    expect(existsSync(path)).toBe(true);
    expect(statSync(path).isDirectory()).toBe(true);
    expect(virsh("pool-uuid", name).trim()).toBe(id);
    const i = info(name);
    expect(outs).toEqual({
      ...inputs,
      uuid: i.UUID,
      state: "running",
      capacity: Number(i.Capacity),
      allocation: Number(i.Allocation),
      available: Number(i.Available),
      builtByProvider: true,
    });
    expect(i.State).toBe("running");
    expect(i.Autostart).toBe("yes");
    expect(i.Persistent).toBe("yes");
    expect(outs.capacity).toBeGreaterThan(0);
    expect(outs.allocation + outs.available).toBeLessThanOrEqual(outs.capacity);
  });

  test("no-op diff right after create and after read; read reports what virsh does", async () => {
    const r = await expectNoDiff(id, outs, inputs);
    expect(r.inputs).toEqual(inputs);
    const i = info(name);
    expect(r.props).toMatchObject({ uuid: i.UUID, state: i.State, capacity: Number(i.Capacity), allocation: Number(i.Allocation), available: Number(i.Available), builtByProvider: true });
  });

  test("preview: an unknown new target.path or name is a change", async () => {
    expect(await p.diff(id, outs, { ...inputs, target: { path: UNKNOWN } })).toMatchObject({ changes: true, replaces: [] });
    expect(await p.diff(id, outs, { ...inputs, name: UNKNOWN })).toMatchObject({ changes: true, replaces: ["name"] });
    expect(await p.diff(id, outs, { ...inputs, name: UNKNOWN, target: { path: `${ROOT}/${name}-new` } })).toEqual({ changes: true, replaces: ["name"], deleteBeforeReplace: false });
    expect((await p.check(inputs, { ...inputs, target: { path: UNKNOWN } })).failures ?? []).toEqual([]);
    expect((await p.check(inputs, { ...inputs, name: UNKNOWN })).failures ?? []).toEqual([]);
    expect((await p.check(inputs, { ...inputs, source: UNKNOWN })).failures ?? []).toEqual([]);
  });

  rowTest("live: start false stops the pool, start true starts it again, same uuid", { StoragePool: ["start"] }, async () => {
    const stopped = await checked(p, { ...inputs, start: false }, inputs);
    expect(await p.diff(id, outs, stopped)).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    ({ outs } = await p.update(id, outs, stopped));
    expect(outs.state).toBe("inactive");
    expect(listed(name)).toEqual({ state: "inactive", autostart: "yes" });
    await expectNoDiff(id, outs, stopped);

    ({ outs } = await p.update(id, outs, inputs));
    expect(outs.state).toBe("running");
    expect(listed(name)?.state).toBe("active");
    expect(virsh("pool-uuid", name).trim()).toBe(id);
    await expectNoDiff(id, outs, inputs);
  });

  rowTest("live: autostart toggles on the pool", { StoragePool: ["autostart"] }, async () => {
    const off = await checked(p, { ...inputs, autostart: false }, inputs);
    expect(await p.diff(id, outs, off)).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    ({ outs } = await p.update(id, outs, off));
    expect(info(name).Autostart).toBe("no");
    await expectNoDiff(id, outs, off);
    ({ outs } = await p.update(id, outs, inputs));
    expect(info(name).Autostart).toBe("yes");
    await expectNoDiff(id, outs, inputs);
  });

  rowTest("live: new permissions change the directory in place; the pool keeps running with its uuid", { StoragePool: ["target"] }, async () => {
    expect(modeOf(path)).not.toBe(0o701);
    const tight = await checked(p, { ...inputs, target: { path, permissions: { mode: "0701" } } }, inputs);
    expect(await p.diff(id, outs, tight)).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    ({ outs } = await p.update(id, outs, tight));
    expect(modeOf(path)).toBe(0o701);
    expect(outs.state).toBe("running");
    expect(listed(name)?.state).toBe("active");
    expect(virsh("pool-uuid", name).trim()).toBe(id);
    expect(virsh("pool-dumpxml", name)).toContain("<mode>0701</mode>");
    await expectNoDiff(id, outs, tight);

    const owned = await checked(p, { ...inputs, target: { path, permissions: { mode: 0o750, owner: 65534, group: 65534 } } }, tight);
    ({ outs } = await p.update(id, outs, owned));
    const st = statSync(path);
    expect([st.mode & 0o7777, st.uid, st.gid]).toEqual([0o750, 65534, 65534]);
    expect(virsh("pool-uuid", name).trim()).toBe(id);
    expect(listed(name)?.state).toBe("active");
    await expectNoDiff(id, outs, owned);
    inputs = owned;
  });

  rowTest("provider-side: build, forceDelete and timeoutSeconds change nothing in libvirt", { StoragePool: "none" }, async () => {
    const before = virsh("pool-dumpxml", name);
    const next = await checked(p, { ...inputs, build: false, forceDelete: true, timeoutSeconds: 60 }, inputs);
    expect(await p.diff(id, outs, next)).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    ({ outs } = await p.update(id, outs, next));
    expect(outs).toMatchObject({ build: false, forceDelete: true, timeoutSeconds: 60, state: "running", uuid: id });
    expect(virsh("pool-dumpxml", name)).toBe(before);
    expect(info(name).Autostart).toBe("yes");
    await expectNoDiff(id, outs, next);
    ({ outs } = await p.update(id, outs, inputs));
    await expectNoDiff(id, outs, inputs);
  });

  test("replacements: type keeps the name so deletes first; a new name on new storage, or another host, creates first", async () => {
    expect(await p.diff(id, outs, { ...inputs, type: "netfs" })).toEqual({ changes: true, replaces: ["type"], deleteBeforeReplace: true });
    expect(await p.diff(id, outs, { ...inputs, name: `${name}-2`, target: { path: `${path}-2` } })).toEqual({ changes: true, replaces: ["name"], deleteBeforeReplace: false });
    // A new name on the same directory collides with the old pool in libvirt (next test): delete first.
    expect(await p.diff(id, outs, { ...inputs, name: `${name}-2` })).toEqual({ changes: true, replaces: ["name"], deleteBeforeReplace: true });
    expect(await p.diff(id, outs, { ...inputs, uri: "qemu+ssh://root@elsewhere/system" })).toEqual({ changes: true, replaces: ["uri"], deleteBeforeReplace: false });
    expect(await p.diff(id, outs, { ...inputs, source: { dir: "/x" } })).toEqual({ changes: true, replaces: ["source"], deleteBeforeReplace: true });
  });

  test("replacements: delete-first is needed, since libvirt will not hold a second pool of the name or directory", async () => {
    const other = await checked(p, { name, type: "netfs", source: { host: "127.0.0.1", dir: "/exports" }, target: { path: `${ROOT}/${name}-netfs` }, start: false, build: false });
    await expect(p.create(other)).rejects.toThrow(new RegExp(`storage pool "${name}" on qemu:///system: .*already (exists|defined)`));
    // The failed create left the existing pool alone.
    expect(virsh("pool-uuid", name).trim()).toBe(id);
    expect(listed(name)?.state).toBe("active");
    // Nor two pools on one directory, whatever their names.
    const renamed = poolName();
    await expect(p.create(await checked(p, { ...inputs, name: renamed }))).rejects.toThrow(new RegExp(`Storage source conflict with pool: '${name}'`));
    expect(poolExists(renamed)).toBe(false);
    expect(virsh("pool-uuid", name).trim()).toBe(id);
  });

  test("refusal: a new target.path fails check naming target", async () => {
    const reason = await failureFor(p, { ...inputs, target: { path: `${ROOT}/elsewhere` } }, "target", inputs);
    expect(reason).toMatch(/moving a pool from .* to .*elsewhere would leave its volumes behind/);
    // Nothing was touched.
    expect(existsSync(`${ROOT}/elsewhere`)).toBe(false);
    expect(virsh("pool-dumpxml", name)).toContain(`<path>${path}</path>`);
  });

  test("refresh: autostart disabled with virsh shows up in read and diff", async () => {
    virsh("pool-autostart", "--disable", name);
    const r = await p.read(id, outs);
    expect(r.props.autostart).toBe(false);
    expect(r.inputs.autostart).toBe(false);
    expect(await p.diff(id, r.props, inputs)).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    ({ outs } = await p.update(id, r.props, inputs));
    expect(info(name).Autostart).toBe("yes");
    await expectNoDiff(id, outs, inputs);
  });

  test("refresh: pool-destroy with virsh reads as start: false, and up starts it again", async () => {
    virsh("pool-destroy", name);
    const r = await p.read(id, outs);
    expect(r.props).toMatchObject({ start: false, state: "inactive", uuid: id });
    expect(r.inputs.start).toBe(false);
    expect(await p.diff(id, r.props, inputs)).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    ({ outs } = await p.update(id, r.props, inputs));
    expect(listed(name)?.state).toBe("active");
    await expectNoDiff(id, outs, inputs);
  });

  test("refresh: pool-undefine after destroy reads as gone", async () => {
    virsh("pool-destroy", name);
    virsh("pool-undefine", name);
    expect(await p.read(id, outs)).toEqual({});
    // delete of a pool that is already gone succeeds.
    await p.delete(id, outs);
    // The directory is the user's business now: nothing removed it.
    expect(existsSync(path)).toBe(true);
  });
});

describe("delete", () => {
  test("an empty pool this stack built: the directory goes with it", async () => {
    const name = poolName();
    const path = `${ROOT}/${name}`;
    const { id, outs } = await p.create(await checked(p, { name, type: "dir", target: { path } }));
    expect(outs.builtByProvider).toBe(true);
    await p.delete(id, outs);
    expect(poolExists(name)).toBe(false);
    expect(existsSync(path)).toBe(false);
  });

  test("an inactive empty pool this stack built: the directory goes too", async () => {
    const name = poolName();
    const path = `${ROOT}/${name}`;
    const { id, outs } = await p.create(await checked(p, { name, type: "dir", target: { path }, start: false }));
    expect(outs).toMatchObject({ builtByProvider: true, state: "inactive" });
    expect(existsSync(path)).toBe(true);
    await p.delete(id, outs);
    expect(poolExists(name)).toBe(false);
    expect(existsSync(path)).toBe(false);
  });

  test("a built pool whose directory was removed out of band: delete still succeeds", async () => {
    const name = poolName();
    const path = `${ROOT}/${name}`;
    const { id, outs } = await p.create(await checked(p, { name, type: "dir", target: { path } }));
    expect(outs.builtByProvider).toBe(true);
    virsh("pool-destroy", name);
    rmSync(path, { recursive: true });
    await p.delete(id, outs);
    expect(poolExists(name)).toBe(false);
  });

  test("a pool over an existing empty directory: the directory stays", async () => {
    const name = poolName();
    const path = `${ROOT}/${name}`;
    mkdirSync(path);
    const { id, outs } = await p.create(await checked(p, { name, type: "dir", target: { path } }));
    expect(outs.builtByProvider).toBe(false);
    await p.delete(id, outs);
    expect(poolExists(name)).toBe(false);
    expect(existsSync(path)).toBe(true);
  });

  test("build only when missing: start false over an existing empty directory does not claim it", async () => {
    const name = poolName();
    const path = `${ROOT}/${name}`;
    mkdirSync(path, { mode: 0o700 });
    const { id, outs } = await p.create(await checked(p, { name, type: "dir", target: { path }, start: false, build: true }));
    expect(outs).toMatchObject({ builtByProvider: false, state: "inactive", start: false });
    expect(listed(name)?.state).toBe("inactive");
    await p.delete(id, outs);
    expect(poolExists(name)).toBe(false);
    expect(existsSync(path)).toBe(true);
  });

  test("a pool over an existing directory holding a user file: delete never removes them", async () => {
    const name = poolName();
    const path = `${ROOT}/${name}`;
    mkdirSync(path);
    writeFileSync(`${path}/notes.txt`, "mine\n");
    const inputs = await checked(p, { name, type: "dir", target: { path } });
    const { id, outs } = await p.create(inputs);
    expect(outs.builtByProvider).toBe(false);
    // libvirt lists every file in a dir pool as a volume, so the file blocks a plain delete.
    await expect(p.delete(id, outs)).rejects.toThrow(/notes\.txt.*forceDelete/);
    expect(poolExists(name)).toBe(true);
    const forced = await checked(p, { ...inputs, forceDelete: true }, inputs);
    const u = await p.update(id, outs, forced);
    await p.delete(id, u.outs);
    expect(poolExists(name)).toBe(false);
    expect(readFileSync(`${path}/notes.txt`, "utf8")).toBe("mine\n");
  });

  test("a pool holding a volume this stack does not manage: refused naming it and forceDelete; forced, the volume stays on disk", async () => {
    const name = poolName();
    const path = `${ROOT}/${name}`;
    const inputs = await checked(p, { name, type: "dir", target: { path } });
    const { id, outs } = await p.create(inputs);
    expect(outs.builtByProvider).toBe(true);
    virsh("vol-create-as", name, "foreign.raw", "1M", "--format", "raw");
    // The error comes from Node's own realm: not an instance of this sandbox's Error.
    const err = await p.delete(id, outs).then(() => undefined, (e: Error) => e);
    expect(err).toBeDefined();
    expect(err!.message).toMatch(new RegExp(`storage pool "${name}" on qemu:///system: it still holds 1 volume\\(s\\) this stack does not manage: foreign\\.raw`));
    expect(err!.message).toMatch(/forceDelete: true/);
    expect(poolExists(name)).toBe(true);
    expect(listed(name)?.state).toBe("active");

    const forced = await checked(p, { ...inputs, forceDelete: true }, inputs);
    expect(await p.diff(id, outs, forced)).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    const u = await p.update(id, outs, forced);
    await p.delete(id, u.outs);
    expect(poolExists(name)).toBe(false);
    expect(statSync(`${path}/foreign.raw`).size).toBe(1024 * 1024);
  });
});

describe("a logical pool on a loop device", () => {
  const name = poolName("lvpool");
  const vg = `pltvg${randomBytes(4).toString("hex")}`;
  const image = `/var/tmp/${vg}.img`;
  let loop: string;
  let inputs: any;
  let id: string;
  let outs: any;

  beforeAll(() => {
    vgs.push(vg);
    files.push(image);
    writeFileSync(image, "");
    sh("truncate", "-s", "256M", image);
    loop = sh("losetup", "-f", "--show", image).trim();
    loops.push(loop);
  });

  test("build on create makes the volume group", async () => {
    expect(loop).toMatch(/^\/dev\/loop\d+$/);
    inputs = await checked(p, { name, type: "logical", source: { name: vg, devices: [loop] } });
    ({ id, outs } = await p.create(inputs));
    expect(outs.builtByProvider).toBe(true);
    const [vgName, pvCount, vgSize] = sh("vgs", "--noheadings", "--units", "b", "--nosuffix", "-o", "vg_name,pv_count,vg_size", vg).trim().split(/\s+/);
    expect([vgName, pvCount]).toEqual([vg, "1"]);
    const i = info(name);
    expect(outs).toMatchObject({ uuid: virsh("pool-uuid", name).trim(), state: "running", capacity: Number(i.Capacity), allocation: Number(i.Allocation), available: Number(i.Available) });
    expect(outs.capacity).toBe(Number(vgSize));
    expect(virsh("pool-dumpxml", name)).toContain(`<path>/dev/${vg}</path>`);
  });

  test("no-op diffs after create and read; start false/true deactivates and activates", async () => {
    const r = await expectNoDiff(id, outs, inputs);
    expect(r.inputs).toEqual(inputs);
    const stopped = await checked(p, { ...inputs, start: false }, inputs);
    ({ outs } = await p.update(id, outs, stopped));
    expect(listed(name)?.state).toBe("inactive");
    ({ outs } = await p.update(id, outs, inputs));
    expect(listed(name)?.state).toBe("active");
    await expectNoDiff(id, outs, inputs);
  });

  rowTest("replacements: another volume group replaces, deleting first: the old group goes, the new one is built on the device", { StoragePool: ["source"] }, async () => {
    const next = await checked(p, { ...inputs, source: { ...inputs.source, name: `${vg}x` } }, inputs);
    expect(await p.diff(id, outs, next)).toEqual({ changes: true, replaces: ["source"], deleteBeforeReplace: true });
    vgs.push(`${vg}x`);
    await p.delete(id, outs);
    expect(() => sh("vgs", vg)).toThrow();
    ({ id, outs } = await p.create(next));
    inputs = next;
    expect(sh("vgs", "--noheadings", "-o", "vg_name,pv_name", `${vg}x`).trim().split(/\s+/)).toEqual([`${vg}x`, loop]);
    expect(virsh("pool-dumpxml", name)).toContain(`<name>${vg}x</name>`);
  });

  test("delete removes the volume group the provider built, and the pool", async () => {
    await p.delete(id, outs);
    expect(poolExists(name)).toBe(false);
    expect(() => sh("vgs", `${vg}x`)).toThrow();
    expect(sh("pvs", "--noheadings", "-o", "pv_name").split("\n").map((l) => l.trim())).not.toContain(loop);
  });
});

rowTest("replacements made: a new name on new storage makes a second pool before the first goes; a new type deletes the pool first and defines it again", { StoragePool: ["name", "type"] }, async () => {
  const first = poolName("rep");
  const inputs = await checked(p, { name: first, type: "dir", target: { path: `${ROOT}/${first}` } });
  const made = await p.create(inputs);
  const second = poolName("rep");
  const renamed = await checked(p, { ...inputs, name: second, target: { path: `${ROOT}/${second}` } }, inputs);
  expect(await p.diff(made.id, made.outs, renamed)).toEqual({ changes: true, replaces: ["name"], deleteBeforeReplace: false });
  const again = await p.create(renamed);
  expect([listed(first)?.state, listed(second)?.state, existsSync(`${ROOT}/${second}`)]).toEqual(["active", "active", true]);
  await p.delete(made.id, made.outs);
  expect([poolExists(first), existsSync(`${ROOT}/${first}`)]).toEqual([false, false]);
  const retyped = await checked(p, { name: second, type: "netfs", source: { host: "127.0.0.1", dir: "/exports" }, target: { path: `${ROOT}/${second}` }, start: false, build: false }, renamed);
  expect(await p.diff(again.id, again.outs, retyped)).toMatchObject({ changes: true, replaces: expect.arrayContaining(["type"]), deleteBeforeReplace: true });
  await p.delete(again.id, again.outs);
  const netfs = await p.create(retyped);
  expect(virsh("pool-dumpxml", second)).toContain("<pool type='netfs'>");
  expect([netfs.id, listed(second)?.state]).toEqual([virsh("pool-uuid", second).trim(), "inactive"]);
  await p.delete(netfs.id, netfs.outs);
  expect(poolExists(second)).toBe(false);
});

describe("fs, netfs, disk and iscsi: libvirt accepts the definitions", () => {
  const cases: [string, (name: string) => Record<string, unknown>][] = [
    ["fs", (name) => ({ type: "fs", source: { devices: [`/dev/${name}`], format: "ext4" }, target: { path: `${ROOT}/${name}`, permissions: { mode: "0750" } } })],
    ["netfs", (name) => ({ type: "netfs", source: { host: "127.0.0.1", dir: "/exports/images", format: "nfs" }, target: { path: `${ROOT}/${name}` } })],
    ["disk", (name) => ({ type: "disk", source: { devices: [`/dev/${name}`], format: "gpt" }, target: { path: "/dev" } })],
    ["iscsi", (name) => ({ type: "iscsi", source: { host: "127.0.0.1", devices: [`iqn.2024-01.com.example:${name}`] }, target: { path: "/dev/disk/by-path" } })],
  ];

  test.each(cases)("%s: defined without starting, no-op diffs, deleted", async (type, make) => {
    const name = poolName(type);
    const inputs = await checked(p, { name, ...make(name), start: false, build: false, autostart: false });
    const { id, outs } = await p.create(inputs);
    expect(outs).toMatchObject({ state: "inactive", builtByProvider: false, uuid: virsh("pool-uuid", name).trim() });
    expect(listed(name)).toEqual({ state: "inactive", autostart: "no" });
    expect(virsh("pool-dumpxml", name)).toContain(`<pool type='${type}'>`);
    const r = await expectNoDiff(id, outs, inputs);
    expect(r.inputs).toEqual(inputs);
    await p.delete(id, outs);
    expect(poolExists(name)).toBe(false);
  });
});

test("concurrency: five pools created and deleted at once through one provider", async () => {
  const names = [1, 2, 3, 4, 5].map(() => poolName("cc"));
  const all = await Promise.all(names.map((name) => checked(p, { name, type: "dir", target: { path: `${ROOT}/${name}` }, uri: "qemu:///system", timeoutSeconds: 120 })));
  const created = await Promise.all(all.map((inputs) => p.create(inputs)));
  expect(new Set(created.map((c) => c.id)).size).toBe(5);
  names.forEach((name, i) => {
    expect(virsh("pool-uuid", name).trim()).toBe(created[i].id);
    expect(listed(name)?.state).toBe("active");
    expect(existsSync(`${ROOT}/${name}`)).toBe(true);
  });
  const diffs = await Promise.all(created.map((c, i) => p.diff(c.id, c.outs, all[i])));
  expect(diffs).toEqual(names.map(() => ({ changes: false })));
  await Promise.all(created.map((c) => p.delete(c.id, c.outs)));
  for (const name of names) {
    expect(poolExists(name)).toBe(false);
    expect(existsSync(`${ROOT}/${name}`)).toBe(false);
  }
});

describe("a device that holds data is never formatted (build only formats blank devices)", () => {
  // A loop device with an ext4 filesystem on it, and a pool that would need another format: the
  // build is refused, the filesystem (same UUID, same file in it) survives, no pool is left.
  const cases: [string, (name: string, loop: string) => any][] = [
    ["logical", (name, loop) => ({ name, type: "logical", source: { name: `pltvg${randomBytes(4).toString("hex")}`, devices: [loop] } })],
    ["fs", (name, loop) => ({ name, type: "fs", source: { devices: [loop], format: "xfs" }, target: { path: `${ROOT}/${name}` } })],
  ];
  test.each(cases)("%s on an ext4 device: create fails naming the format, the filesystem is intact", async (type, make) => {
    const name = uniqueName(`plt-keep-${type}`);
    pools.add(name);
    const image = `/var/tmp/${name}.img`;
    files.push(image);
    sh("truncate", "-s", "64M", image);
    sh("mkfs.ext4", "-q", "-L", "keep", image);
    sh("debugfs", "-w", "-R", "write /etc/os-release kept.txt", image);
    const loop = sh("losetup", "-f", "--show", image).trim();
    loops.push(loop);
    const uuid = sh("blkid", "-o", "value", "-s", "UUID", loop).trim();
    expect(uuid).toMatch(/^[0-9a-f-]{36}$/);

    const inputs = await checked(p, make(name, loop));
    await expect(p.create(inputs)).rejects.toThrow(/does not match the expected format .*forced overwrite is necessary/);

    expect(sh("blkid", "-o", "value", "-s", "TYPE", loop).trim()).toBe("ext4");
    expect(sh("blkid", "-o", "value", "-s", "UUID", loop).trim()).toBe(uuid);
    expect(sh("debugfs", "-R", "cat kept.txt", loop)).toBe(readFileSync("/etc/os-release", "utf8"));
    expect(listed(name)).toBeUndefined();
  });
});
