/**
 * Domain check(): every bad input is refused before anything touches libvirt, naming the field.
 * The provider is revived as the Pulumi host does it, pointed at a socket that does not exist:
 * a check that tried to connect would fail differently (or hang), not return failures.
 */
import { UNKNOWN } from "../core/unknown";
import { domainFields } from "./domain";
import { checked, closeProviderConnections, failureFor, revive, Revived } from "../../test/provider";

let p: Revived;
beforeAll(async () => {
  p = await revive("Domain", { "libvirt:uri": "qemu:///system?socket=/nonexistent" });
});
afterAll(async () => { await closeProviderConnections(); });

const GOOD = {
  name: "vm1",
  memory: "256MiB",
  disks: [{ file: "/var/lib/libvirt/images/vm1.qcow2", format: "qcow2" }],
  interfaces: [{ network: "default" }],
};
const KERNEL = { path: "/boot/vmlinuz" };

/** [description, inputs, property named in the failure, text the reason contains] */
const BAD: [string, Record<string, unknown>, string, RegExp][] = [
  ["memory missing", { ...GOOD, memory: undefined }, "memory", /required/],
  ["memory too small", { ...GOOD, memory: "8MiB" }, "memory", /at least 16MiB/],
  ["memory with a bad unit", { ...GOOD, memory: "256 MiBs" }, "memory", /not a size/],
  ["memory negative", { ...GOOD, memory: -1 }, "memory", /not a size/],
  ["memory over maxMemory", { ...GOOD, memory: "1GiB", maxMemory: "512MiB" }, "memory", /exceeds maxMemory/],
  ["maxMemory not a size", { ...GOOD, maxMemory: "lots" }, "maxMemory", /not a size/],
  ["vcpus 0", { ...GOOD, vcpus: 0 }, "vcpus", /whole number from 1/],
  ["vcpus fractional", { ...GOOD, vcpus: 1.5 }, "vcpus", /whole number/],
  ["vcpus over maxVcpus", { ...GOOD, vcpus: 4, maxVcpus: 2 }, "vcpus", /exceeds maxVcpus/],
  ["topology mismatch", { ...GOOD, vcpus: 2, maxVcpus: 4, cpu: { topology: { sockets: 1, cores: 2, threads: 1 } } }, "cpu.topology", /must equal maxVcpus \(4\)/],
  ["topology incomplete", { ...GOOD, cpu: { topology: { sockets: 1, cores: 1 } } }, "cpu.topology.threads", /sockets, cores and threads/],
  ["cpu mode unknown", { ...GOOD, cpu: { mode: "host" } }, "cpu.mode", /host-passthrough, host-model, custom/],
  ["cpu custom without model", { ...GOOD, cpu: { mode: "custom" } }, "cpu.model", /needs a model/],
  ["cpu passthrough with model", { ...GOOD, cpu: { mode: "host-passthrough", model: "qemu64" } }, "cpu.model", /from the host/],
  ["cpu typo", { ...GOOD, cpu: { modle: "custom" } }, "cpu.modle", /unknown property "modle"/],
  ["disk without a source", { ...GOOD, disks: [{ format: "raw" }] }, "disks[0]", /needs a source/],
  ["disk with two sources", { ...GOOD, disks: [{ file: "/a.img", block: "/dev/sdb" }] }, "disks[0]", /not file and block/],
  ["cdrom on virtio", { ...GOOD, disks: [{ device: "cdrom", bus: "virtio" }] }, "disks[0].bus", /cannot sit on the virtio bus/],
  ["cdrom with a virtio name", { ...GOOD, disks: [{ device: "cdrom", target: "vdc" }] }, "disks[0].target", /virtio bus/],
  ["duplicate target", { ...GOOD, disks: [{ file: "/a.img", target: "vdb" }, { file: "/b.img", target: "vdb" }] }, "disks[1].target", /vdb is used by another disk/],
  ["bad target name", { ...GOOD, disks: [{ file: "/a.img", target: "xvda" }] }, "disks[0].target", /device name such as vda/],
  ["target not matching the bus", { ...GOOD, disks: [{ file: "/a.img", target: "vda", bus: "sata" }] }, "disks[0].target", /does not match bus sata/],
  ["ide beyond hdd", { ...GOOD, disks: [{ file: "/a.img", target: "hde" }] }, "disks[0].target", /hda to hdd/],
  ["relative file path", { ...GOOD, disks: [{ file: "images/a.qcow2" }] }, "disks[0].file", /absolute path/],
  ["block device outside /dev", { ...GOOD, disks: [{ block: "/srv/disk" }] }, "disks[0].block", /block device under \/dev/],
  ["volume without pool", { ...GOOD, disks: [{ volume: { name: "a.qcow2" } }] }, "disks[0].volume.pool", /pool holding the volume/],
  ["volume name with a slash", { ...GOOD, disks: [{ volume: { pool: "default", name: "a/b" } }] }, "disks[0].volume.name", /without '\/'/],
  ["disk format unknown", { ...GOOD, disks: [{ file: "/a.img", format: "vmdk" }] }, "disks[0].format", /raw, qcow2/],
  ["read-only sata disk", { ...GOOD, disks: [{ file: "/a.img", bus: "sata", readonly: true }] }, "disks[0].readonly", /cannot make a sata disk read-only/],
  ["disk typo", { ...GOOD, disks: [{ file: "/a.img", chache: "none" }] }, "disks[0].chache", /unknown property "chache"/],
  ["disks not a list", { ...GOOD, disks: { file: "/a.img" } }, "disks", /list of disks/],
  ["interface with no kind", { ...GOOD, interfaces: [{ model: "virtio" }] }, "interfaces[0]", /exactly one of network/],
  ["interface with two kinds", { ...GOOD, interfaces: [{ network: "default", bridge: "br0" }] }, "interfaces[0]", /not network and bridge/],
  ["bad MAC", { ...GOOD, interfaces: [{ network: "default", mac: "52:54:00:12:34" }] }, "interfaces[0].mac", /six hex pairs/],
  ["multicast MAC", { ...GOOD, interfaces: [{ network: "default", mac: "01:00:5e:00:00:01" }] }, "interfaces[0].mac", /multicast/],
  ["duplicate MAC", { ...GOOD, interfaces: [{ network: "a", mac: "52:54:00:00:00:01" }, { network: "b", mac: "52:54:00:00:00:01" }] }, "interfaces[1].mac", /used by another interface/],
  ["duplicate MAC differing in case", { ...GOOD, interfaces: [{ network: "a", mac: "52:54:00:00:00:AB" }, { network: "b", mac: "52:54:00:00:00:ab" }] }, "interfaces[1].mac", /used by another interface/],
  ["bad NIC model", { ...GOOD, interfaces: [{ network: "default", model: "ne2k" }] }, "interfaces[0].model", /virtio, e1000/],
  ["bridge name too long", { ...GOOD, interfaces: [{ bridge: "a-very-long-bridge-name" }] }, "interfaces[0].bridge", /15 characters/],
  ["interface typo", { ...GOOD, interfaces: [{ netwrok: "default" }] }, "interfaces[0].netwrok", /unknown property "netwrok"/],
  ["firmware unknown", { ...GOOD, firmware: "uefi" }, "firmware", /bios, efi/],
  ["secureBoot with bios", { ...GOOD, secureBoot: true }, "secureBoot", /firmware: "efi"/],
  ["secureBoot without q35", { ...GOOD, firmware: "efi", secureBoot: true, machine: "pc" }, "secureBoot", /q35/],
  ["nvram with bios", { ...GOOD, nvram: "/var/lib/libvirt/qemu/nvram/vm1.fd" }, "nvram", /only used with firmware: "efi"/],
  ["boot with kernel", { ...GOOD, kernel: KERNEL, boot: ["hd"] }, "boot", /give kernel or boot, not both/],
  ["boot device unknown", { ...GOOD, boot: ["usb"] }, "boot[0]", /hd, cdrom, network/],
  ["boot device twice", { ...GOOD, boot: ["hd", "hd"] }, "boot[1]", /listed twice/],
  ["kernel without path", { ...GOOD, kernel: { cmdline: "console=ttyS0" } }, "kernel.path", /kernel's path/],
  ["kernel relative path", { ...GOOD, kernel: { path: "vmlinuz" } }, "kernel.path", /absolute path/],
  ["graphics listen a hostname", { ...GOOD, graphics: { listen: "localhost" } }, "graphics.listen", /IP address/],
  ["graphics listen not an address", { ...GOOD, graphics: { listen: "1.2.3" } }, "graphics.listen", /IP address/],
  ["graphics port below 5900", { ...GOOD, graphics: { port: 80 } }, "graphics.port", /5900 to 65535/],
  ["graphics type unknown", { ...GOOD, graphics: { type: "rdp" } }, "graphics.type", /vnc, spice/],
  ["graphics password with a space", { ...GOOD, graphics: { password: "a b" } }, "graphics.password", /without spaces/],
  ["a VNC password over 8 characters, not repeated", { ...GOOD, graphics: { type: "vnc", password: "123456789" } }, "graphics.password", /^the value \(9 characters\) is not valid: expected 1 to 8 characters.*VNC allows at most 8/],
  ["a spice password over 64 characters", { ...GOOD, graphics: { type: "spice", password: "x".repeat(65) } }, "graphics.password", /1 to 64 characters/],
  ["console file without path", { ...GOOD, console: { type: "file" } }, "console.path", /log file's path/],
  ["console pty with path", { ...GOOD, console: { type: "pty", path: "/tmp/x" } }, "console.path", /pty console has no path/],
  ["console type unknown", { ...GOOD, console: { type: "tcp" } }, "console.type", /pty, file/],
  ["video without model", { ...GOOD, video: {} }, "video.model", /needs a model/],
  ["video model unknown", { ...GOOD, video: { model: "vmvga2" } }, "video.model", /virtio, qxl/],
  ["tpm version unknown", { ...GOOD, tpm: { version: "3.0" } }, "tpm.version", /1.2, 2.0/],
  ["filesystems not a list", { ...GOOD, filesystems: "/srv" }, "filesystems", /list of shared directories/],
  ["filesystem without target", { ...GOOD, filesystems: [{ source: "/srv" }] }, "filesystems[0].target", /mount tag/],
  ["virtiofs read-only", { ...GOOD, filesystems: [{ source: "/srv", target: "srv", readonly: true }] }, "filesystems[0].readonly", /virtiofs cannot share read-only/],
  ["filesystem tag twice", { ...GOOD, filesystems: [{ source: "/a", target: "t" }, { source: "/b", target: "t" }] }, "filesystems[1].target", /used by another filesystem/],
  ["bad cpuset", { ...GOOD, cputune: { vcpupin: [{ vcpu: 0, cpuset: "0-a" }] } }, "cputune.vcpupin[0].cpuset", /host CPU list/],
  ["pin of a vCPU beyond vcpus, maxVcpus unset", { ...GOOD, vcpus: 2, cputune: { vcpupin: [{ vcpu: 2, cpuset: "0" }] } }, "cputune.vcpupin[0].vcpu", /from 0 to 1/],
  ["pin of a vCPU beyond maxVcpus", { ...GOOD, vcpus: 2, maxVcpus: 3, cputune: { vcpupin: [{ vcpu: 3, cpuset: "0" }] } }, "cputune.vcpupin[0].vcpu", /from 0 to 2/],
  ["vcpupin not a list", { ...GOOD, cputune: { vcpupin: { vcpu: 0, cpuset: "0" } } }, "cputune.vcpupin", /list of/],
  ["cputune shares too small", { ...GOOD, cputune: { shares: 1 } }, "cputune.shares", /from 2 to/],
  ["memtune hard limit below memory", { ...GOOD, memtune: { hardLimit: "128MiB" } }, "memtune.hardLimit", /below memory/],
  ["memtune hard limit below maxMemory", { ...GOOD, maxMemory: "1GiB", memtune: { hardLimit: "512MiB" } }, "memtune.hardLimit", /below maxMemory/],
  ["memtune soft above hard", { ...GOOD, memtune: { hardLimit: "1GiB", softLimit: "2GiB" } }, "memtune.softLimit", /must not exceed hardLimit/],
  ["memtune typo", { ...GOOD, memtune: { hard_limit: "1GiB" } }, "memtune.hard_limit", /unknown property/],
  ["blkioWeight out of range", { ...GOOD, blkioWeight: 5000 }, "blkioWeight", /100 to 1000/],
  ["numatune bad nodeset", { ...GOOD, numatune: { nodeset: "0-" } }, "numatune.nodeset", /NUMA node list/],
  ["numatune without nodeset", { ...GOOD, numatune: { mode: "strict" } }, "numatune.nodeset", /nodeset/],
  ["numatune mode unknown", { ...GOOD, numatune: { mode: "spread", nodeset: "0" } }, "numatune.mode", /strict, preferred/],
  ["static security label without label", { ...GOOD, securityLabel: { type: "static", model: "dac" } }, "securityLabel.label", /needs the label/],
  ["unknown top-level key (typo)", { ...GOOD, memroy: "1GiB" }, "memroy", /unknown property "memroy"/],
  ["another typo", { ...GOOD, autoStart: true }, "autoStart", /accepted are .*autostart/],
  ["xmlOverride not a <domain>", { ...GOOD, xmlOverride: "<network><name>x</name></network>" }, "xmlOverride", /<domain>/],
  ["xmlOverride not well-formed", { ...GOOD, xmlOverride: "<domain><on_crash>restart</domain>" }, "xmlOverride", /not well-formed XML/],
  ["state not in list", { ...GOOD, state: "stopped" }, "state", /running, shutoff, paused/],
  ["type not in list", { ...GOOD, type: "xen" }, "type", /kvm, qemu/],
  ["arch not in list", { ...GOOD, arch: "mips" }, "arch", /x86_64/],
  ["machine with spaces", { ...GOOD, machine: "pc q35" }, "machine", /machine type/],
  ["name with a slash", { ...GOOD, name: "a/b" }, "name", /letters, digits/],
  ["name missing", { ...GOOD, name: undefined }, "name", /required/],
  ["autostart not a boolean", { ...GOOD, autostart: "yes" }, "autostart", /true or false/],
  ["shutdownTimeoutSeconds negative", { ...GOOD, shutdownTimeoutSeconds: -1 }, "shutdownTimeoutSeconds", /from 0 to 3600/],
  ["waitForIpTimeoutSeconds zero", { ...GOOD, waitForIpTimeoutSeconds: 0 }, "waitForIpTimeoutSeconds", /from 1 to 3600/],
  ["uri not a libvirt URI", { ...GOOD, uri: "localhost" }, "uri", /libvirt URI/],
];

describe("check refuses bad inputs, naming the field", () => {
  test("the table has at least 40 distinct cases", () => {
    expect(new Set(BAD.map(([d]) => d)).size).toBe(BAD.length);
    expect(BAD.length).toBeGreaterThanOrEqual(40);
  });

  test.each(BAD)("%s", async (_what, news, property, reason) => {
    const inputs = Object.fromEntries(Object.entries(news).filter(([, v]) => v !== undefined));
    expect(await failureFor(p, inputs, property)).toMatch(reason);
  });

  test("every failure at once: check reports them all, not only the first", async () => {
    const r = await p.check({}, { ...GOOD, memory: "1KiB", vcpus: 0, state: "stopped", disks: [{}], interfaces: [{}] });
    expect(r.failures?.map((f) => f.property).sort()).toEqual(["disks[0]", "interfaces[0]", "memory", "state", "vcpus"]);
  });

  test("a failing check returns the inputs as given", async () => {
    const news = { ...GOOD, state: "stopped" };
    expect((await p.check({}, news)).inputs).toEqual(news);
  });
});

describe("check normalizes good inputs", () => {
  test("defaults, units and generated names", async () => {
    const i = await checked(p, { ...GOOD, maxMemory: "1GiB", disks: [...GOOD.disks, { device: "cdrom" }, { file: "/b.raw", bus: "scsi" }, { file: "/c.raw", target: "hdb" }] });
    expect(i).toMatchObject({
      memory: 256 * 1024 ** 2, maxMemory: 1024 ** 3, vcpus: 1, firmware: "bios", state: "running", autostart: false,
      allowRestart: false, shutdownTimeoutSeconds: 60, waitForIp: false, guestAgent: false, rng: false,
    });
    expect(i.maxVcpus).toBeUndefined(); // an unset ceiling is resolved at create (kept afterwards), not defaulted to vcpus
    expect(i.disks.map((d: any) => [d.target, d.bus, d.readonly])).toEqual([["vda", "virtio", undefined], ["hda", "ide", true], ["sda", "scsi", undefined], ["hdb", "ide", undefined]]);
    expect(i.interfaces[0]).toEqual({ network: "default", model: "virtio", mac: expect.stringMatching(/^52:54:00(:[0-9a-f]{2}){3}$/) });
  });

  test("host paths with spaces are accepted, as StoragePool accepts them (one rule for every path)", async () => {
    const i = await checked(p, { ...GOOD, disks: [{ file: "/srv/VM images/disk 1.qcow2" }], kernel: { path: "/srv/boot files/vmlinuz", initrd: "/srv/boot files/initrd" } });
    expect(i.disks[0].file).toBe("/srv/VM images/disk 1.qcow2");
    expect(i.kernel).toMatchObject({ path: "/srv/boot files/vmlinuz", initrd: "/srv/boot files/initrd" });
  });

  test("a target the user chose later in the list is not handed out earlier", async () => {
    const i = await checked(p, { ...GOOD, disks: [{ file: "/a.img" }, { file: "/b.img", target: "vda" }] });
    expect(i.disks.map((d: any) => d.target)).toEqual(["vdb", "vda"]);
  });

  test("the bus follows the target's prefix when only the target is given", async () => {
    const i = await checked(p, { ...GOOD, disks: [{ device: "cdrom", target: "sdc" }, { file: "/a.img", target: "hdb" }] });
    expect(i.disks.map((d: any) => d.bus)).toEqual(["sata", "ide"]);
  });

  test("check never connects: it passes with an unreachable URI", async () => {
    // A connection attempt would fail, or retry the missing socket for the 300 s default
    // timeout, well past jest's: either way this test would fail.
    await checked(p, GOOD);
  });
});

describe("unknown values in preview pass check", () => {
  test.each([
    ["name", { ...GOOD, name: UNKNOWN }],
    ["memory", { ...GOOD, memory: UNKNOWN }],
    ["the whole disk list", { ...GOOD, disks: UNKNOWN }],
    ["one disk", { ...GOOD, disks: [UNKNOWN, ...GOOD.disks] }],
    ["a disk's file", { ...GOOD, disks: [{ file: UNKNOWN }] }],
    ["a disk's volume", { ...GOOD, disks: [{ volume: UNKNOWN }] }],
    ["a volume's name", { ...GOOD, disks: [{ volume: { pool: "default", name: UNKNOWN } }] }],
    ["a disk's target", { ...GOOD, disks: [{ file: "/a.img", target: UNKNOWN }, { file: "/b.img" }] }],
    ["a disk's bus", { ...GOOD, disks: [{ file: "/a.img", bus: UNKNOWN }] }],
    ["the whole interface list", { ...GOOD, interfaces: UNKNOWN }],
    ["one interface", { ...GOOD, interfaces: [UNKNOWN, { network: "default" }] }],
    ["an interface's network", { ...GOOD, interfaces: [{ network: UNKNOWN }] }],
    ["an interface's MAC", { ...GOOD, interfaces: [{ network: "default", mac: UNKNOWN }] }],
    ["cpu", { ...GOOD, cpu: UNKNOWN }],
    ["kernel", { ...GOOD, kernel: UNKNOWN }],
    ["graphics", { ...GOOD, graphics: UNKNOWN }],
    ["cputune.vcpupin", { ...GOOD, cputune: { vcpupin: UNKNOWN } }],
    ["xmlOverride", { ...GOOD, xmlOverride: UNKNOWN }],
  ])("%s", async (_what, news) => {
    const i = await checked(p, news);
    expect(JSON.stringify(i)).toContain(UNKNOWN);
  });

  test("an unknown name leaves MACs to be generated once it is known", async () => {
    const i = await checked(p, { ...GOOD, name: UNKNOWN });
    expect(i.interfaces[0].mac).toBeUndefined();
  });
});

describe("MACs are generated once and stay stable", () => {
  const nics = [{ network: "a" }, { network: "b" }, { bridge: "br0", model: "e1000" }];

  test("same name, same MACs across checks; another name, other MACs", async () => {
    const a = await checked(p, { ...GOOD, interfaces: nics });
    const b = await checked(p, { ...GOOD, interfaces: nics });
    const c = await checked(p, { ...GOOD, name: "vm2", interfaces: nics });
    const macs = (x: any) => x.interfaces.map((i: any) => i.mac);
    expect(macs(a)).toEqual(macs(b));
    expect(new Set(macs(a)).size).toBe(3);
    expect(macs(c).some((m: string) => macs(a).includes(m))).toBe(false);
  });

  test("an explicit MAC is kept (lower-cased) and never handed out again", async () => {
    const first = await checked(p, { ...GOOD, interfaces: nics });
    const taken = first.interfaces[1].mac.toUpperCase();
    const i = await checked(p, { ...GOOD, interfaces: [{ network: "a" }, { network: "b", mac: taken }] });
    expect(i.interfaces[1].mac).toBe(taken.toLowerCase());
    expect(i.interfaces[0].mac).not.toBe(taken.toLowerCase());
  });

  test("with previous inputs, interfaces keep their MACs when others are added or removed", async () => {
    const before = await checked(p, { ...GOOD, interfaces: nics });
    const macOf = (x: any, kind: string) => x.interfaces.find((i: any) => (i.network ?? i.bridge) === kind).mac;
    // The first interface removed: b and br0 keep their MACs although their positions changed.
    const removed = await checked(p, { ...GOOD, interfaces: nics.slice(1) }, before);
    expect(macOf(removed, "b")).toBe(macOf(before, "b"));
    expect(macOf(removed, "br0")).toBe(macOf(before, "br0"));
    // One inserted at the front: the old ones keep theirs, the new one gets a fresh MAC.
    const inserted = await checked(p, { ...GOOD, interfaces: [{ network: "c" }, ...nics] }, before);
    for (const k of ["a", "b", "br0"]) expect(macOf(inserted, k)).toBe(macOf(before, k));
    expect(before.interfaces.map((i: any) => i.mac)).not.toContain(macOf(inserted, "c"));
    // And the result is stable: checking again against the same previous inputs gives the same.
    expect(await checked(p, { ...GOOD, interfaces: [{ network: "c" }, ...nics] }, before)).toEqual(inserted);
  });

  test("a renamed domain (a replacement that exists beside the old one) does not reuse the old MACs", async () => {
    const before = await checked(p, { ...GOOD, interfaces: nics });
    const renamed = await checked(p, { ...GOOD, name: "vm1-new", interfaces: nics }, before);
    for (const m of renamed.interfaces.map((i: any) => i.mac)) expect(before.interfaces.map((i: any) => i.mac)).not.toContain(m);
  });
});

describe("diff from the field table", () => {
  test("no change, no diff; replacement fields replace; restart and live fields update in place", async () => {
    const inputs = await checked(p, { ...GOOD, type: "qemu" });
    const outs = { ...inputs, uuid: "u", domainId: 1, status: "running", macs: [], interfaceAddresses: [], ipAddress: "", graphicsPort: 0, consolePath: "" };
    expect(await p.diff("u", outs, inputs)).toEqual({ changes: false });
    for (const [k, v] of [["name", "vm9"], ["type", "kvm"], ["uri", "qemu+ssh://h/system"]] as const) {
      const d = await p.diff("u", outs, await checked(p, { ...GOOD, type: "qemu", [k]: v }));
      expect(d.replaces).toContain(k);
    }
    for (const [k, v] of [["memory", "512MiB"], ["rng", true], ["allowRestart", true], ["state", "paused"]] as const) {
      const d = await p.diff("u", outs, await checked(p, { ...GOOD, type: "qemu", [k]: v }));
      expect(d).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    }
    // An unknown name in preview is a replacement.
    expect((await p.diff("u", outs, { ...inputs, name: UNKNOWN })).replaces).toEqual(["name"]);
  });
});

describe("graphics: what the running guest reports", () => {
  const same = domainFields.graphics.same!;
  it("an unset listen is the host's default, whatever address the guest got", () => {
    expect(same({ type: "vnc", password: "pw" }, { type: "vnc", listen: "127.0.0.1", password: "pw" }, undefined)).toBe(true);
  });
  it("a listen that was asked for must match, and so must the rest", () => {
    expect(same({ type: "vnc", listen: "0.0.0.0" }, { type: "vnc", listen: "127.0.0.1" }, undefined)).toBe(false);
    expect(same({ type: "vnc" }, { type: "spice", listen: "127.0.0.1" }, undefined)).toBe(false);
    expect(same({ type: "vnc" }, undefined, undefined)).toBe(false);
  });
});
