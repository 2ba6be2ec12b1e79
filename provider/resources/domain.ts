/**
 * Domain: a virtual machine. What libvirt can change on a running guest is changed live
 * (memory balloon, vCPU hotplug, disk and NIC hotplug, cdrom media, autostart, run state);
 * everything else is written to the persistent definition and takes effect on a restart the
 * user allowed (allowRestart), or on the guest's next restart. Only a new name, type or host
 * makes a new VM.
 */
import { createHash } from "node:crypto";
import {
  DomainCreateFlags, DomainState, DomainUndefineFlags, DomainXmlFlags, Impact, InterfaceAddressSource, MemoryFlags, VcpuFlags,
} from "../libvirt/constants";
import { ErrorCode, isLibvirtError, isNotFound } from "../libvirt/errors";
import { Libvirt, uuidBytes, uuidString } from "../libvirt/client";
import type { DomainRef } from "../libvirt/protocol";
import { Checker, OBJECT_NAME } from "../core/check";
import type { FieldTable } from "../core/fields";
import { progress } from "../core/progress";
import { CommonInputs, Context, PartialCreateError, ResourceSpec } from "../core/resource";
import { waitFor } from "../core/retry";
import { isUnknown } from "../core/unknown";
import {
  DiskBus, DiskDef, DomainDef, diskDeviceXml, domainFromXml, domainToXml, InterfaceDef, interfaceDeviceXml, mergeOverride,
} from "../xml/domain";
import { attr, children, parseRoot } from "../xml/xml";

type RunState = "running" | "shutoff" | "paused";

export interface DomainInputs extends CommonInputs, Omit<DomainDef, "uuid" | "type" | "maxMemory" | "maxVcpus"> {
  /** kvm, or qemu (software emulation); detected from the host when unset. */
  type?: "kvm" | "qemu";
  /** Maximum memory in bytes (balloon ceiling); defaults to memory. */
  maxMemory?: number;
  /** Maximum vCPUs (hotplug ceiling); defaults to vcpus. */
  maxVcpus?: number;
  /** A <domain> fragment merged over the generated definition, for what the typed inputs do not cover. */
  xmlOverride?: string;
  autostart?: boolean;
  /** Desired run state (default running). */
  state?: RunState;
  /** May the provider restart the guest to apply changes that need it? (default false) */
  allowRestart?: boolean;
  /** Graceful ACPI shutdown deadline before a forced stop (default 60). */
  shutdownTimeoutSeconds?: number;
  /** Wait until every interface on a libvirt network has an IP address (default false). */
  waitForIp?: boolean;
  waitForIpTimeoutSeconds?: number;
}

export interface DomainOutputs {
  uuid: string;
  /** libvirt's numeric id while running, -1 when shut off. */
  domainId: number;
  /** running, paused, shutoff, crashed... */
  status: string;
  macs: string[];
  /** Each interface's addresses, from DHCP leases or the guest agent. */
  interfaceAddresses: { mac: string; addresses: string[] }[];
  /** The first IPv4 address found, for convenience. */
  ipAddress: string;
  graphicsPort: number;
  consolePath: string;
}

const RESTART = "restart" as const;
export const domainFields: FieldTable<DomainInputs> = {
  name: { effect: "replace", doc: "A new name makes a new VM (libvirt renames only shut-off guests)." },
  type: { effect: "replace", computed: true, doc: "kvm or qemu; detected from the host's domain capabilities when unset." },
  description: { effect: "live", doc: "Set live and in the definition." },
  memory: { effect: "live", doc: "Ballooned live up to maxMemory, and set in the definition." },
  maxMemory: { effect: RESTART, doc: "The balloon ceiling." },
  vcpus: { effect: "live", doc: "Hot-plugged or unplugged live up to maxVcpus, and set in the definition." },
  maxVcpus: { effect: RESTART, doc: "The hotplug ceiling." },
  cpu: { effect: RESTART, computed: true, doc: "CPU mode, model and topology." },
  arch: { effect: RESTART, computed: true, doc: "Guest architecture." },
  machine: { effect: RESTART, computed: true, doc: "Machine type; an alias such as `pc` stays equal to the version libvirt expands it to." },
  firmware: { effect: RESTART, doc: "bios or efi." },
  secureBoot: { effect: RESTART, doc: "UEFI secure boot (efi only)." },
  nvram: { effect: RESTART, computed: true, doc: "UEFI variable store path." },
  boot: { effect: RESTART, computed: true, doc: "Boot device order (libvirt boots from the first disk when unset)." },
  kernel: { effect: RESTART, doc: "Direct kernel boot: kernel, initrd, cmdline." },
  disks: { effect: "live", doc: "Attached and detached live (virtio, scsi, usb buses), cdrom media swapped live; other changes to an existing disk re-plug it live, or wait for a restart on ide/sata." },
  interfaces: { effect: "live", doc: "Attached and detached live; a changed interface is re-plugged live. MACs are generated once, stable per domain name and position." },
  graphics: { effect: RESTART, doc: "vnc or spice; the password is a secret." },
  console: { effect: RESTART, doc: "Serial console on a pty or logged to a file." },
  guestAgent: { effect: RESTART, doc: "The qemu guest agent channel." },
  video: { effect: RESTART, computed: true, doc: "Video model." },
  rng: { effect: RESTART, doc: "virtio-rng from /dev/urandom." },
  tpm: { effect: RESTART, doc: "Emulated TPM." },
  filesystems: { effect: RESTART, doc: "Shared host directories (virtiofs, 9p)." },
  cputune: { effect: RESTART, doc: "shares, period, quota, vcpu pinning." },
  memtune: { effect: RESTART, doc: "Hard and soft memory limits." },
  blkioWeight: { effect: RESTART, doc: "Block I/O weight." },
  numatune: { effect: RESTART, doc: "NUMA memory placement." },
  hugepages: { effect: RESTART, doc: "Back guest memory with huge pages." },
  noSharePages: { effect: RESTART, doc: "Opt out of KSM page sharing." },
  securityLabel: { effect: RESTART, computed: true, doc: "sVirt/SELinux security label." },
  xmlOverride: { effect: RESTART, doc: "Merged deterministically over the generated XML." },
  autostart: { effect: "live", doc: "Start with the host." },
  state: { effect: "live", doc: "running, shutoff or paused: started, shut down gracefully, suspended or resumed." },
  allowRestart: { effect: "none", doc: "Lets the provider restart the guest for changes marked 'definition + restart'; otherwise they wait for the guest's next restart." },
  shutdownTimeoutSeconds: { effect: "none", doc: "Graceful shutdown deadline before a forced stop." },
  waitForIp: { effect: "none", doc: "Wait for addresses on create and start." },
  waitForIpTimeoutSeconds: { effect: "none", doc: "Deadline for waitForIp." },
  uri: { effect: "replace", doc: "Another host makes a new VM there." },
  timeoutSeconds: { effect: "none", doc: "Deadline for waits and retries." },
};

const STATUS: Record<number, string> = {
  [DomainState.NOSTATE]: "nostate", [DomainState.RUNNING]: "running", [DomainState.BLOCKED]: "blocked", [DomainState.PAUSED]: "paused",
  [DomainState.SHUTDOWN]: "shutting-down", [DomainState.SHUTOFF]: "shutoff", [DomainState.CRASHED]: "crashed", [DomainState.PMSUSPENDED]: "pmsuspended",
};

const BUS_PREFIX: Record<DiskBus, string> = { virtio: "vd", sata: "sd", scsi: "sd", usb: "sd", ide: "hd" };
const HOTPLUG_BUSES: DiskBus[] = ["virtio", "scsi", "usb"];
const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i;
const ABS_PATH = { pattern: /^\/\S*$/, accepted: "an absolute path on the host" };

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

function checkDisks(c: Checker, raw: unknown): DiskDef[] | undefined {
  if (raw === undefined || isUnknown(raw)) return raw as undefined;
  if (!Array.isArray(raw)) return c.fail("disks", "expected a list of disks");
  const used = new Set<string>();
  const counters = new Map<string, number>();
  const disks = raw.map((d: any, i): DiskDef => {
    const p = `disks[${i}]`;
    const o = c.object(p, d) ?? {};
    c.noExtraKeys(p, o, ["device", "volume", "file", "block", "target", "bus", "format", "cache", "discard", "readonly", "serial"]);
    const device = c.oneOf(`${p}.device`, o.device, ["disk", "cdrom"] as const) ?? "disk";
    const sources = ["volume", "file", "block"].filter((k) => o[k] !== undefined);
    if (sources.length > 1) c.fail(p, `give one of volume, file or block, not ${sources.join(" and ")}`);
    if (sources.length === 0 && device === "disk") c.fail(p, "a disk needs a source: volume ({ pool, name }), file or block");
    const vol = c.object(`${p}.volume`, o.volume);
    c.noExtraKeys(`${p}.volume`, vol, ["pool", "name"]);
    if (vol && !isUnknown(o.volume)) {
      c.string(`${p}.volume.pool`, vol.pool, OBJECT_NAME);
      c.string(`${p}.volume.name`, vol.name, { pattern: /^[^/]+$/, accepted: "a volume name without '/'" });
      if (vol.pool === undefined) c.fail(`${p}.volume.pool`, "the pool holding the volume is required");
      if (vol.name === undefined) c.fail(`${p}.volume.name`, "the volume name is required");
    }
    const bus = c.oneOf(`${p}.bus`, o.bus, ["virtio", "sata", "scsi", "ide", "usb"] as const) ?? (device === "cdrom" ? "ide" : "virtio");
    if (device === "cdrom" && bus === "virtio") c.fail(`${p}.bus`, "a cdrom cannot sit on the virtio bus: use ide, sata or scsi");
    let target = c.string(`${p}.target`, o.target, { pattern: /^(vd|sd|hd)[a-z]{1,3}$/, accepted: "a device name such as vda, sdb or hdc" });
    if (target === undefined && !isUnknown(o.target)) {
      const prefix = BUS_PREFIX[bus];
      let n = counters.get(prefix) ?? 0;
      while (used.has(targetName(prefix, n))) n++;
      target = targetName(prefix, n);
      counters.set(prefix, n + 1);
    }
    if (target && used.has(target)) c.fail(`${p}.target`, `${target} is used by another disk`);
    if (target) used.add(target);
    return {
      device, bus, target: target as string,
      volume: vol as DiskDef["volume"],
      file: c.string(`${p}.file`, o.file, ABS_PATH),
      block: c.string(`${p}.block`, o.block, { pattern: /^\/dev\/\S+$/, accepted: "a block device under /dev" }),
      format: c.oneOf(`${p}.format`, o.format, ["raw", "qcow2"] as const),
      cache: c.oneOf(`${p}.cache`, o.cache, ["default", "none", "writethrough", "writeback", "directsync", "unsafe"] as const),
      discard: c.oneOf(`${p}.discard`, o.discard, ["unmap", "ignore"] as const),
      readonly: device === "cdrom" ? true : c.bool(`${p}.readonly`, o.readonly),
      serial: c.string(`${p}.serial`, o.serial, { pattern: /^[A-Za-z0-9_.+-]{1,20}$/, accepted: "up to 20 letters, digits or _ . + -" }),
    };
  });
  return disks;
}

function checkInterfaces(c: Checker, raw: unknown, name: unknown): InterfaceDef[] | undefined {
  if (raw === undefined || isUnknown(raw)) return raw as undefined;
  if (!Array.isArray(raw)) return c.fail("interfaces", "expected a list of network interfaces");
  const macs = new Set<string>();
  return raw.map((n: any, i): InterfaceDef => {
    const p = `interfaces[${i}]`;
    const o = c.object(p, n) ?? {};
    c.noExtraKeys(p, o, ["network", "bridge", "macvtap", "model", "mac"]);
    const kinds = ["network", "bridge", "macvtap"].filter((k) => o[k] !== undefined);
    if (kinds.length !== 1) c.fail(p, `give exactly one of network (a libvirt network), bridge (a host bridge) or macvtap (a host device)${kinds.length ? `, not ${kinds.join(" and ")}` : ""}`);
    let mac = c.string(`${p}.mac`, o.mac, { pattern: MAC, accepted: "six hex pairs separated by colons, e.g. 52:54:00:12:34:56" });
    if (mac && parseInt(mac.slice(0, 2), 16) & 1) c.fail(`${p}.mac`, `${mac} is a multicast address: the first byte must be even`);
    if (mac === undefined && !isUnknown(o.mac) && typeof name === "string") mac = stableMac(name, i);
    if (mac && macs.has(mac.toLowerCase())) c.fail(`${p}.mac`, `${mac} is used by another interface`);
    if (mac) macs.add(mac.toLowerCase());
    return {
      network: c.string(`${p}.network`, o.network, OBJECT_NAME),
      bridge: c.string(`${p}.bridge`, o.bridge, { pattern: /^[A-Za-z0-9_.:-]{1,15}$/, accepted: "a host bridge name of up to 15 characters" }),
      macvtap: c.string(`${p}.macvtap`, o.macvtap, { pattern: /^[A-Za-z0-9_.:-]{1,15}$/, accepted: "a host network device name of up to 15 characters" }),
      model: c.oneOf(`${p}.model`, o.model, ["virtio", "e1000", "e1000e", "rtl8139"] as const) ?? "virtio",
      mac: mac?.toLowerCase() as string,
    };
  });
}

function checkInputs(news: Record<string, any>, c: Checker): DomainInputs {
  const name = c.string("name", news.name, OBJECT_NAME);
  c.required("name", news.name);
  const memory = c.size("memory", news.memory);
  c.required("memory", news.memory);
  const maxMemory = c.size("maxMemory", news.maxMemory) ?? memory;
  if (typeof memory === "number" && memory < 16 * 1024 ** 2) c.fail("memory", `${memory} bytes is too little for any guest: give at least 16MiB`);
  if (typeof memory === "number" && typeof maxMemory === "number" && memory > maxMemory) c.fail("memory", `memory (${memory}) exceeds maxMemory (${maxMemory}): raise maxMemory or lower memory`);
  const vcpus = c.int("vcpus", news.vcpus, 1, 4096) ?? 1;
  const maxVcpus = c.int("maxVcpus", news.maxVcpus, 1, 4096) ?? vcpus;
  if (typeof vcpus === "number" && typeof maxVcpus === "number" && vcpus > maxVcpus) c.fail("vcpus", `vcpus (${vcpus}) exceeds maxVcpus (${maxVcpus})`);

  const cpu = c.object("cpu", news.cpu);
  c.noExtraKeys("cpu", cpu, ["mode", "model", "topology"]);
  const topo = c.object("cpu.topology", cpu?.topology);
  c.noExtraKeys("cpu.topology", topo, ["sockets", "cores", "threads"]);
  const topology = topo && { sockets: c.int("cpu.topology.sockets", topo.sockets, 1, 256)!, cores: c.int("cpu.topology.cores", topo.cores, 1, 256)!, threads: c.int("cpu.topology.threads", topo.threads, 1, 8)! };
  if (topology && [topology.sockets, topology.cores, topology.threads].every((n) => typeof n === "number") && typeof maxVcpus === "number" && topology.sockets * topology.cores * topology.threads !== maxVcpus) {
    c.fail("cpu.topology", `sockets x cores x threads (${topology.sockets * topology.cores * topology.threads}) must equal maxVcpus (${maxVcpus})`);
  }
  const cpuMode = c.oneOf("cpu.mode", cpu?.mode, ["host-passthrough", "host-model", "custom"] as const);
  if (cpuMode === "custom" && cpu?.model === undefined) c.fail("cpu.model", "cpu.mode custom needs a model, e.g. qemu64 or Skylake-Client");

  const firmware = c.oneOf("firmware", news.firmware, ["bios", "efi"] as const) ?? "bios";
  const secureBoot = c.bool("secureBoot", news.secureBoot);
  if (secureBoot && firmware !== "efi") c.fail("secureBoot", "secure boot needs firmware: \"efi\"");
  const bootRaw = news.boot;
  if (bootRaw !== undefined && !isUnknown(bootRaw) && !Array.isArray(bootRaw)) c.fail("boot", "expected a list of boot devices: hd, cdrom, network");
  const boot = Array.isArray(bootRaw) ? bootRaw.map((b, i) => c.oneOf(`boot[${i}]`, b, ["hd", "cdrom", "network"] as const)!) : undefined;
  const k = c.object("kernel", news.kernel);
  c.noExtraKeys("kernel", k, ["path", "initrd", "cmdline"]);
  const kernel = k && { path: c.string("kernel.path", k.path, ABS_PATH)!, initrd: c.string("kernel.initrd", k.initrd, ABS_PATH), cmdline: c.string("kernel.cmdline", k.cmdline) };
  if (k && k.path === undefined) c.fail("kernel.path", "direct kernel boot needs the kernel's path on the host");
  if (kernel && boot) c.fail("boot", "boot order does not apply with direct kernel boot: give kernel or boot, not both");

  const g = c.object("graphics", news.graphics);
  c.noExtraKeys("graphics", g, ["type", "listen", "port", "password"]);
  const graphics = g && {
    type: c.oneOf("graphics.type", g.type, ["vnc", "spice"] as const) ?? "vnc",
    listen: c.string("graphics.listen", g.listen, { pattern: /^[0-9a-fA-F.:]+$/, accepted: "an IP address such as 127.0.0.1 or 0.0.0.0" }),
    port: c.int("graphics.port", g.port, 5900, 65535),
    password: c.string("graphics.password", g.password, { pattern: /^[^\s]{1,64}$/, accepted: "1 to 64 characters without spaces (VNC uses only the first 8)" }),
  };
  const con = c.object("console", news.console);
  c.noExtraKeys("console", con, ["type", "path"]);
  const consoleType = c.oneOf("console.type", con?.type, ["pty", "file"] as const) ?? (con ? "pty" : undefined);
  if (consoleType === "file" && con?.path === undefined) c.fail("console.path", "a file console needs the log file's path on the host");
  const v = c.object("video", news.video);
  const tpm = c.object("tpm", news.tpm);
  const fsRaw = news.filesystems;
  const filesystems = Array.isArray(fsRaw) ? fsRaw.map((f: any, i: number) => ({
    driver: c.oneOf(`filesystems[${i}].driver`, f?.driver, ["virtiofs", "9p"] as const) ?? "virtiofs",
    source: c.string(`filesystems[${i}].source`, f?.source, ABS_PATH)!,
    target: c.string(`filesystems[${i}].target`, f?.target, { pattern: /^[A-Za-z0-9_.-]{1,36}$/, accepted: "a mount tag of up to 36 letters, digits or _ . -" })!,
    readonly: c.bool(`filesystems[${i}].readonly`, f?.readonly),
  })) : fsRaw;
  const ct = c.object("cputune", news.cputune);
  c.noExtraKeys("cputune", ct, ["shares", "period", "quota", "vcpupin"]);
  const mt = c.object("memtune", news.memtune);
  c.noExtraKeys("memtune", mt, ["hardLimit", "softLimit"]);
  const nt = c.object("numatune", news.numatune);
  const sl = c.object("securityLabel", news.securityLabel);
  const override = c.string("xmlOverride", news.xmlOverride, { pattern: /^\s*<domain[\s>][\s\S]*<\/domain>\s*$/, accepted: "a <domain>...</domain> fragment whose elements replace the generated ones (devices are appended)" });

  return {
    name: name as string,
    type: c.oneOf("type", news.type, ["kvm", "qemu"] as const),
    description: c.string("description", news.description),
    memory: memory as number, maxMemory, vcpus, maxVcpus,
    cpu: cpu && { mode: cpuMode, model: c.string("cpu.model", cpu.model, { pattern: /^[A-Za-z0-9_.-]+$/, accepted: "a CPU model name such as qemu64" }), topology },
    arch: c.oneOf("arch", news.arch, ["x86_64", "i686", "aarch64", "ppc64le", "s390x", "riscv64"] as const),
    machine: c.string("machine", news.machine, { pattern: /^[A-Za-z0-9_.-]+$/, accepted: "a machine type such as pc, q35 or pc-q35-7.2" }),
    firmware, secureBoot,
    nvram: c.string("nvram", news.nvram, ABS_PATH),
    boot, kernel,
    disks: checkDisks(c, news.disks) ?? [],
    interfaces: checkInterfaces(c, news.interfaces, name) ?? [],
    graphics,
    console: con && { type: consoleType as "pty", path: c.string("console.path", con.path, ABS_PATH) },
    guestAgent: c.bool("guestAgent", news.guestAgent) ?? false,
    video: v && { model: c.oneOf("video.model", v.model, ["virtio", "qxl", "vga", "cirrus", "bochs", "none"] as const)! },
    rng: c.bool("rng", news.rng) ?? false,
    tpm: tpm && { model: c.oneOf("tpm.model", tpm.model, ["tpm-tis", "tpm-crb"] as const) ?? "tpm-crb", version: c.oneOf("tpm.version", tpm.version, ["1.2", "2.0"] as const) },
    filesystems: filesystems as DomainInputs["filesystems"],
    cputune: ct && {
      shares: c.int("cputune.shares", ct.shares, 2, 262144), period: c.int("cputune.period", ct.period, 1000, 1000000),
      quota: c.int("cputune.quota", ct.quota, -1, 17592186044415),
      vcpupin: Array.isArray(ct.vcpupin) ? ct.vcpupin.map((pin: any, i: number) => ({
        vcpu: c.int(`cputune.vcpupin[${i}].vcpu`, pin?.vcpu, 0, typeof maxVcpus === "number" ? maxVcpus - 1 : 4095)!,
        cpuset: c.string(`cputune.vcpupin[${i}].cpuset`, pin?.cpuset, { pattern: /^\^?\d+(-\d+)?(,\^?\d+(-\d+)?)*$/, accepted: "a host CPU list such as 0-3,6 or ^2" })!,
      })) : (ct.vcpupin as undefined),
    },
    memtune: mt && { hardLimit: c.size("memtune.hardLimit", mt.hardLimit), softLimit: c.size("memtune.softLimit", mt.softLimit) },
    blkioWeight: c.int("blkioWeight", news.blkioWeight, 100, 1000),
    numatune: nt && { mode: c.oneOf("numatune.mode", nt.mode, ["strict", "preferred", "interleave", "restrictive"] as const) ?? "strict", nodeset: c.string("numatune.nodeset", nt.nodeset, { pattern: /^\d+(-\d+)?(,\d+(-\d+)?)*$/, accepted: "a host NUMA node list such as 0 or 0-1" })! },
    hugepages: c.bool("hugepages", news.hugepages) ?? false,
    noSharePages: c.bool("noSharePages", news.noSharePages) ?? false,
    securityLabel: sl && { type: c.oneOf("securityLabel.type", sl.type, ["dynamic", "static", "none"] as const) ?? "dynamic", model: c.oneOf("securityLabel.model", sl.model, ["selinux", "apparmor", "dac", "none"] as const), label: c.string("securityLabel.label", sl.label), relabel: c.bool("securityLabel.relabel", sl.relabel) },
    xmlOverride: override,
    autostart: c.bool("autostart", news.autostart) ?? false,
    state: c.oneOf("state", news.state, ["running", "shutoff", "paused"] as const) ?? "running",
    allowRestart: c.bool("allowRestart", news.allowRestart) ?? false,
    shutdownTimeoutSeconds: c.int("shutdownTimeoutSeconds", news.shutdownTimeoutSeconds, 0, 3600) ?? 60,
    waitForIp: c.bool("waitForIp", news.waitForIp) ?? false,
    waitForIpTimeoutSeconds: c.int("waitForIpTimeoutSeconds", news.waitForIpTimeoutSeconds, 1, 3600) ?? 300,
  };
}

/** KVM when the host offers it, else QEMU's software emulation. Cached per connection. */
const virtTypes = new WeakMap<Libvirt, Promise<"kvm" | "qemu">>();
function hostVirtType(lv: Libvirt): Promise<"kvm" | "qemu"> {
  let t = virtTypes.get(lv);
  if (!t) {
    t = lv.getDomainCapabilities({ virttype: "kvm" }).then(() => "kvm" as const, () => "qemu" as const);
    virtTypes.set(lv, t);
  }
  return t;
}

/** Machine aliases (pc) and the versioned types libvirt expands them to (pc-i440fx-7.2). */
const machineAliases = new WeakMap<Libvirt, Promise<Map<string, string>>>();
function canonicalMachines(lv: Libvirt): Promise<Map<string, string>> {
  let m = machineAliases.get(lv);
  if (!m) {
    m = lv.getCapabilities().then(async (xml) => {
      const map = new Map<string, string>();
      const caps = await parseRoot(xml, "capabilities");
      for (const guest of children(caps, "guest")) {
        for (const machine of children(children(guest, "arch")[0], "machine")) {
          const canonical = attr(machine, "canonical");
          if (canonical && machine._) map.set(machine._, canonical);
        }
      }
      return map;
    });
    machineAliases.set(lv, m);
  }
  return m;
}

async function definitionXml(inputs: DomainInputs, type: "kvm" | "qemu", uuid?: string): Promise<string> {
  const { xmlOverride, autostart, state, allowRestart, shutdownTimeoutSeconds, waitForIp, waitForIpTimeoutSeconds, uri, timeoutSeconds, ...def } = inputs;
  const xml = domainToXml({ ...(def as DomainDef), type, uuid, maxMemory: inputs.maxMemory ?? inputs.memory, maxVcpus: inputs.maxVcpus ?? inputs.vcpus });
  return xmlOverride ? mergeOverride(xml, xmlOverride) : xml;
}

async function lookup(ctx: Context, id: string): Promise<DomainRef | undefined> {
  try {
    return await ctx.lv.domainLookupByUuid(uuidBytes(id));
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

async function runState(ctx: Context, dom: DomainRef): Promise<number> {
  return (await ctx.lv.domainGetState(dom)).state;
}

/** ACPI shutdown, waiting up to the deadline, then a forced stop. */
async function stop(ctx: Context, dom: DomainRef, inputs: Pick<DomainInputs, "name" | "shutdownTimeoutSeconds">): Promise<void> {
  if ((await runState(ctx, dom)) === DomainState.SHUTOFF) return;
  const timeoutMs = (inputs.shutdownTimeoutSeconds ?? 60) * 1000;
  if (timeoutMs > 0) {
    try {
      await ctx.lv.domainShutdown(dom);
      await waitFor(`domain "${inputs.name}" to shut down`, async () => ((await runState(ctx, dom)) === DomainState.SHUTOFF ? true : undefined), timeoutMs, "shutdownTimeoutSeconds");
      return;
    } catch (e) {
      if (isLibvirtError(e) && e.code !== ErrorCode.OPERATION_INVALID) throw e;
      progress(`domain "${inputs.name}" did not shut down within ${timeoutMs / 1000} s; forcing it off`);
    }
  }
  await ctx.lv.domainDestroy(dom).catch((e) => {
    if (!isLibvirtError(e, ErrorCode.OPERATION_INVALID)) throw e; // already off
  });
}

async function start(ctx: Context, dom: DomainRef, paused: boolean): Promise<void> {
  await ctx.retry(() => ctx.lv.domainCreate(dom, paused ? DomainCreateFlags.START_PAUSED : 0));
}

/** Bring the run state to what the inputs ask for. */
async function applyState(ctx: Context, dom: DomainRef, inputs: DomainInputs): Promise<void> {
  const now = await runState(ctx, dom);
  if (inputs.state === "shutoff") return stop(ctx, dom, inputs);
  if (now === DomainState.SHUTOFF || now === DomainState.CRASHED) {
    if (now === DomainState.CRASHED) await ctx.lv.domainDestroy(dom).catch(() => undefined);
    return start(ctx, dom, inputs.state === "paused");
  }
  if (inputs.state === "paused" && now !== DomainState.PAUSED) await ctx.lv.domainSuspend(dom);
  if (inputs.state === "running" && now === DomainState.PAUSED) await ctx.lv.domainResume(dom);
}

async function addresses(ctx: Context, dom: DomainRef, guestAgent: boolean): Promise<{ mac: string; addresses: string[] }[]> {
  const sources = guestAgent ? [InterfaceAddressSource.LEASE, InterfaceAddressSource.AGENT] : [InterfaceAddressSource.LEASE];
  const byMac = new Map<string, Set<string>>();
  for (const source of sources) {
    const ifaces = await ctx.lv.domainInterfaceAddresses(dom, source).catch(() => []);
    for (const i of ifaces) {
      if (!i.hwaddr || i.name === "lo") continue;
      const set = byMac.get(i.hwaddr.toLowerCase()) ?? new Set<string>();
      for (const a of i.addrs) set.add(a.addr);
      byMac.set(i.hwaddr.toLowerCase(), set);
    }
  }
  return [...byMac].map(([mac, set]) => ({ mac, addresses: [...set].sort() }));
}

async function waitForAddresses(ctx: Context, dom: DomainRef, inputs: DomainInputs): Promise<void> {
  const wanted = inputs.interfaces.filter((i) => i.network).map((i) => i.mac);
  if (!inputs.waitForIp || !wanted.length || inputs.state !== "running") return;
  await waitFor(`IP addresses of domain "${inputs.name}" on ${wanted.join(", ")} (DHCP leases${inputs.guestAgent ? " or the guest agent" : ""})`, async () => {
    const found = await addresses(ctx, dom, !!inputs.guestAgent);
    return wanted.every((mac) => found.find((f) => f.mac === mac)?.addresses.length) ? true : undefined;
  }, inputs.waitForIpTimeoutSeconds! * 1000, "waitForIpTimeoutSeconds", 1000);
}

/** Order live list entries like the recorded ones (libvirt sorts disks by bus and target). */
function inRecordedOrder<T>(live: T[], recorded: T[] | undefined, key: (x: T) => string): T[] {
  if (!recorded) return live;
  const pos = new Map(recorded.map((x, i) => [key(x), i]));
  return [...live].sort((a, b) => (pos.get(key(a)) ?? Infinity) - (pos.get(key(b)) ?? Infinity));
}

function sameDevice(a: object, b: object): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Hotplug the difference between two device lists on a running guest (the definition already
 * holds the new list). Returns whether something could only change with a restart.
 */
async function hotplug(ctx: Context, dom: DomainRef, olds: DomainInputs, news: DomainInputs): Promise<boolean> {
  let needsRestart = false;
  const live = Impact.LIVE;
  const oldDisks = new Map(olds.disks.map((d) => [d.target, d]));
  const newDisks = new Map(news.disks.map((d) => [d.target, d]));
  for (const [target, d] of oldDisks) {
    if (newDisks.has(target)) continue;
    if (HOTPLUG_BUSES.includes(d.bus)) await detachAndWait(ctx, dom, diskDeviceXml(d), `disk ${target}`, (x) => x.disks.some((y) => y.target === target));
    else needsRestart = true;
  }
  for (const [target, d] of newDisks) {
    const old = oldDisks.get(target);
    if (old && sameDevice(old, d)) continue;
    if (old && d.device === "cdrom" && sameDevice({ ...old, volume: undefined, file: undefined }, { ...d, volume: undefined, file: undefined })) {
      await ctx.lv.domainUpdateDevice(dom, diskDeviceXml(d), live); // media swap
      continue;
    }
    if (!HOTPLUG_BUSES.includes(d.bus)) {
      needsRestart = true;
      continue;
    }
    if (old) await detachAndWait(ctx, dom, diskDeviceXml(old), `disk ${target}`, (x) => x.disks.some((y) => y.target === target));
    await ctx.lv.domainAttachDevice(dom, diskDeviceXml(d), live);
  }
  const oldNics = new Map(olds.interfaces.map((i) => [i.mac, i]));
  const newNics = new Map(news.interfaces.map((i) => [i.mac, i]));
  for (const [mac, i] of oldNics) {
    const next = newNics.get(mac);
    if (next && sameDevice(i, next)) continue;
    await detachAndWait(ctx, dom, interfaceDeviceXml(i), `interface ${mac}`, (x) => x.interfaces.some((y) => y.mac === mac));
  }
  for (const [mac, i] of newNics) {
    const old = oldNics.get(mac);
    if (old && sameDevice(old, i)) continue;
    await ctx.lv.domainAttachDevice(dom, interfaceDeviceXml(i), live);
  }
  return needsRestart;
}

/** Live detach is a request the guest completes: wait until the device has left the live XML. */
async function detachAndWait(ctx: Context, dom: DomainRef, xml: string, what: string, present: (d: DomainDef) => boolean): Promise<void> {
  await ctx.lv.domainDetachDevice(dom, xml, Impact.LIVE);
  await waitFor(`the guest to release ${what}`, async () => {
    const { def } = await domainFromXml(await ctx.lv.domainGetXmlDesc(dom));
    return present(def) ? undefined : true;
  }, ctx.timeoutMs, "timeoutSeconds");
}

const RESTART_FIELDS = Object.entries(domainFields).filter(([, f]) => f.effect === RESTART).map(([k]) => k);

export const domain: ResourceSpec<DomainInputs, DomainOutputs> = {
  kind: "Domain",
  fields: domainFields,
  identity: ["name", "uri"],
  check: (news, c) => checkInputs(news, c),
  describe: (i, id) => `domain "${i.name ?? id}"`,

  async create(ctx, inputs) {
    const type = inputs.type ?? (await hostVirtType(ctx.lv));
    const dom = await ctx.retry(async () => ctx.lv.domainDefineXml(await definitionXml(inputs, type)));
    const id = uuidString(dom.uuid);
    try {
      await ctx.lv.domainSetAutostart(dom, !!inputs.autostart);
      if (inputs.state !== "shutoff") await start(ctx, dom, inputs.state === "paused");
      await waitForAddresses(ctx, dom, inputs);
    } catch (e) {
      // Defined but not running as asked: recorded as created but not initialised, so the
      // next `pulumi up` retries the start instead of leaking or forgetting the VM.
      throw new PartialCreateError(id, e instanceof Error ? e.message : String(e));
    }
    return { id };
  },

  async read(ctx, id, recorded) {
    const dom = await lookup(ctx, id);
    if (!dom) return undefined;
    const [inactive, liveXml, state, autostart, machines] = await Promise.all([
      ctx.lv.domainGetXmlDesc(dom, DomainXmlFlags.INACTIVE | DomainXmlFlags.SECURE).then(domainFromXml),
      ctx.lv.domainGetXmlDesc(dom).then(domainFromXml),
      ctx.lv.domainGetState(dom),
      ctx.lv.domainGetAutostart(dom),
      canonicalMachines(ctx.lv),
    ]);
    const def = inactive.def;
    const found = state.state === DomainState.SHUTOFF ? [] : await addresses(ctx, dom, def.guestAgent ?? false);
    const machine = recorded.machine && machines.get(recorded.machine) === def.machine ? recorded.machine : def.machine;
    const { uuid: _uuid, ...fields } = def;
    const runtimeState: RunState = state.state === DomainState.PAUSED ? "paused" : state.state === DomainState.SHUTOFF || state.state === DomainState.CRASHED ? "shutoff" : "running";
    const ipv4 = found.flatMap((f) => f.addresses).find((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a));
    return {
      live: {
        ...fields,
        machine,
        disks: inRecordedOrder(def.disks, recorded.disks, (d) => d.target),
        interfaces: inRecordedOrder(def.interfaces, recorded.interfaces, (i) => i.mac),
        autostart,
        state: runtimeState,
      },
      outputs: {
        uuid: id,
        domainId: state.state === DomainState.SHUTOFF ? -1 : dom.id,
        status: STATUS[state.state] ?? `unknown (${state.state})`,
        macs: def.interfaces.map((i) => i.mac),
        interfaceAddresses: found,
        ipAddress: ipv4 ?? "",
        graphicsPort: liveXml.runtime.graphicsPort ?? 0,
        consolePath: liveXml.runtime.consolePath ?? "",
      },
    };
  },

  async update(ctx, id, olds, news, diff) {
    const dom = await lookup(ctx, id);
    if (!dom) throw new Error("it no longer exists; run `pulumi refresh` to forget it, then `pulumi up` to create it again");
    const type = news.type ?? olds.type ?? (await hostVirtType(ctx.lv));
    // The definition always takes the whole desired state; live changes follow.
    await ctx.retry(async () => ctx.lv.domainDefineXml(await definitionXml(news, type, id)));
    const running = (await runState(ctx, dom)) !== DomainState.SHUTOFF;
    let needsRestart = diff.changed.some((f) => RESTART_FIELDS.includes(f));
    if (running) {
      if (diff.changed.includes("description")) await ctx.lv.domainSetDescription(dom, news.description ?? "", Impact.LIVE);
      if (diff.changed.includes("vcpus") && !diff.changed.includes("maxVcpus")) await ctx.lv.domainSetVcpus(dom, news.vcpus, VcpuFlags.LIVE);
      if (diff.changed.includes("memory") && !diff.changed.includes("maxMemory")) await ctx.lv.domainSetMemory(dom, Math.floor(news.memory / 1024), MemoryFlags.LIVE);
      if (diff.changed.includes("disks") || diff.changed.includes("interfaces")) needsRestart = (await hotplug(ctx, dom, olds, news)) || needsRestart;
    }
    if (running && needsRestart && news.state !== "shutoff") {
      if (news.allowRestart) {
        progress(`restarting domain "${news.name}" to apply ${diff.changed.filter((f) => RESTART_FIELDS.includes(f)).join(", ") || "device changes"}`);
        await stop(ctx, dom, news);
        await start(ctx, dom, news.state === "paused");
      } else {
        progress(`domain "${news.name}": changes to ${diff.changed.filter((f) => RESTART_FIELDS.includes(f)).join(", ") || "devices that cannot be hot-plugged"} are saved in its definition and take effect at its next restart (set allowRestart: true to restart it now)`);
      }
    }
    if (diff.changed.includes("autostart")) await ctx.lv.domainSetAutostart(dom, !!news.autostart);
    await applyState(ctx, dom, news);
    await waitForAddresses(ctx, dom, news);
  },

  async delete(ctx, id, olds) {
    const dom = await lookup(ctx, id);
    if (!dom) return;
    await stop(ctx, dom, olds);
    const flags = DomainUndefineFlags.MANAGED_SAVE | DomainUndefineFlags.SNAPSHOTS_METADATA | DomainUndefineFlags.NVRAM | DomainUndefineFlags.CHECKPOINTS_METADATA;
    await ctx.retry(() => ctx.lv.domainUndefine(dom, flags));
  },
};
