/**
 * StoragePool check() and diff() through the revived provider, as the Pulumi host calls them.
 * The provider is configured with a libvirt URI whose socket does not exist: check and diff
 * must never need the daemon, and the first test proves that URI really cannot connect.
 */
import { closeProviderConnections, checked, failureFor, revive, Revived } from "../../test/provider";
import { storagePoolFields } from "./storagePool";

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const NOWHERE = "qemu:///system?socket=/nonexistent/libvirt-sock";

/** Close connections the revived provider opened in the natively loaded bin/ (see closeNative). */
async function closeNative(): Promise<void> {
  // jest 30's require("node:module").createRequire is bound to jest's registry; the native
  // Module class (its prototype) loads through Node's own cache, where the revived shim lives.
  const jestModule = require("node:module");
  await Object.getPrototypeOf(jestModule).createRequire(__filename)("../../bin/provider/index.js").closeAll();
}

let p: Revived;
beforeAll(async () => {
  p = await revive("StoragePool", { "libvirt:uri": NOWHERE });
});
afterAll(async () => {
  // Reset the configured URI in the shared bin/ module for later test files in this worker.
  await revive("StoragePool");
  await closeProviderConnections();
  await closeNative();
});

const dir = { name: "images", type: "dir", target: { path: "/var/lib/libvirt/images/images" } };
const logical = { name: "vg", type: "logical", source: { name: "vg0", devices: ["/dev/sdb"] } };
const netfs = { name: "nfs", type: "netfs", source: { host: "nfs.example.com", dir: "/exports/images" }, target: { path: "/mnt/nfs" } };
const fs = { name: "fsp", type: "fs", source: { devices: ["/dev/vdb1"] }, target: { path: "/mnt/fsp" } };
const disk = { name: "d", type: "disk", source: { devices: ["/dev/vdc"] }, target: { path: "/dev" } };
const iscsi = { name: "i", type: "iscsi", source: { host: "10.0.0.5", devices: ["iqn.2013-06.com.example:pool"] }, target: { path: "/dev/disk/by-path" } };

async function failures(news: Record<string, unknown>, olds: Record<string, unknown> = {}) {
  return (await p.check(olds, news)).failures ?? [];
}

test("the configured URI cannot reach a daemon, so nothing below could have used one", async () => {
  // timeoutSeconds: 1, since a daemon that cannot be reached is retried as if restarting.
  await expect(p.read("6d3c7f2e-1b5a-4c8e-9f0a-2b7d4e6c8a10", { ...dir, timeoutSeconds: 1 })).rejects.toThrow(/nonexistent/);
});

describe("good inputs pass, normalized", () => {
  test("defaults are filled in", async () => {
    expect(await checked(p, dir)).toEqual({ ...dir, build: true, start: true, autostart: true, forceDelete: false });
  });

  test.each([
    ["dir", dir],
    ["logical", logical],
    ["logical with its own target path", { ...logical, target: { path: "/dev/vg0" } }],
    ["logical on an existing VG", { name: "vg", type: "logical", source: { name: "vg_data" }, build: false }],
    ["netfs", netfs],
    ["netfs cifs", { ...netfs, source: { ...netfs.source, format: "cifs" } }],
    ["fs", fs],
    ["fs with a format", { ...fs, source: { ...fs.source, format: "xfs" } }],
    ["disk", disk],
    ["disk gpt", { ...disk, source: { ...disk.source, format: "gpt" } }],
    ["iscsi", iscsi],
    ["every option", { ...dir, target: { ...dir.target, permissions: { mode: "0711", owner: 107, group: 108 } }, build: false, start: false, autostart: false, forceDelete: true, uri: "qemu+ssh://root@host/system", timeoutSeconds: 600 }],
  ])("%s", async (_what, news) => {
    expect(await failures(news)).toEqual([]);
  });

  test("modes are normalized to four octal digits, from strings or numbers", async () => {
    expect((await checked(p, { ...dir, target: { ...dir.target, permissions: { mode: "755" } } })).target.permissions).toEqual({ mode: "0755" });
    expect((await checked(p, { ...dir, target: { ...dir.target, permissions: { mode: 0o711 } } })).target.permissions).toEqual({ mode: "0711" });
  });

  test("a single device may be given as a string", async () => {
    expect((await checked(p, { ...disk, source: { devices: "/dev/vdc" } })).source).toEqual({ devices: ["/dev/vdc"] });
  });

  test("paths are written the way libvirt will report them back", async () => {
    expect((await checked(p, { ...dir, target: { path: "/var/lib/libvirt//images/x/" } })).target.path).toBe("/var/lib/libvirt/images/x");
    expect((await checked(p, { ...netfs, source: { ...netfs.source, dir: "/exports//images/" } })).source.dir).toBe("/exports/images");
    expect((await checked(p, { ...dir, target: { path: "/" } })).target.path).toBe("/");
  });
});

/** [what, inputs, property that must fail, what its reason must say (the accepted values)] */
const BAD: [string, Record<string, unknown>, string, RegExp][] = [
  ["missing name", { type: "dir", target: dir.target }, "name", /name is required/],
  ["empty name", { ...dir, name: "" }, "name", /expected 1-255 characters of letters, digits/],
  ["name with a slash", { ...dir, name: "a/b" }, "name", /"a\/b" is not valid: expected 1-255 characters of letters, digits, and _ \. \+ : @ -/],
  ["name starting with a dot", { ...dir, name: ".hidden" }, "name", /not starting with \. or -/],
  ["name starting with a dash", { ...dir, name: "-x" }, "name", /not starting with \. or -/],
  ["name with a space", { ...dir, name: "my pool" }, "name", /expected 1-255 characters/],
  ["name of 256 characters", { ...dir, name: "x".repeat(256) }, "name", /expected 1-255 characters/],
  ["name that is not a string", { ...dir, name: 42 }, "name", /expected a string, got 42/],
  ["missing type", { name: "x", target: dir.target }, "type", /type is required/],
  ["type not in the list", { ...dir, type: "zfs" }, "type", /"zfs" is not one of the accepted values: dir, fs, netfs, logical, disk, iscsi/],
  ["type in the wrong case", { ...dir, type: "DIR" }, "type", /accepted values: dir, fs, netfs, logical, disk, iscsi/],
  ["dir pool without a target", { name: "x", type: "dir" }, "target.path", /a dir pool needs target.path: .*e\.g\. \/var\/lib\/libvirt\/images\/x/],
  ["dir pool with a target but no path", { name: "x", type: "dir", target: { permissions: { mode: "0755" } } }, "target.path", /needs target.path/],
  ["fs pool without a target path", { ...fs, target: undefined }, "target.path", /a fs pool needs target.path/],
  ["netfs pool without a target path", { ...netfs, target: {} }, "target.path", /a netfs pool needs target.path/],
  ["disk pool without a target path", { ...disk, target: undefined }, "target.path", /a disk pool needs target.path.*\/dev/],
  ["iscsi pool without a target path", { ...iscsi, target: undefined }, "target.path", /an? iscsi pool needs target.path.*\/dev\/disk\/by-path/],
  ["relative target path", { ...dir, target: { path: "images/x" } }, "target.path", /"images\/x" is not valid: expected an absolute path on the host, such as \/var\/lib\/libvirt\/images\/disk1.qcow2/],
  ["target path that is not a string", { ...dir, target: { path: 7 } }, "target.path", /expected a string, got 7/],
  ["target that is not an object", { ...dir, target: "/var/lib/libvirt/images/x" }, "target", /expected an object, got "\/var\/lib/],
  ["logical target path other than /dev/<vg>", { ...logical, target: { path: "/srv/vg" } }, "target.path", /\/dev\/vg0/],
  ["permissions mode 999", { ...dir, target: { ...dir.target, permissions: { mode: "999" } } }, "target.permissions.mode", /"999" is not a file mode: expected an octal string such as "0755" or "0644"/],
  ["permissions mode abc", { ...dir, target: { ...dir.target, permissions: { mode: "abc" } } }, "target.permissions.mode", /expected an octal string such as "0755"/],
  ["permissions owner -1", { ...dir, target: { ...dir.target, permissions: { owner: -1 } } }, "target.permissions.owner", /-1 is not valid: expected a whole number from 0 to 4294967294/],
  ["permissions owner by name", { ...dir, target: { ...dir.target, permissions: { owner: "root" } } }, "target.permissions.owner", /expected a whole number from 0 to 4294967294/],
  ["permissions group 1.5", { ...dir, target: { ...dir.target, permissions: { group: 1.5 } } }, "target.permissions.group", /expected a whole number from 0 to 4294967294/],
  ["permissions that are not an object", { ...dir, target: { ...dir.target, permissions: "0755" } }, "target.permissions", /expected an object, got "0755"/],
  ["unknown key in permissions", { ...dir, target: { ...dir.target, permissions: { user: 0 } } }, "target.permissions.user", /unknown property "user": accepted are mode, owner, group/],
  ["permissions on a logical pool", { ...logical, target: { permissions: { mode: "0755" } } }, "target.permissions", /permissions apply to directory-backed pools \(dir, fs, netfs\), not logical/],
  ["permissions on a disk pool", { ...disk, target: { ...disk.target, permissions: { owner: 0 } } }, "target.permissions", /directory-backed pools \(dir, fs, netfs\), not disk/],
  ["unknown key in target", { ...dir, target: { ...dir.target, size: "10GiB" } }, "target.size", /unknown property "size": accepted are path, permissions/],
  ["logical without source.name", { ...logical, source: { devices: ["/dev/sdb"] } }, "source.name", /a logical pool needs source.name/],
  ["logical without any source", { name: "vg", type: "logical" }, "source.name", /a logical pool needs source.name/],
  ["volume group name with a slash", { ...logical, source: { name: "vg/0" } }, "source.name", /expected a volume group name of letters, digits and \+ _ \. -/],
  ["netfs without source.host", { ...netfs, source: { dir: "/exports" } }, "source.host", /a netfs pool needs source.host/],
  ["netfs without source.dir", { ...netfs, source: { host: "nfs" } }, "source.dir", /a netfs pool needs source.dir/],
  ["netfs with a relative source.dir", { ...netfs, source: { host: "nfs", dir: "exports" } }, "source.dir", /expected an absolute path/],
  ["netfs host with a space", { ...netfs, source: { ...netfs.source, host: "bad host" } }, "source.host", /expected a host name or IP address/],
  ["netfs with devices", { ...netfs, source: { ...netfs.source, devices: ["/dev/sdb"] } }, "source.devices", /unknown property "devices": accepted are host, dir, format/],
  ["disk without devices", { ...disk, source: {} }, "source.devices", /a disk pool needs source.devices/],
  ["fs without devices", { ...fs, source: { format: "ext4" } }, "source.devices", /a fs pool needs source.devices/],
  ["iscsi without a host", { ...iscsi, source: { devices: iscsi.source.devices } }, "source.host", /an? iscsi pool needs source.host/],
  ["device not under /dev", { ...disk, source: { devices: ["/var/tmp/disk.img"] } }, "source.devices[0]", /"\/var\/tmp\/disk.img" is not valid: expected a device path under \/dev, such as \/dev\/sdb/],
  ["second device not under /dev", { ...logical, source: { name: "vg0", devices: ["/dev/sdb", "sdc"] } }, "source.devices[1]", /a device path under \/dev/],
  ["empty device list", { ...disk, source: { devices: [] } }, "source.devices", /expected a non-empty list of device paths such as \["\/dev\/sdb"\]/],
  ["devices that are not a list", { ...disk, source: { devices: 5 } }, "source.devices", /expected a non-empty list of device paths/],
  ["iSCSI IQN with a space", { ...iscsi, source: { host: "h", devices: ["iqn.2013-06 x"] } }, "source.devices[0]", /expected an iSCSI target IQN such as iqn.2024-01.com.example:storage/],
  ["fs format not allowed", { ...fs, source: { ...fs.source, format: "ntfs" } }, "source.format", /"ntfs" is not one of the accepted values: auto, ext2, ext3, ext4, xfs, btrfs, vfat/],
  ["disk format not allowed", { ...disk, source: { ...disk.source, format: "ext4" } }, "source.format", /accepted values: dos, gpt, mac, bsd, pc98, sun, lvm2/],
  ["netfs format not allowed", { ...netfs, source: { ...netfs.source, format: "ext4" } }, "source.format", /accepted values: auto, nfs, cifs, glusterfs/],
  ["logical format not allowed", { ...logical, source: { ...logical.source, format: "lvm1" } }, "source.format", /accepted values: lvm2/],
  ["iscsi with a format", { ...iscsi, source: { ...iscsi.source, format: "gpt" } }, "source.format", /unknown property "format": accepted are host, devices/],
  ["dir pool with a source", { ...dir, source: { dir: "/srv" } }, "source.dir", /unknown property "dir": accepted are none/],
  ["source that is not an object", { ...disk, source: "/dev/vdc" }, "source", /expected an object, got "\/dev\/vdc"/],
  ["unknown top-level key (typo autoStart)", { ...dir, autoStart: true }, "autoStart", /unknown property "autoStart": accepted are name, type, target, source, build, start, autostart, forceDelete, uri, timeoutSeconds/],
  ["build not boolean", { ...dir, build: "yes" }, "build", /expected true or false, got "yes"/],
  ["start not boolean", { ...dir, start: 1 }, "start", /expected true or false, got 1/],
  ["autostart not boolean", { ...dir, autostart: "false" }, "autostart", /expected true or false, got "false"/],
  ["forceDelete not boolean", { ...dir, forceDelete: null }, "forceDelete", /expected true or false, got null/],
  ["timeoutSeconds 0", { ...dir, timeoutSeconds: 0 }, "timeoutSeconds", /0 is not valid: expected a whole number from 1 to 86400/],
  ["timeoutSeconds fractional", { ...dir, timeoutSeconds: 1.5 }, "timeoutSeconds", /expected a whole number from 1 to 86400/],
  ["timeoutSeconds as text", { ...dir, timeoutSeconds: "60" }, "timeoutSeconds", /expected a whole number from 1 to 86400/],
  ["timeoutSeconds too large", { ...dir, timeoutSeconds: 86401 }, "timeoutSeconds", /expected a whole number from 1 to 86400/],
  ["uri garbage", { ...dir, uri: "not a uri" }, "uri", /"not a uri" is not valid: expected a libvirt URI such as qemu:\/\/\/system or qemu\+ssh:\/\/user@host\/system/],
  ["uri without a scheme", { ...dir, uri: "/var/run/libvirt/libvirt-sock" }, "uri", /expected a libvirt URI such as qemu:\/\/\/system/],
  ["uri that is not a string", { ...dir, uri: 5 }, "uri", /expected a string, got 5/],
];

describe("bad inputs fail, naming the property and what is accepted", () => {
  test("there are at least 30 distinct cases", () => {
    expect(new Set(BAD.map(([what]) => what)).size).toBe(BAD.length);
    expect(BAD.length).toBeGreaterThanOrEqual(30);
  });

  test.each(BAD)("%s", async (_what, news, property, reason) => {
    const all = await failures(news);
    const mine = all.filter((f) => f.property === property);
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.map((f) => f.reason).join("\n")).toMatch(reason);
    // No collateral failures on properties that are fine.
    for (const f of all) expect([property, "name"].includes(f.property) || f.property.startsWith(property.split(".")[0])).toBe(true);
  });

  test("failing inputs are returned as given", async () => {
    const news = { ...dir, timeoutSeconds: 0 };
    expect((await p.check({}, news)).inputs).toEqual(news);
  });

  test("all failures are reported at once", async () => {
    const all = await failures({ name: ".x", type: "zfs", build: 1, autoStart: true });
    expect(all.map((f) => f.property).sort()).toEqual(["autoStart", "build", "name", "type"]);
  });
});

describe("refusals compare against the previous inputs", () => {
  test("moving target.path is refused, naming target and the way out", async () => {
    const olds = await checked(p, dir);
    const reason = await failureFor(p, { ...dir, target: { path: "/srv/elsewhere" } }, "target", olds);
    expect(reason).toMatch(/moving a pool from \/var\/lib\/libvirt\/images\/images to \/srv\/elsewhere would leave its volumes behind; create a new pool with a new name instead/);
  });

  test("changing only permissions is not refused", async () => {
    const olds = await checked(p, dir);
    expect(await failures({ ...dir, target: { ...dir.target, permissions: { mode: "0700" } } }, olds)).toEqual([]);
  });

  test("a new name with a new path (a new pool, as the refusal advises) is not refused", async () => {
    const olds = await checked(p, dir);
    expect(await failures({ ...dir, name: "images2", target: { path: "/srv/images2" } }, olds)).toEqual([]);
  });
});

describe("preview: unknown values pass check", () => {
  test.each([
    ["target.path", { ...dir, target: { path: UNKNOWN } }],
    ["name", { ...dir, name: UNKNOWN }],
    ["type", { ...dir, type: UNKNOWN }],
    ["type, with permissions set", { ...dir, type: UNKNOWN, target: { ...dir.target, permissions: { mode: "0711" } } }],
    ["the whole target", { ...dir, target: UNKNOWN }],
    ["the permissions", { ...dir, target: { ...dir.target, permissions: UNKNOWN } }],
    ["the mode", { ...dir, target: { ...dir.target, permissions: { mode: UNKNOWN } } }],
    ["the whole source of a logical pool", { ...logical, source: UNKNOWN }],
    ["the whole source of a netfs pool", { ...netfs, source: UNKNOWN }],
    ["the whole source of a dir pool", { ...dir, source: UNKNOWN }],
    ["source.name", { ...logical, source: { name: UNKNOWN } }],
    ["source.host", { ...netfs, source: { ...netfs.source, host: UNKNOWN } }],
    ["the device list", { ...disk, source: { devices: UNKNOWN } }],
    ["one device", { ...disk, source: { devices: [UNKNOWN] } }],
    ["start, autostart, build", { ...dir, start: UNKNOWN, autostart: UNKNOWN, build: UNKNOWN }],
    ["uri and timeoutSeconds", { ...dir, uri: UNKNOWN, timeoutSeconds: UNKNOWN }],
  ])("unknown %s", async (_what, news) => {
    const r = await p.check({}, news);
    expect(r.failures ?? []).toEqual([]);
  });

  test("unknown values are kept unknown in the checked inputs", async () => {
    expect((await checked(p, { ...dir, target: { path: UNKNOWN } })).target.path).toBe(UNKNOWN);
    expect((await checked(p, { ...dir, name: UNKNOWN })).name).toBe(UNKNOWN);
    expect((await checked(p, { ...logical, source: UNKNOWN })).source).toBe(UNKNOWN);
    expect((await checked(p, { ...dir, target: UNKNOWN })).target).toBe(UNKNOWN);
  });

  test("an unknown new path is not refused (it may turn out the same)", async () => {
    const olds = await checked(p, dir);
    expect(await failures({ ...dir, target: { path: UNKNOWN } }, olds)).toEqual([]);
  });
});

describe("diff (pure: no daemon)", () => {
  let olds: any;
  beforeAll(async () => {
    const inputs = await checked(p, dir);
    olds = { ...inputs, uuid: "6d3c7f2e-1b5a-4c8e-9f0a-2b7d4e6c8a10", state: "running", capacity: 1, allocation: 0, available: 1, builtByProvider: true };
  });
  const next = async (change: Record<string, unknown>) => checked(p, { ...dir, ...change }, olds);

  test("the same inputs: no changes", async () => {
    expect(await p.diff(olds.uuid, olds, await next({}))).toEqual({ changes: false });
  });

  test.each([
    ["start", { start: false }],
    ["autostart", { autostart: false }],
    ["target", { target: { ...dir.target, permissions: { mode: "0700" } } }],
    ["build", { build: false }],
    ["forceDelete", { forceDelete: true }],
    ["timeoutSeconds", { timeoutSeconds: 60 }],
  ])("%s changes in place", async (_field, change) => {
    expect(await p.diff(olds.uuid, olds, await next(change))).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
  });

  test("a new type replaces, deleting first since the name stays", async () => {
    const news = { ...(await next({})), type: "netfs", source: { host: "h", dir: "/e" } };
    expect(await p.diff(olds.uuid, olds, news)).toEqual({ changes: true, replaces: ["type", "source"], deleteBeforeReplace: true });
  });

  test("a new name on a new directory replaces, creating first", async () => {
    expect(await p.diff(olds.uuid, olds, await next({ name: "other", target: { path: "/srv/other" } }))).toEqual({ changes: true, replaces: ["name"], deleteBeforeReplace: false });
  });

  test("a new name on the same directory replaces, deleting first (libvirt: \"Storage source conflict\")", async () => {
    expect(await p.diff(olds.uuid, olds, await next({ name: "other" }))).toEqual({ changes: true, replaces: ["name"], deleteBeforeReplace: true });
  });

  test("another host replaces, creating first", async () => {
    expect(await p.diff(olds.uuid, olds, await next({ uri: "qemu+ssh://root@other/system" }))).toEqual({ changes: true, replaces: ["uri"], deleteBeforeReplace: false });
  });

  test.each([
    ["name", { name: UNKNOWN, target: { path: "/srv/other" } }, { replaces: ["name"], deleteBeforeReplace: false }],
    ["target.path", { target: { path: UNKNOWN } }, { replaces: [], deleteBeforeReplace: false }],
    ["start", { start: UNKNOWN }, { replaces: [], deleteBeforeReplace: false }],
    ["source", { source: UNKNOWN }, { replaces: ["source"], deleteBeforeReplace: true }],
  ])("an unknown %s is a change", async (_what, change, expected) => {
    expect(await p.diff(olds.uuid, olds, { ...olds, ...change })).toEqual({ changes: true, ...expected });
  });

  test("the field table's rows are exactly the inputs tested here and in storagePool.int.test.ts", () => {
    expect(Object.keys(storagePoolFields).sort()).toEqual(["autostart", "build", "forceDelete", "name", "source", "start", "target", "timeoutSeconds", "type", "uri"]);
  });
});
