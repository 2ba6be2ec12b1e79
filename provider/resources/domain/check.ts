/**
 * Domain input validation: every failure names the field and what it accepts, before anything
 * touches libvirt. Also fills in what is decided once (disk targets, MACs).
 */
import { createHash } from "node:crypto";
import { isIP } from "node:net";
import { Parser } from "xml2js";
import { ABSOLUTE_PATH, Checker, OBJECT_NAME } from "../../core/check";
import { containsUnknown, isUnknown } from "../../core/unknown";
import type { DiskBus, DiskDef, InterfaceDef } from "../../xml/domain";
import type { DomainInputs } from "./inputs";

const BUS_PREFIX: Record<DiskBus, string> = { virtio: "vd", sata: "sd", scsi: "sd", usb: "sd", ide: "hd" };
const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i;

/** vda, vdb, ... vdz, vdaa: the device name for the n-th disk on a bus prefix. */
function targetName(prefix: string, n: number): string {
  let s = "";
  for (let i = n; i >= 0; i = Math.floor(i / 26) - 1) s = String.fromCharCode(97 + (i % 26)) + s;
  return prefix + s;
}

/** A locally administered MAC in QEMU's range, stable for a domain name and interface position. */
export function stableMac(domain: string, index: number): string {
  const h = createHash("sha256").update(`${domain}/${index}`).digest();
  return `52:54:00:${[h[0], h[1], h[2]].map((b) => b.toString(16).padStart(2, "0")).join(":")}`;
}

const TARGET = { pattern: /^(vd|sd|hd)[a-z]{1,3}$/, accepted: "a device name such as vda, sdb or hdc" };
const BUS_OF_PREFIX: Record<string, DiskBus> = { vd: "virtio", sd: "sata", hd: "ide" };

function checkDisks(c: Checker, raw: unknown): DiskDef[] | undefined {
  if (raw === undefined || isUnknown(raw)) return raw as undefined;
  if (!Array.isArray(raw)) return c.fail("disks", "expected a list of disks");
  // Targets the user chose are taken first, so a generated name never collides with a later one.
  const explicit = new Set(raw.map((d: any) => (d && typeof d === "object" && typeof d.target === "string" ? d.target : undefined)).filter((t): t is string => !!t));
  const used = new Set<string>();
  const counters = new Map<string, number>();
  return raw.map((d: any, i): DiskDef => {
    const p = `disks[${i}]`;
    if (isUnknown(d)) return d; // a whole disk not known yet (preview)
    const o = c.object(p, d) ?? {};
    c.noExtraKeys(p, o, ["device", "volume", "file", "block", "target", "bus", "format", "cache", "discard", "readonly", "serial"]);
    const device = c.oneOf(`${p}.device`, o.device, ["disk", "cdrom"] as const) ?? "disk";
    const sources = ["volume", "file", "block"].filter((k) => o[k] !== undefined);
    if (sources.length > 1) c.fail(p, `give one of volume, file or block, not ${sources.join(" and ")}`);
    if (sources.length === 0 && device === "disk") c.fail(p, "a disk needs a source: volume ({ pool, name }), file or block (only a cdrom may be empty)");
    const vol = c.object(`${p}.volume`, o.volume);
    c.noExtraKeys(`${p}.volume`, vol, ["pool", "name"]);
    if (vol && !isUnknown(o.volume)) {
      c.string(`${p}.volume.pool`, vol.pool, OBJECT_NAME);
      c.string(`${p}.volume.name`, vol.name, { pattern: /^[^/]+$/, accepted: "a volume name without '/'" });
      if (vol.pool === undefined) c.fail(`${p}.volume.pool`, "the pool holding the volume is required");
      if (vol.name === undefined) c.fail(`${p}.volume.name`, "the volume name is required");
    }
    let target = c.string(`${p}.target`, o.target, TARGET);
    const known = (v: unknown): v is string => typeof v === "string" && !isUnknown(v);
    // The bus follows the target's prefix when only the target is given (hdc: ide, sdb: sata).
    const inferred = known(target) ? BUS_OF_PREFIX[target.slice(0, 2)] : undefined;
    const bus = c.oneOf(`${p}.bus`, o.bus, ["virtio", "sata", "scsi", "ide", "usb"] as const) ?? inferred ?? (device === "cdrom" ? "ide" : "virtio");
    if (device === "cdrom" && bus === "virtio") c.fail(o.bus === undefined ? `${p}.target` : `${p}.bus`, "a cdrom cannot sit on the virtio bus: use ide (hdX), sata or scsi (sdX)");
    if (target === undefined && !isUnknown(o.target) && known(bus)) {
      const prefix = BUS_PREFIX[bus];
      let n = counters.get(prefix) ?? 0;
      while (used.has(targetName(prefix, n)) || explicit.has(targetName(prefix, n))) n++;
      target = targetName(prefix, n);
      counters.set(prefix, n + 1);
    }
    if (known(target)) {
      if (used.has(target)) c.fail(`${p}.target`, `${target} is used by another disk`);
      used.add(target);
      if (known(bus) && !target.startsWith(BUS_PREFIX[bus])) c.fail(`${p}.target`, `${target} does not match bus ${bus}: ${bus} disks are named ${BUS_PREFIX[bus]}a, ${BUS_PREFIX[bus]}b...`);
      if (bus === "ide" && !/^hd[a-d]$/.test(target)) c.fail(`${p}.target`, `${target}: the ide bus holds four devices, hda to hdd`);
    }
    const readonly = device === "cdrom" ? true : c.bool(`${p}.readonly`, o.readonly);
    if (device === "disk" && readonly === true && (bus === "sata" || bus === "ide")) c.fail(`${p}.readonly`, `QEMU cannot make a ${bus} disk read-only: use bus virtio, scsi or usb`);
    return {
      device, bus, target: target as string,
      volume: vol as DiskDef["volume"],
      file: c.string(`${p}.file`, o.file, ABSOLUTE_PATH),
      block: c.string(`${p}.block`, o.block, { pattern: /^\/dev\/\S+$/, accepted: "a block device under /dev" }),
      format: c.oneOf(`${p}.format`, o.format, ["raw", "qcow2"] as const),
      cache: c.oneOf(`${p}.cache`, o.cache, ["default", "none", "writethrough", "writeback", "directsync", "unsafe"] as const),
      discard: c.oneOf(`${p}.discard`, o.discard, ["unmap", "ignore"] as const),
      readonly,
      serial: c.string(`${p}.serial`, o.serial, { pattern: /^[A-Za-z0-9_.+-]{1,20}$/, accepted: "up to 20 letters, digits or _ . + -" }),
    };
  });
}

/**
 * Interfaces without a MAC get one generated once: an unchanged interface keeps the MAC it was
 * given before (matched by its network, bridge or device, in order), a new one gets a MAC derived
 * from the domain name and its position (stable across checks), skipping MACs already taken.
 */
function checkInterfaces(c: Checker, raw: unknown, name: unknown, olds: Partial<DomainInputs>): InterfaceDef[] | undefined {
  if (raw === undefined || isUnknown(raw)) return raw as undefined;
  if (!Array.isArray(raw)) return c.fail("interfaces", "expected a list of network interfaces");
  const MAC_RULE = { pattern: MAC, accepted: "six hex pairs separated by colons, e.g. 52:54:00:12:34:56" };
  const explicit = new Set(raw.map((n: any) => (n && typeof n === "object" && typeof n.mac === "string" && MAC.test(n.mac) ? n.mac.toLowerCase() : undefined)).filter((m): m is string => !!m));
  // Interfaces alike in everything but the MAC are interchangeable: any of them may take the MAC.
  const source = (n: any) => `${n.network !== undefined ? `network:${n.network}` : n.bridge !== undefined ? `bridge:${n.bridge}` : `macvtap:${n.macvtap}`}/${n.model ?? "virtio"}`;
  // MACs of the previous inputs, reusable only while the domain keeps its name.
  const reusable = olds.name === name && Array.isArray(olds.interfaces)
    ? olds.interfaces.filter((n: any) => n && typeof n === "object" && typeof n.mac === "string" && !isUnknown(n.mac) && !explicit.has(n.mac.toLowerCase()))
    : [];
  const macs = new Set<string>();
  return raw.map((n: any, i): InterfaceDef => {
    const p = `interfaces[${i}]`;
    if (isUnknown(n)) return n; // a whole interface not known yet (preview)
    const o = c.object(p, n) ?? {};
    c.noExtraKeys(p, o, ["network", "bridge", "macvtap", "model", "mac"]);
    const kinds = ["network", "bridge", "macvtap"].filter((k) => o[k] !== undefined);
    if (kinds.length !== 1) c.fail(p, `give exactly one of network (a libvirt network), bridge (a host bridge) or macvtap (a host device)${kinds.length ? `, not ${kinds.join(" and ")}` : ""}`);
    let mac = c.string(`${p}.mac`, o.mac, MAC_RULE)?.toLowerCase();
    if (mac && !isUnknown(mac) && parseInt(mac.slice(0, 2), 16) & 1) c.fail(`${p}.mac`, `${mac} is a multicast address: the first byte must be even`);
    if (mac === undefined && !isUnknown(o.mac) && typeof name === "string" && !isUnknown(name) && kinds.length === 1 && !containsUnknown(o[kinds[0]])) {
      const k = reusable.findIndex((old: any) => source(old) === source(o) && !macs.has(old.mac.toLowerCase()));
      if (k >= 0) mac = (reusable.splice(k, 1)[0] as InterfaceDef).mac.toLowerCase();
      else {
        const taken = (m: string) => macs.has(m) || explicit.has(m) || reusable.some((old: any) => old.mac.toLowerCase() === m);
        for (let salt = i; taken((mac = stableMac(name, salt))); salt += raw.length);
      }
    }
    if (mac && !isUnknown(mac)) {
      if (macs.has(mac)) c.fail(`${p}.mac`, `${mac} is used by another interface`);
      macs.add(mac);
    }
    return {
      network: c.string(`${p}.network`, o.network, OBJECT_NAME),
      bridge: c.string(`${p}.bridge`, o.bridge, { pattern: /^[A-Za-z0-9_.:-]{1,15}$/, accepted: "a host bridge name of up to 15 characters" }),
      macvtap: c.string(`${p}.macvtap`, o.macvtap, { pattern: /^[A-Za-z0-9_.:-]{1,15}$/, accepted: "a host network device name of up to 15 characters" }),
      model: c.oneOf(`${p}.model`, o.model, ["virtio", "e1000", "e1000e", "rtl8139"] as const) ?? "virtio",
      mac: mac as string,
    };
  });
}

/** An object input, or undefined; an unknown (preview) value passes as undefined here and whole in the result. */
function objectInput(c: Checker, property: string, v: unknown, known: readonly string[]): Record<string, any> | undefined {
  if (isUnknown(v)) return undefined;
  const o = c.object(property, v);
  c.noExtraKeys(property, o, known);
  return o;
}

/** A list input: undefined when unset or unknown, failing when it is not a list. */
function listInput(c: Checker, property: string, v: unknown, what: string): unknown[] | undefined {
  if (v === undefined || v === null || isUnknown(v)) return undefined;
  if (!Array.isArray(v)) return c.fail(property, `expected a list of ${what}, got ${JSON.stringify(v)?.slice(0, 60)}`);
  return v;
}

const isNum = (v: unknown): v is number => typeof v === "number";
const X86 = [undefined, "x86_64", "i686"];

export function checkInputs(news: Record<string, any>, c: Checker, olds: Partial<DomainInputs>): DomainInputs {
  /** The checked value, or the unknown value itself when the whole input is not known yet. */
  const keep = <T>(raw: unknown, built: T): T => (isUnknown(raw) ? (raw as T) : built);
  const name = c.string("name", news.name, OBJECT_NAME);
  c.required("name", news.name);
  const memory = c.size("memory", news.memory);
  c.required("memory", news.memory);
  const maxMemory = c.size("maxMemory", news.maxMemory);
  if (isNum(memory) && memory < 16 * 1024 ** 2) c.fail("memory", `${memory} bytes is too little for any guest: give at least 16MiB`);
  if (isNum(memory) && isNum(maxMemory) && memory > maxMemory) c.fail("memory", `memory (${memory}) exceeds maxMemory (${maxMemory}): raise maxMemory or lower memory`);
  const vcpus = c.int("vcpus", news.vcpus, 1, 4096) ?? 1;
  const maxVcpus = c.int("maxVcpus", news.maxVcpus, 1, 4096);
  if (isNum(vcpus) && isNum(maxVcpus) && vcpus > maxVcpus) c.fail("vcpus", `vcpus (${vcpus}) exceeds maxVcpus (${maxVcpus}): raise maxVcpus or lower vcpus`);

  const cpu = objectInput(c, "cpu", news.cpu, ["mode", "model", "topology"]);
  const topo = objectInput(c, "cpu.topology", cpu?.topology, ["sockets", "cores", "threads"]);
  const topology = topo && {
    sockets: c.int("cpu.topology.sockets", topo.sockets, 1, 256)!, cores: c.int("cpu.topology.cores", topo.cores, 1, 256)!, threads: c.int("cpu.topology.threads", topo.threads, 1, 8)!,
  };
  for (const part of ["sockets", "cores", "threads"] as const) if (topo && topo[part] === undefined) c.fail(`cpu.topology.${part}`, `cpu.topology needs sockets, cores and threads (their product is maxVcpus)`);
  const product = topology && isNum(topology.sockets) && isNum(topology.cores) && isNum(topology.threads) ? topology.sockets * topology.cores * topology.threads : undefined;
  if (product !== undefined && isNum(maxVcpus) && product !== maxVcpus) c.fail("cpu.topology", `sockets x cores x threads (${product}) must equal maxVcpus (${maxVcpus})`);
  if (product !== undefined && maxVcpus === undefined && isNum(vcpus) && vcpus > product) c.fail("vcpus", `vcpus (${vcpus}) exceeds what cpu.topology holds (sockets x cores x threads = ${product})`);
  const cpuMode = c.oneOf("cpu.mode", cpu?.mode, ["host-passthrough", "host-model", "custom"] as const);
  if (cpu && cpuMode === "custom" && cpu.model === undefined) c.fail("cpu.model", "cpu.mode custom needs a model, e.g. qemu64 or Skylake-Client");
  if (cpu && (cpuMode === "host-passthrough" || cpuMode === "host-model") && cpu.model !== undefined) c.fail("cpu.model", `cpu.mode ${cpuMode} takes its model from the host: leave out model, or use mode custom`);

  const arch = c.oneOf("arch", news.arch, ["x86_64", "i686", "aarch64", "ppc64le", "s390x", "riscv64"] as const);
  const machine = c.string("machine", news.machine, { pattern: /^[A-Za-z0-9_.-]+$/, accepted: "a machine type such as pc, q35 or pc-q35-7.2" });
  const firmware = c.oneOf("firmware", news.firmware, ["bios", "efi"] as const) ?? "bios";
  const secureBoot = c.bool("secureBoot", news.secureBoot);
  if (secureBoot && firmware !== "efi") c.fail("secureBoot", "secure boot needs firmware: \"efi\"");
  if (secureBoot && firmware === "efi" && X86.includes(arch) && !isUnknown(machine) && !/q35/.test(machine ?? "")) {
    c.fail("secureBoot", `secure boot on x86 needs a q35 machine (SMM), not ${machine ?? "the default pc"}: set machine: "q35"`);
  }
  const nvram = c.string("nvram", news.nvram, ABSOLUTE_PATH);
  if (nvram !== undefined && !isUnknown(nvram) && firmware !== "efi") c.fail("nvram", "an NVRAM variable store is only used with firmware: \"efi\"");
  const bootList = listInput(c, "boot", news.boot, "boot devices: hd, cdrom, network");
  const boot = bootList?.map((b, i) => c.oneOf(`boot[${i}]`, b, ["hd", "cdrom", "network"] as const)!);
  bootList?.forEach((b, i) => { if (typeof b === "string" && bootList.indexOf(b) !== i) c.fail(`boot[${i}]`, `${b} is listed twice`); });
  const k = objectInput(c, "kernel", news.kernel, ["path", "initrd", "cmdline"]);
  const kernel = k && { path: c.string("kernel.path", k.path, ABSOLUTE_PATH)!, initrd: c.string("kernel.initrd", k.initrd, ABSOLUTE_PATH), cmdline: c.string("kernel.cmdline", k.cmdline) };
  if (k && k.path === undefined) c.fail("kernel.path", "direct kernel boot needs the kernel's path on the host");
  if ((kernel || isUnknown(news.kernel)) && news.boot !== undefined) c.fail("boot", "boot order does not apply with direct kernel boot: give kernel or boot, not both");

  const g = objectInput(c, "graphics", news.graphics, ["type", "listen", "port", "password"]);
  const listen = c.string("graphics.listen", g?.listen, { pattern: /^[0-9a-fA-F.:]+$/, accepted: "an IP address such as 127.0.0.1, 0.0.0.0 or ::1" });
  if (listen && !isUnknown(listen) && !isIP(listen)) c.fail("graphics.listen", `${JSON.stringify(listen)} is not valid: expected an IP address such as 127.0.0.1, 0.0.0.0 or ::1`);
  const graphicsType = c.oneOf("graphics.type", g?.type, ["vnc", "spice"] as const) ?? "vnc";
  // QEMU refuses a longer VNC password when the guest starts; spice takes up to 64 here.
  const maxPassword = graphicsType === "vnc" ? 8 : 64;
  const graphics = g && {
    type: graphicsType,
    listen,
    port: c.int("graphics.port", g.port, 5900, 65535),
    password: c.string("graphics.password", g.password, { pattern: /^[^\s]+$/, max: maxPassword, secret: true, accepted: `1 to ${maxPassword} characters without spaces (${graphicsType === "vnc" ? "VNC allows at most 8; spice 64" : "spice"})` }),
  };
  const con = objectInput(c, "console", news.console, ["type", "path"]);
  const consoleType = c.oneOf("console.type", con?.type, ["pty", "file"] as const) ?? (con ? "pty" : undefined);
  if (con && consoleType === "file" && con.path === undefined) c.fail("console.path", "a file console needs the log file's path on the host");
  if (con && consoleType === "pty" && con.path !== undefined) c.fail("console.path", "a pty console has no path (libvirt allocates the pty): use type \"file\" to log to a file");
  const v = objectInput(c, "video", news.video, ["model"]);
  if (v && v.model === undefined) c.fail("video.model", "video needs a model: virtio, qxl, vga, cirrus, bochs or none");
  const tpm = objectInput(c, "tpm", news.tpm, ["model", "version"]);
  const fsTags = new Set<string>();
  const filesystems = listInput(c, "filesystems", news.filesystems, "shared directories")?.map((raw: any, i: number) => {
    const p = `filesystems[${i}]`;
    if (isUnknown(raw)) return raw;
    const f = objectInput(c, p, raw, ["driver", "source", "target", "readonly"]) ?? {};
    const fs = {
      driver: c.oneOf(`${p}.driver`, f.driver, ["virtiofs", "9p"] as const) ?? "virtiofs",
      source: c.string(`${p}.source`, f.source, ABSOLUTE_PATH)!,
      target: c.string(`${p}.target`, f.target, { pattern: /^[A-Za-z0-9_.-]{1,36}$/, accepted: "a mount tag of up to 36 letters, digits or _ . -" })!,
      readonly: c.bool(`${p}.readonly`, f.readonly),
    };
    if (f.source === undefined) c.fail(`${p}.source`, "the host directory to share is required");
    if (f.target === undefined) c.fail(`${p}.target`, "the mount tag the guest mounts is required");
    if (fs.driver === "virtiofs" && fs.readonly) c.fail(`${p}.readonly`, "virtiofs cannot share read-only (libvirt refuses it): use driver 9p, or mount read-only in the guest");
    if (typeof fs.target === "string" && !isUnknown(fs.target)) {
      if (fsTags.has(fs.target)) c.fail(`${p}.target`, `mount tag ${fs.target} is used by another filesystem`);
      fsTags.add(fs.target);
    }
    return fs;
  });
  const ct = objectInput(c, "cputune", news.cputune, ["shares", "period", "quota", "vcpupin"]);
  const pinned = new Set<number>();
  const vcpupin = listInput(c, "cputune.vcpupin", ct?.vcpupin, "{ vcpu, cpuset } pins")?.map((raw: any, i: number) => {
    const p = `cputune.vcpupin[${i}]`;
    if (isUnknown(raw)) return raw;
    const pin = objectInput(c, p, raw, ["vcpu", "cpuset"]) ?? {};
    const vcpu = c.int(`${p}.vcpu`, pin.vcpu, 0, (isNum(maxVcpus) ? maxVcpus : product ?? (isNum(vcpus) ? vcpus : 4096)) - 1)!;
    const cpuset = c.string(`${p}.cpuset`, pin.cpuset, { pattern: /^\^?\d+(-\d+)?(,\^?\d+(-\d+)?)*$/, accepted: "a host CPU list such as 0-3,6 or ^2" })!;
    if (pin.vcpu === undefined) c.fail(`${p}.vcpu`, "the vCPU number to pin is required");
    if (pin.cpuset === undefined) c.fail(`${p}.cpuset`, "the host CPUs to pin to are required, e.g. \"0-1\"");
    if (isNum(vcpu)) {
      if (pinned.has(vcpu)) c.fail(`${p}.vcpu`, `vCPU ${vcpu} is pinned twice`);
      pinned.add(vcpu);
    }
    return { vcpu, cpuset };
  });
  const mt = objectInput(c, "memtune", news.memtune, ["hardLimit", "softLimit"]);
  const memtune = mt && { hardLimit: c.size("memtune.hardLimit", mt.hardLimit), softLimit: c.size("memtune.softLimit", mt.softLimit) };
  const ceiling = maxMemory ?? memory;
  if (memtune && isNum(memtune.hardLimit) && isNum(ceiling) && memtune.hardLimit < ceiling) {
    c.fail("memtune.hardLimit", `${memtune.hardLimit} bytes is below ${maxMemory === undefined ? "memory" : "maxMemory"} (${ceiling}): the host would kill QEMU; leave room for its own overhead`);
  }
  if (memtune && isNum(memtune.hardLimit) && isNum(memtune.softLimit) && memtune.softLimit > memtune.hardLimit) c.fail("memtune.softLimit", "softLimit must not exceed hardLimit");
  const nt = objectInput(c, "numatune", news.numatune, ["mode", "nodeset"]);
  if (nt && nt.nodeset === undefined) c.fail("numatune.nodeset", "numatune needs the host NUMA nodes, e.g. nodeset: \"0\"");
  const sl = objectInput(c, "securityLabel", news.securityLabel, ["type", "model", "label", "relabel"]);
  const slType = c.oneOf("securityLabel.type", sl?.type, ["dynamic", "static", "none"] as const) ?? "dynamic";
  if (sl && slType === "static" && sl.label === undefined) c.fail("securityLabel.label", "a static security label needs the label, e.g. \"system_u:system_r:svirt_t:s0:c1,c2\" (selinux) or \"107:107\" (dac)");
  const override = c.string("xmlOverride", news.xmlOverride, { pattern: /^\s*<domain[\s>][\s\S]*<\/domain>\s*$/, accepted: "a <domain>...</domain> fragment whose elements replace the generated ones (devices are appended)" });
  if (override && !isUnknown(override)) {
    const error = xmlSyntaxError(override);
    if (error) c.fail("xmlOverride", `not well-formed XML: ${error}`);
  }

  return {
    name: name as string,
    type: c.oneOf("type", news.type, ["kvm", "qemu"] as const),
    description: c.string("description", news.description),
    memory: memory as number, maxMemory, vcpus, maxVcpus,
    cpu: keep(news.cpu, cpu && { mode: cpuMode, model: c.string("cpu.model", cpu.model, { pattern: /^[A-Za-z0-9_.-]+$/, accepted: "a CPU model name such as qemu64" }), topology: keep(cpu.topology, topology) }),
    arch, machine,
    firmware, secureBoot, nvram,
    boot: keep(news.boot, boot),
    kernel: keep(news.kernel, kernel),
    disks: keep(news.disks, checkDisks(c, news.disks) ?? []),
    interfaces: keep(news.interfaces, checkInterfaces(c, news.interfaces, name, olds) ?? []),
    graphics: keep(news.graphics, graphics),
    console: keep(news.console, con && { type: consoleType as "pty", path: c.string("console.path", con.path, ABSOLUTE_PATH) }),
    guestAgent: c.bool("guestAgent", news.guestAgent) ?? false,
    video: keep(news.video, v && { model: c.oneOf("video.model", v.model, ["virtio", "qxl", "vga", "cirrus", "bochs", "none"] as const)! }),
    rng: c.bool("rng", news.rng) ?? false,
    tpm: keep(news.tpm, tpm && { model: c.oneOf("tpm.model", tpm.model, ["tpm-tis", "tpm-crb"] as const) ?? "tpm-crb", version: c.oneOf("tpm.version", tpm.version, ["1.2", "2.0"] as const) }),
    filesystems: keep(news.filesystems, filesystems as DomainInputs["filesystems"]),
    cputune: keep(news.cputune, ct && {
      shares: c.int("cputune.shares", ct.shares, 2, 262144), period: c.int("cputune.period", ct.period, 1000, 1000000),
      quota: c.int("cputune.quota", ct.quota, -1, 17592186044415),
      vcpupin: keep(ct.vcpupin, vcpupin),
    }),
    memtune: keep(news.memtune, memtune),
    blkioWeight: c.int("blkioWeight", news.blkioWeight, 100, 1000),
    numatune: keep(news.numatune, nt && { mode: c.oneOf("numatune.mode", nt.mode, ["strict", "preferred", "interleave", "restrictive"] as const) ?? "strict", nodeset: c.string("numatune.nodeset", nt.nodeset, { pattern: /^\d+(-\d+)?(,\d+(-\d+)?)*$/, accepted: "a host NUMA node list such as 0 or 0-1" })! }),
    hugepages: c.bool("hugepages", news.hugepages) ?? false,
    noSharePages: c.bool("noSharePages", news.noSharePages) ?? false,
    securityLabel: keep(news.securityLabel, sl && { type: slType, model: c.oneOf("securityLabel.model", sl.model, ["selinux", "apparmor", "dac", "none"] as const), label: c.string("securityLabel.label", sl.label), relabel: c.bool("securityLabel.relabel", sl.relabel) }),
    xmlOverride: override,
    autostart: c.bool("autostart", news.autostart) ?? false,
    state: c.oneOf("state", news.state, ["running", "shutoff", "paused", "saved"] as const) ?? "running",
    allowRestart: c.bool("allowRestart", news.allowRestart) ?? false,
    shutdownTimeoutSeconds: c.int("shutdownTimeoutSeconds", news.shutdownTimeoutSeconds, 0, 3600) ?? 60,
    waitForIp: c.bool("waitForIp", news.waitForIp) ?? false,
    waitForIpTimeoutSeconds: c.int("waitForIpTimeoutSeconds", news.waitForIpTimeoutSeconds, 1, 3600) ?? 300,
    migration: checkMigration(c, news.migration),
  };
}

function checkMigration(c: Checker, v: unknown): DomainInputs["migration"] {
  const m = c.object("migration", v);
  if (!m || typeof m !== "object") return m;
  c.noExtraKeys("migration", m, ["mode", "storage", "peerUri", "bandwidthMiBs"]);
  const mode = c.oneOf("migration.mode", m.mode, ["live", "offline"] as const);
  if (m.mode === undefined) c.fail("migration.mode", "migration.mode is required: live or offline");
  const storage = c.oneOf("migration.storage", m.storage, ["shared", "copy"] as const) ?? "shared";
  if (mode === "offline" && storage === "copy") c.fail("migration.storage", 'copy works only with mode live (libvirt copies disks alongside a running guest\'s memory); with mode offline the accepted value is shared');
  return {
    mode: mode ?? "live",
    storage,
    peerUri: c.string("migration.peerUri", m.peerUri, { pattern: /^[a-z][a-z0-9]*(\+[a-z0-9]+)?:\/\//i, accepted: "a libvirt URI such as qemu+ssh://root@host2/system" }),
    bandwidthMiBs: c.int("migration.bandwidthMiBs", m.bandwidthMiBs, 1, 1_000_000),
  };
}

/** Why text is not well-formed XML, or undefined. xml2js parses synchronously without async: true. */
function xmlSyntaxError(text: string): string | undefined {
  let error: string | undefined;
  new Parser().parseString(text, (e: Error | null) => { if (e) error = e.message.split("\n")[0]; });
  return error;
}
