/**
 * Domain: a virtual machine. What libvirt can change on a running guest is changed live
 * (memory balloon, vCPU hotplug, disk and NIC hotplug, cdrom media, autostart, run state);
 * everything else is written to the persistent definition and takes effect on a restart the
 * user allowed (allowRestart), or on the guest's next restart. Only a new name, type or host
 * makes a new VM.
 */
import { createHash } from "node:crypto";
import { isIP } from "node:net";
import { isDeepStrictEqual } from "node:util";
import { Parser } from "xml2js";
import {
  DomainCreateFlags, DomainState, DomainUndefineFlags, DomainXmlFlags, Impact, InterfaceAddressSource, MemoryFlags, VcpuFlags,
} from "../libvirt/constants";
import { ErrorCode, isConnectionLost, isLibvirtError, isNotFound } from "../libvirt/errors";
import { uuidBytes, uuidString } from "../libvirt/client";
import type { DomainRef } from "../libvirt/protocol";
import { Checker, OBJECT_NAME } from "../core/check";
import type { FieldTable } from "../core/fields";
import { progress } from "../core/progress";
import { CommonInputs, Context, PartialCreateError, projectOnto, ResourceSpec } from "../core/resource";
import { defaultVirtType, hostFacts } from "../core/host";
import { DeadlineError, waitFor } from "../core/retry";
import { containsUnknown, isUnknown } from "../core/unknown";
import {
  DiskBus, DiskDef, DomainDef, diskDeviceXml, domainFromXml, domainToXml, InterfaceDef, interfaceDeviceXml, mergeOverride,
} from "../xml/domain";

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
/** How often a graceful shutdown presses the ACPI power button again. */
const SHUTDOWN_REPEAT_MS = 5000;
/** How long a live unplug may take the guest before the device is left for the next restart. */
const DETACH_TIMEOUT_MS = 120_000;
export const domainFields: FieldTable<DomainInputs> = {
  name: { effect: "replace", doc: "A new name makes a new VM (libvirt renames only shut-off guests)." },
  type: { effect: "replace", computed: true, doc: "kvm or qemu; detected from the host's domain capabilities when unset." },
  description: { effect: "live", doc: "Set live and in the definition." },
  memory: { effect: "live", doc: "Ballooned live up to maxMemory, and set in the definition." },
  maxMemory: { effect: RESTART, doc: "The balloon ceiling." },
  vcpus: { effect: "live", doc: "Added live (hotplug) up to maxVcpus, and set in the definition; fewer vCPUs take effect at a restart (unplugging needs the guest's help)." },
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
  interfaces: { effect: "live", doc: "Attached and detached live; a changed interface is re-plugged live. MACs are generated once: an interface keeps its MAC while its network (or bridge, device) and model stay the same." },
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
      file: c.string(`${p}.file`, o.file, ABS_PATH),
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

function checkInputs(news: Record<string, any>, c: Checker, olds: Partial<DomainInputs>): DomainInputs {
  /** The checked value, or the unknown value itself when the whole input is not known yet. */
  const keep = <T>(raw: unknown, built: T): T => (isUnknown(raw) ? (raw as T) : built);
  const name = c.string("name", news.name, OBJECT_NAME);
  c.required("name", news.name);
  const memory = c.size("memory", news.memory);
  c.required("memory", news.memory);
  const maxMemory = c.size("maxMemory", news.maxMemory) ?? memory;
  if (isNum(memory) && memory < 16 * 1024 ** 2) c.fail("memory", `${memory} bytes is too little for any guest: give at least 16MiB`);
  if (isNum(memory) && isNum(maxMemory) && memory > maxMemory) c.fail("memory", `memory (${memory}) exceeds maxMemory (${maxMemory}): raise maxMemory or lower memory`);
  const vcpus = c.int("vcpus", news.vcpus, 1, 4096) ?? 1;
  const maxVcpus = c.int("maxVcpus", news.maxVcpus, 1, 4096) ?? vcpus;
  if (isNum(vcpus) && isNum(maxVcpus) && vcpus > maxVcpus) c.fail("vcpus", `vcpus (${vcpus}) exceeds maxVcpus (${maxVcpus}): raise maxVcpus or lower vcpus`);

  const cpu = objectInput(c, "cpu", news.cpu, ["mode", "model", "topology"]);
  const topo = objectInput(c, "cpu.topology", cpu?.topology, ["sockets", "cores", "threads"]);
  const topology = topo && {
    sockets: c.int("cpu.topology.sockets", topo.sockets, 1, 256)!, cores: c.int("cpu.topology.cores", topo.cores, 1, 256)!, threads: c.int("cpu.topology.threads", topo.threads, 1, 8)!,
  };
  for (const part of ["sockets", "cores", "threads"] as const) if (topo && topo[part] === undefined) c.fail(`cpu.topology.${part}`, `cpu.topology needs sockets, cores and threads (their product is maxVcpus)`);
  if (topology && isNum(topology.sockets) && isNum(topology.cores) && isNum(topology.threads) && isNum(maxVcpus) && topology.sockets * topology.cores * topology.threads !== maxVcpus) {
    c.fail("cpu.topology", `sockets x cores x threads (${topology.sockets * topology.cores * topology.threads}) must equal maxVcpus (${maxVcpus})`);
  }
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
  const nvram = c.string("nvram", news.nvram, ABS_PATH);
  if (nvram !== undefined && !isUnknown(nvram) && firmware !== "efi") c.fail("nvram", "an NVRAM variable store is only used with firmware: \"efi\"");
  const bootList = listInput(c, "boot", news.boot, "boot devices: hd, cdrom, network");
  const boot = bootList?.map((b, i) => c.oneOf(`boot[${i}]`, b, ["hd", "cdrom", "network"] as const)!);
  bootList?.forEach((b, i) => { if (typeof b === "string" && bootList.indexOf(b) !== i) c.fail(`boot[${i}]`, `${b} is listed twice`); });
  const k = objectInput(c, "kernel", news.kernel, ["path", "initrd", "cmdline"]);
  const kernel = k && { path: c.string("kernel.path", k.path, ABS_PATH)!, initrd: c.string("kernel.initrd", k.initrd, ABS_PATH), cmdline: c.string("kernel.cmdline", k.cmdline) };
  if (k && k.path === undefined) c.fail("kernel.path", "direct kernel boot needs the kernel's path on the host");
  if ((kernel || isUnknown(news.kernel)) && news.boot !== undefined) c.fail("boot", "boot order does not apply with direct kernel boot: give kernel or boot, not both");

  const g = objectInput(c, "graphics", news.graphics, ["type", "listen", "port", "password"]);
  const listen = c.string("graphics.listen", g?.listen, { pattern: /^[0-9a-fA-F.:]+$/, accepted: "an IP address such as 127.0.0.1, 0.0.0.0 or ::1" });
  if (listen && !isUnknown(listen) && !isIP(listen)) c.fail("graphics.listen", `${JSON.stringify(listen)} is not valid: expected an IP address such as 127.0.0.1, 0.0.0.0 or ::1`);
  const graphics = g && {
    type: c.oneOf("graphics.type", g.type, ["vnc", "spice"] as const) ?? "vnc",
    listen,
    port: c.int("graphics.port", g.port, 5900, 65535),
    password: c.string("graphics.password", g.password, { pattern: /^[^\s]{1,64}$/, accepted: "1 to 64 characters without spaces (VNC uses only the first 8)" }),
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
      source: c.string(`${p}.source`, f.source, ABS_PATH)!,
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
    const vcpu = c.int(`${p}.vcpu`, pin.vcpu, 0, isNum(maxVcpus) ? maxVcpus - 1 : 4095)!;
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
  if (memtune && isNum(memtune.hardLimit) && isNum(maxMemory) && memtune.hardLimit < maxMemory) {
    c.fail("memtune.hardLimit", `${memtune.hardLimit} bytes is below maxMemory (${maxMemory}): the host would kill QEMU; leave room for its own overhead`);
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
    console: keep(news.console, con && { type: consoleType as "pty", path: c.string("console.path", con.path, ABS_PATH) }),
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
    state: c.oneOf("state", news.state, ["running", "shutoff", "paused"] as const) ?? "running",
    allowRestart: c.bool("allowRestart", news.allowRestart) ?? false,
    shutdownTimeoutSeconds: c.int("shutdownTimeoutSeconds", news.shutdownTimeoutSeconds, 0, 3600) ?? 60,
    waitForIp: c.bool("waitForIp", news.waitForIp) ?? false,
    waitForIpTimeoutSeconds: c.int("waitForIpTimeoutSeconds", news.waitForIpTimeoutSeconds, 1, 3600) ?? 300,
  };
}

/** Why text is not well-formed XML, or undefined. xml2js parses synchronously without async: true. */
function xmlSyntaxError(text: string): string | undefined {
  let error: string | undefined;
  new Parser().parseString(text, (e: Error | null) => { if (e) error = e.message.split("\n")[0]; });
  return error;
}

async function definitionXml(inputs: DomainInputs, type: "kvm" | "qemu", uuid?: string): Promise<string> {
  const { xmlOverride, autostart, state, allowRestart, shutdownTimeoutSeconds, waitForIp, waitForIpTimeoutSeconds, uri, timeoutSeconds, ...def } = inputs;
  const xml = domainToXml({ ...(def as DomainDef), type, uuid, maxMemory: inputs.maxMemory ?? inputs.memory, maxVcpus: inputs.maxVcpus ?? inputs.vcpus });
  return xmlOverride ? mergeOverride(xml, xmlOverride) : xml;
}

/**
 * libvirt opens a pool volume as raw unless the disk names its format, so a qcow2 volume
 * attached without one would show the guest its qcow2 file as raw bytes. Disks on volumes get
 * the format libvirt records for the volume (an ISO reads as raw).
 */
async function withVolumeFormats(ctx: Context, inputs: DomainInputs): Promise<DomainInputs> {
  const disks = await Promise.all(inputs.disks.map(async (d) => {
    if (!d.volume || d.format) return d;
    const pool = await ctx.retry(() => ctx.lv.storagePoolLookupByName(d.volume!.pool));
    const vol = await ctx.retry(() => ctx.lv.storageVolLookupByName(pool, d.volume!.name));
    const format = /<target>[\s\S]*?<format type=['"](\w+)['"]/.exec(await ctx.lv.storageVolGetXmlDesc(vol))?.[1];
    return { ...d, format: format === "qcow2" ? "qcow2" as const : "raw" as const };
  }));
  return { ...inputs, disks };
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

/**
 * ACPI shutdown, waiting up to the deadline, then a forced stop. The power-button press is
 * repeated every few seconds: a guest still booting (or between reboots) misses the first one.
 * A paused guest is resumed first, since it cannot react while paused.
 */
async function stop(ctx: Context, dom: DomainRef, inputs: Pick<DomainInputs, "name" | "shutdownTimeoutSeconds">): Promise<void> {
  const state = await runState(ctx, dom);
  if (state === DomainState.SHUTOFF) return;
  const timeoutMs = (inputs.shutdownTimeoutSeconds ?? 60) * 1000;
  if (timeoutMs > 0 && state !== DomainState.CRASHED) {
    try {
      if (state === DomainState.PAUSED) await ctx.lv.domainResume(dom);
      let pressed = 0;
      await waitFor(`domain "${inputs.name}" to shut down`, async () => {
        if ((await runState(ctx, dom)) === DomainState.SHUTOFF) return true;
        if (Date.now() - pressed >= SHUTDOWN_REPEAT_MS) {
          pressed = Date.now();
          await ctx.lv.domainShutdown(dom).catch((e) => {
            if (!isLibvirtError(e, ErrorCode.OPERATION_INVALID)) throw e; // went off meanwhile
          });
        }
        return undefined;
      }, timeoutMs, "shutdownTimeoutSeconds");
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
    // No agent, or not answering yet, means no addresses from it; a lost connection is an error.
    const ifaces = await ctx.lv.domainInterfaceAddresses(dom, source).catch((e) => (isConnectionLost(e) ? Promise.reject(e) : []));
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
    const found = await ctx.retry(() => addresses(ctx, dom, !!inputs.guestAgent));
    return wanted.every((mac) => found.find((f) => f.mac === mac)?.addresses.length) ? true : undefined;
  }, inputs.waitForIpTimeoutSeconds! * 1000, "waitForIpTimeoutSeconds", 1000);
}

/** Order live list entries like the recorded ones (libvirt sorts disks by bus and target). */
function inRecordedOrder<T>(live: T[], recorded: T[] | undefined, key: (x: T) => string): T[] {
  if (!recorded) return live;
  const pos = new Map(recorded.map((x, i) => [key(x), i]));
  return [...live].sort((a, b) => (pos.get(key(a)) ?? Infinity) - (pos.get(key(b)) ?? Infinity));
}

/** Devices compare by content: key order and absent-vs-undefined keys do not matter. */
function sameDevice(a: object, b: object): boolean {
  const defined = (o: object) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  return isDeepStrictEqual(defined(a), defined(b));
}

/**
 * Bring the running guest's disks and NICs to the new lists (the definition already holds
 * them). The guest's live devices are the starting point, not the recorded ones, so a device
 * already there (or already gone) is left alone. Returns whether something could only change
 * with a restart: a non-hotpluggable bus, or a detach the guest did not complete.
 */
async function hotplug(ctx: Context, dom: DomainRef, olds: DomainInputs, news: DomainInputs): Promise<boolean> {
  let needsRestart = false;
  const { def: live } = await domainFromXml(await ctx.lv.domainGetXmlDesc(dom));
  const liveDisks = new Map(live.disks.map((d) => [d.target, d]));
  const liveNics = new Map(live.interfaces.map((i) => [i.mac.toLowerCase(), i]));
  const newDisks = new Map(news.disks.map((d) => [d.target, d]));
  const newNics = new Map(news.interfaces.map((i) => [i.mac, i]));
  /** The live device as the inputs would write it, to compare. */
  const asWritten = <T extends object>(desired: T, current: object) => projectOnto(desired, current) as T;
  const detach = async (xml: string, what: string, present: (d: DomainDef) => boolean): Promise<boolean> => {
    try {
      await detachAndWait(ctx, dom, xml, what, present);
      return true;
    } catch (e) {
      if (!(e instanceof DeadlineError)) throw e;
      progress(`domain "${news.name}": the guest did not release ${what}; it goes at the next restart`);
      needsRestart = true;
      return false;
    }
  };

  // Removed disks (those the previous inputs had, or that are attached live but not wanted).
  for (const old of [...olds.disks, ...live.disks]) {
    const current = liveDisks.get(old.target);
    if (newDisks.has(old.target) || !current) continue;
    liveDisks.delete(old.target);
    if (!HOTPLUG_BUSES.includes(current.bus)) needsRestart = true;
    else await detach(diskDeviceXml(current), `disk ${old.target}`, (x) => x.disks.some((y) => y.target === old.target));
  }
  for (const [target, d] of newDisks) {
    const current = liveDisks.get(target);
    // The source counts even where the inputs leave it out: an empty cdrom is not a loaded one.
    if (current && sameDevice(d, { ...asWritten(d, current), volume: current.volume, file: current.file, block: current.block })) continue;
    if (current && d.device === "cdrom" && current.device === "cdrom" && current.bus === d.bus) {
      await ctx.lv.domainUpdateDevice(dom, diskDeviceXml(d), Impact.LIVE); // media swap (or eject)
      continue;
    }
    if (!HOTPLUG_BUSES.includes(d.bus) || (current && !HOTPLUG_BUSES.includes(current.bus))) {
      needsRestart = true;
      continue;
    }
    if (current && !(await detach(diskDeviceXml(current), `disk ${target}`, (x) => x.disks.some((y) => y.target === target)))) continue;
    await ctx.lv.domainAttachDevice(dom, diskDeviceXml(d), Impact.LIVE);
  }

  for (const mac of new Set([...olds.interfaces.map((i) => i.mac.toLowerCase()), ...liveNics.keys()])) {
    const current = liveNics.get(mac);
    const next = newNics.get(mac);
    if (!current || (next && sameDevice(next, asWritten(next, current)))) continue;
    if (await detach(interfaceDeviceXml(current), `interface ${mac}`, (x) => x.interfaces.some((y) => y.mac.toLowerCase() === mac))) liveNics.delete(mac);
  }
  for (const [mac, i] of newNics) {
    if (liveNics.has(mac)) continue; // unchanged, or changed but not released
    await ctx.lv.domainAttachDevice(dom, interfaceDeviceXml(i), Impact.LIVE);
  }
  return needsRestart;
}

/** Live detach is a request the guest completes: wait until the device has left the live XML. */
async function detachAndWait(ctx: Context, dom: DomainRef, xml: string, what: string, present: (d: DomainDef) => boolean): Promise<void> {
  await ctx.lv.domainDetachDevice(dom, xml, Impact.LIVE);
  await waitFor(`the guest to release ${what}`, async () => {
    const { def } = await domainFromXml(await ctx.lv.domainGetXmlDesc(dom));
    return present(def) ? undefined : true;
  }, Math.min(ctx.timeoutMs, DETACH_TIMEOUT_MS), "timeoutSeconds");
}

const RESTART_FIELDS = Object.entries(domainFields).filter(([, f]) => f.effect === RESTART).map(([k]) => k);

export const domain: ResourceSpec<DomainInputs, DomainOutputs> = {
  kind: "Domain",
  fields: domainFields,
  identity: ["name", "uri"],
  check: (news, c, olds) => checkInputs(news, c, olds ?? {}),
  describe: (i, id) => `domain "${i.name ?? id}"`,

  async create(ctx, asked) {
    const inputs = await withVolumeFormats(ctx, asked);
    const type = inputs.type ?? (await defaultVirtType(ctx.lv));
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
    const [inactive, liveXml, state, autostart, host] = await Promise.all([
      ctx.lv.domainGetXmlDesc(dom, DomainXmlFlags.INACTIVE | DomainXmlFlags.SECURE).then(domainFromXml),
      ctx.lv.domainGetXmlDesc(dom).then(domainFromXml),
      ctx.lv.domainGetState(dom),
      ctx.lv.domainGetAutostart(dom),
      hostFacts(ctx.lv),
    ]);
    const def = inactive.def;
    const found = state.state === DomainState.SHUTOFF ? [] : await addresses(ctx, dom, def.guestAgent ?? false);
    const { uuid: _uuid, ...fields } = def;
    const runtimeState: RunState = state.state === DomainState.PAUSED ? "paused" : state.state === DomainState.SHUTOFF || state.state === DomainState.CRASHED ? "shutoff" : "running";
    const ipv4 = found.flatMap((f) => f.addresses).find((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a));
    // What libvirt stores differently from what was asked but means the same is reported as
    // asked, so it never shows as a change: sizes in whole KiB, a machine alias (pc) and the
    // version it stands for (pc-i440fx-7.2), a description's surrounding whitespace.
    const asRecorded = <T>(key: keyof DomainInputs, same: (rec: any, live: any) => boolean, live: T): T =>
      recorded[key] !== undefined && same(recorded[key], live) ? (recorded[key] as T) : live;
    const kib = (rec: unknown, live: unknown) => typeof rec === "number" && typeof live === "number" && Math.floor(rec / 1024) === Math.floor(live / 1024);
    const memtune = def.memtune && recorded.memtune ? {
      hardLimit: kib(recorded.memtune.hardLimit, def.memtune.hardLimit) ? recorded.memtune.hardLimit : def.memtune.hardLimit,
      softLimit: kib(recorded.memtune.softLimit, def.memtune.softLimit) ? recorded.memtune.softLimit : def.memtune.softLimit,
    } : def.memtune;
    // A dynamic label without a model goes to the host's primary security driver; where there is
    // none (no SELinux or AppArmor), libvirt stores it as type none, model none.
    const securityLabel = asRecorded("securityLabel", (rec, live) => rec.type === "dynamic" && rec.model === undefined && live?.type === "none" && live?.model === "none", def.securityLabel);
    return {
      live: {
        ...fields,
        securityLabel,
        memory: asRecorded("memory", kib, def.memory),
        maxMemory: asRecorded("maxMemory", kib, def.maxMemory),
        memtune,
        machine: asRecorded("machine", (rec) => host.machineAliases.get(rec) === def.machine, def.machine),
        description: asRecorded("description", (rec, live) => rec.trim() === (live ?? "").trim(), def.description),
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

  async update(ctx, id, olds, asked, diff) {
    const dom = await lookup(ctx, id);
    if (!dom) throw new Error("it no longer exists; run `pulumi refresh` to forget it, then `pulumi up` to create it again");
    const news = await withVolumeFormats(ctx, asked);
    const type = news.type ?? olds.type ?? (await defaultVirtType(ctx.lv));
    // The definition always takes the whole desired state; live changes follow.
    await ctx.retry(async () => ctx.lv.domainDefineXml(await definitionXml(news, type, id)));
    const now = await runState(ctx, dom);
    const running = now !== DomainState.SHUTOFF && now !== DomainState.CRASHED;
    let needsRestart = diff.changed.some((f) => RESTART_FIELDS.includes(f));
    const notLive: string[] = [];
    if (running) {
      // A guest to be resumed is resumed first: unplugging a device needs its cooperation.
      if (now === DomainState.PAUSED && news.state === "running") await ctx.lv.domainResume(dom);
      /** A live change the guest or QEMU refuses waits for the restart, like a restart field. */
      const live = async (field: string, fn: () => Promise<void>) => {
        try {
          await fn();
        } catch (e) {
          if (!isLibvirtError(e) || isConnectionLost(e)) throw e;
          progress(`domain "${news.name}": ${field} could not be changed live (${e.message}); the definition holds the new value`);
          notLive.push(field);
          needsRestart = true;
        }
      };
      if (diff.changed.includes("description")) await live("description", () => ctx.lv.domainSetDescription(dom, news.description || undefined, Impact.LIVE));
      if (diff.changed.includes("vcpus") && !diff.changed.includes("maxVcpus")) {
        // Only adding is live. Removing needs the guest to release the vCPU, and a request it
        // never answers leaves QEMU unstable (QEMU 7.2 crashed at the next device hotplug), so
        // fewer vCPUs wait for the restart like a restart field.
        const current = await ctx.lv.domainGetVcpus(dom, VcpuFlags.LIVE);
        if (news.vcpus > current) await live("vcpus", () => ctx.lv.domainSetVcpus(dom, news.vcpus, VcpuFlags.LIVE));
        else if (news.vcpus < current) {
          notLive.push("vcpus");
          needsRestart = true;
        }
      }
      if (diff.changed.includes("memory") && !diff.changed.includes("maxMemory")) await live("memory", () => ctx.lv.domainSetMemory(dom, Math.floor(news.memory / 1024), MemoryFlags.LIVE));
      if (diff.changed.includes("disks") || diff.changed.includes("interfaces")) needsRestart = (await hotplug(ctx, dom, olds, news)) || needsRestart;
    }
    if (running && needsRestart && news.state !== "shutoff") {
      if (news.allowRestart) {
        progress(`restarting domain "${news.name}" to apply ${[...diff.changed.filter((f) => RESTART_FIELDS.includes(f)), ...notLive].join(", ") || "device changes"}`);
        await stop(ctx, dom, news);
        await start(ctx, dom, news.state === "paused");
      } else {
        progress(`domain "${news.name}": changes to ${[...diff.changed.filter((f) => RESTART_FIELDS.includes(f)), ...notLive].join(", ") || "devices that cannot be hot-plugged"} are saved in its definition and take effect at its next restart (set allowRestart: true to restart it now)`);
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
