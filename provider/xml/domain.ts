/**
 * <domain> documents (https://libvirt.org/formatdomain.html) to and from a plain model. The
 * model is the subset the Domain resource manages; sizes are bytes. Everything else in a live
 * document (controllers, inputs, addresses libvirt assigns) is ignored when reading.
 */
import { attr, buildXml, bytesIn, child, children, childText, parseRoot, toNumber, XmlNode } from "./xml";

export type DiskBus = "virtio" | "sata" | "scsi" | "ide" | "usb";
export interface DiskDef {
  device: "disk" | "cdrom";
  /** A volume of a storage pool (what a Volume resource outputs). */
  volume?: { pool: string; name: string };
  /** A file on the host. */
  file?: string;
  /** A host block device. */
  block?: string;
  /** Guest device name (vda, sdb...): the disk's identity for hotplug. */
  target: string;
  bus: DiskBus;
  format?: "raw" | "qcow2";
  cache?: "default" | "none" | "writethrough" | "writeback" | "directsync" | "unsafe";
  discard?: "unmap" | "ignore";
  readonly?: boolean;
  serial?: string;
}

export interface InterfaceDef {
  /** A libvirt network by name. */
  network?: string;
  /** An existing host bridge. */
  bridge?: string;
  /** macvtap on a host device (type direct, mode bridge). */
  macvtap?: string;
  model: string;
  mac: string;
}

export interface GraphicsDef {
  type: "vnc" | "spice";
  listen?: string;
  /** Port chosen by libvirt when unset (autoport). */
  port?: number;
  password?: string;
}

export interface DomainDef {
  name: string;
  uuid?: string;
  type: "kvm" | "qemu";
  description?: string;
  memory: number;
  maxMemory: number;
  vcpus: number;
  maxVcpus: number;
  cpu?: { mode?: "host-passthrough" | "host-model" | "custom"; model?: string; topology?: { sockets: number; cores: number; threads: number } };
  arch?: string;
  machine?: string;
  firmware?: "bios" | "efi";
  secureBoot?: boolean;
  nvram?: string;
  boot?: ("hd" | "cdrom" | "network")[];
  kernel?: { path: string; initrd?: string; cmdline?: string };
  disks: DiskDef[];
  interfaces: InterfaceDef[];
  graphics?: GraphicsDef;
  /** The serial console: a pty, or a log file on the host. */
  console?: { type: "pty" | "file"; path?: string };
  guestAgent?: boolean;
  video?: { model: "virtio" | "qxl" | "vga" | "cirrus" | "bochs" | "none" };
  rng?: boolean;
  tpm?: { model: "tpm-tis" | "tpm-crb"; version?: "1.2" | "2.0" };
  filesystems?: { driver: "virtiofs" | "9p"; source: string; target: string; readonly?: boolean }[];
  cputune?: { shares?: number; period?: number; quota?: number; vcpupin?: { vcpu: number; cpuset: string }[] };
  memtune?: { hardLimit?: number; softLimit?: number };
  blkioWeight?: number;
  numatune?: { mode: "strict" | "preferred" | "interleave" | "restrictive"; nodeset: string };
  hugepages?: boolean;
  noSharePages?: boolean;
  securityLabel?: { type: "dynamic" | "static" | "none"; model?: string; label?: string; relabel?: boolean };
}

const KiB = 1024;
const kib = (bytes: number) => String(Math.floor(bytes / KiB));

function diskXml(d: DiskDef): object {
  const type = d.volume ? "volume" : d.block ? "block" : "file";
  return {
    $: { type, device: d.device },
    driver: { $: { name: "qemu", type: d.format, cache: d.cache, discard: d.discard } },
    source: d.volume ? { $: { pool: d.volume.pool, volume: d.volume.name } } : d.block ? { $: { dev: d.block } } : d.file ? { $: { file: d.file } } : undefined,
    target: { $: { dev: d.target, bus: d.bus } },
    readonly: d.readonly || d.device === "cdrom" ? "" : undefined,
    serial: d.serial,
  };
}

function interfaceXml(i: InterfaceDef): object {
  const type = i.network ? "network" : i.bridge ? "bridge" : "direct";
  return {
    $: { type },
    mac: { $: { address: i.mac } },
    source: { $: i.network ? { network: i.network } : i.bridge ? { bridge: i.bridge } : { dev: i.macvtap, mode: "bridge" } },
    model: { $: { type: i.model } },
  };
}

export function domainToXml(d: DomainDef): string {
  const consoleFile = d.console?.type === "file";
  const virtiofs = !!d.filesystems?.some((f) => f.driver === "virtiofs");
  return buildXml("domain", {
    $: { type: d.type },
    name: d.name,
    uuid: d.uuid,
    description: d.description,
    memory: { $: { unit: "KiB" }, _: kib(d.maxMemory) },
    currentMemory: { $: { unit: "KiB" }, _: kib(d.memory) },
    memoryBacking: (d.hugepages || d.noSharePages || virtiofs) ? {
      hugepages: d.hugepages ? "" : undefined,
      nosharepages: d.noSharePages ? "" : undefined,
      // virtiofsd maps guest memory: it must be shared (memfd unless huge pages back it).
      source: virtiofs && !d.hugepages ? { $: { type: "memfd" } } : undefined,
      access: virtiofs ? { $: { mode: "shared" } } : undefined,
    } : undefined,
    blkiotune: d.blkioWeight !== undefined ? { weight: d.blkioWeight } : undefined,
    memtune: d.memtune && {
      hard_limit: d.memtune.hardLimit !== undefined ? { $: { unit: "KiB" }, _: kib(d.memtune.hardLimit) } : undefined,
      soft_limit: d.memtune.softLimit !== undefined ? { $: { unit: "KiB" }, _: kib(d.memtune.softLimit) } : undefined,
    },
    vcpu: { $: { placement: "static", current: d.vcpus !== d.maxVcpus ? d.vcpus : undefined }, _: String(d.maxVcpus) },
    cputune: d.cputune && {
      shares: d.cputune.shares,
      period: d.cputune.period,
      quota: d.cputune.quota,
      vcpupin: d.cputune.vcpupin?.map((p) => ({ $: { vcpu: p.vcpu, cpuset: p.cpuset } })),
    },
    numatune: d.numatune && { memory: { $: { mode: d.numatune.mode, nodeset: d.numatune.nodeset } } },
    os: {
      $: { firmware: d.firmware === "efi" ? "efi" : undefined },
      type: { $: { arch: d.arch, machine: d.machine }, _: "hvm" },
      firmware: d.firmware === "efi" && d.secureBoot !== undefined ? { feature: { $: { enabled: d.secureBoot ? "yes" : "no", name: "secure-boot" } } } : undefined,
      nvram: d.nvram,
      kernel: d.kernel?.path,
      initrd: d.kernel?.initrd,
      cmdline: d.kernel?.cmdline,
      boot: d.boot?.map((dev) => ({ $: { dev } })),
    },
    features: { acpi: "", apic: "", smm: d.secureBoot ? { $: { state: "on" } } : undefined },
    cpu: d.cpu && {
      $: { mode: d.cpu.mode },
      model: d.cpu.model,
      topology: d.cpu.topology && { $: { sockets: d.cpu.topology.sockets, cores: d.cpu.topology.cores, threads: d.cpu.topology.threads } },
    },
    seclabel: d.securityLabel && {
      $: { type: d.securityLabel.type, model: d.securityLabel.model, relabel: d.securityLabel.relabel === undefined ? undefined : d.securityLabel.relabel ? "yes" : "no" },
      label: d.securityLabel.label,
    },
    on_poweroff: "destroy",
    on_reboot: "restart",
    on_crash: "destroy",
    devices: {
      disk: d.disks.map(diskXml),
      filesystem: d.filesystems?.map((f) => ({
        $: { type: "mount", accessmode: f.driver === "virtiofs" ? "passthrough" : "mapped" },
        driver: { $: { type: f.driver === "virtiofs" ? "virtiofs" : "path" } },
        source: { $: { dir: f.source } },
        target: { $: { dir: f.target } },
        readonly: f.readonly ? "" : undefined,
      })),
      interface: d.interfaces.map(interfaceXml),
      // A file console appends: the log of earlier boots survives a restart.
      serial: d.console && { $: { type: d.console.type }, source: consoleFile ? { $: { path: d.console.path, append: "on" } } : undefined, target: { $: { port: 0 } } },
      console: d.console && { $: { type: d.console.type }, source: consoleFile ? { $: { path: d.console.path, append: "on" } } : undefined, target: { $: { type: "serial", port: 0 } } },
      channel: d.guestAgent ? { $: { type: "unix" }, target: { $: { type: "virtio", name: "org.qemu.guest_agent.0" } } } : undefined,
      graphics: d.graphics && {
        $: { type: d.graphics.type, port: d.graphics.port ?? -1, autoport: d.graphics.port === undefined ? "yes" : "no", listen: d.graphics.listen, passwd: d.graphics.password },
        listen: d.graphics.listen ? { $: { type: "address", address: d.graphics.listen } } : undefined,
      },
      video: d.video && { model: { $: { type: d.video.model } } },
      tpm: d.tpm && { $: { model: d.tpm.model }, backend: { $: { type: "emulator", version: d.tpm.version ?? "2.0" } } },
      rng: d.rng ? { $: { model: "virtio" }, backend: { $: { model: "random" }, _: "/dev/urandom" } } : undefined,
      memballoon: { $: { model: "virtio" } },
    },
  });
}

/** One <disk> element as the attach/detach/update-device calls want it. */
export function diskDeviceXml(d: DiskDef): string {
  return buildXml("disk", diskXml(d));
}

export function interfaceDeviceXml(i: InterfaceDef): string {
  return buildXml("interface", interfaceXml(i));
}

function readDisk(n: XmlNode): DiskDef {
  const src = child(n, "source");
  const drv = child(n, "driver");
  const pool = attr(src, "pool");
  return {
    device: (attr(n, "device") ?? "disk") as DiskDef["device"],
    volume: pool ? { pool, name: attr(src, "volume")! } : undefined,
    file: pool ? undefined : attr(src, "file"),
    block: attr(src, "dev"),
    target: attr(child(n, "target"), "dev")!,
    bus: attr(child(n, "target"), "bus") as DiskBus,
    format: attr(drv, "type") as DiskDef["format"],
    cache: attr(drv, "cache") as DiskDef["cache"],
    discard: attr(drv, "discard") as DiskDef["discard"],
    readonly: child(n, "readonly") !== undefined,
    serial: childText(n, "serial"),
  };
}

function readInterface(n: XmlNode): InterfaceDef {
  const src = child(n, "source");
  // A running guest on a libvirt network that forwards to a host bridge or device is shown with
  // the type it actually got (bridge, direct) and the network still named in its source.
  const network = attr(src, "network");
  const type = network ? "network" : attr(n, "type");
  return {
    network: type === "network" ? network : undefined,
    bridge: type === "bridge" ? attr(src, "bridge") : undefined,
    macvtap: type === "direct" ? attr(src, "dev") : undefined,
    model: attr(child(n, "model"), "type") ?? "",
    mac: attr(child(n, "mac"), "address") ?? "",
  };
}

/** The parts of a live document the resource reports but does not set. */
export interface DomainRuntime {
  graphicsPort?: number;
  /** The pty of the serial console, or its log file. */
  consolePath?: string;
  /** Network name -> bridge the running interface is plugged into. */
  interfaceTargets: { mac: string; tap?: string }[];
}

/** With a kernel, libvirt still writes its default <boot dev='hd'/>, which does not apply: no boot order. */
function bootOrder(os: XmlNode | undefined): DomainDef["boot"] {
  const order = children(os, "boot").map((b) => attr(b, "dev") as "hd");
  return childText(os, "kernel") && order.length === 1 && order[0] === "hd" ? undefined : order;
}

export async function domainFromXml(xml: string): Promise<{ def: DomainDef; runtime: DomainRuntime }> {
  const root = await parseRoot(xml, "domain");
  const os = child(root, "os");
  const osType = child(os, "type");
  const vcpu = child(root, "vcpu");
  const maxVcpus = toNumber(vcpu?._) ?? 1;
  const cpu = child(root, "cpu");
  const topo = child(cpu, "topology");
  const dev = child(root, "devices");
  const graphics = child(dev, "graphics");
  const serial = child(dev, "serial") ?? child(dev, "console");
  const seclabel = child(root, "seclabel");
  const memtune = child(root, "memtune");
  const cputune = child(root, "cputune");
  const numa = child(child(root, "numatune"), "memory");
  const mb = child(root, "memoryBacking");
  const fwFeature = children(child(os, "firmware"), "feature").find((f) => attr(f, "name") === "secure-boot");
  const maxMemory = bytesIn(child(root, "memory"), "KiB") ?? 0;
  const def: DomainDef = {
    name: childText(root, "name") ?? "",
    uuid: childText(root, "uuid"),
    type: attr(root, "type") as DomainDef["type"],
    description: childText(root, "description"),
    maxMemory,
    memory: bytesIn(child(root, "currentMemory"), "KiB") ?? maxMemory,
    maxVcpus,
    vcpus: toNumber(attr(vcpu, "current")) ?? maxVcpus,
    cpu: cpu && {
      mode: attr(cpu, "mode") as NonNullable<DomainDef["cpu"]>["mode"],
      model: childText(cpu, "model"),
      topology: topo && { sockets: toNumber(attr(topo, "sockets"))!, cores: toNumber(attr(topo, "cores"))!, threads: toNumber(attr(topo, "threads"))! },
    },
    arch: attr(osType, "arch"),
    machine: attr(osType, "machine"),
    // A running domain shows the firmware libvirt chose (a pflash loader), no longer firmware='efi'.
    firmware: attr(os, "firmware") === "efi" || attr(child(os, "loader"), "type") === "pflash" ? "efi" : "bios",
    secureBoot: fwFeature ? attr(fwFeature, "enabled") === "yes" : undefined,
    nvram: childText(os, "nvram"),
    boot: bootOrder(os),
    kernel: childText(os, "kernel") ? { path: childText(os, "kernel")!, initrd: childText(os, "initrd"), cmdline: childText(os, "cmdline") } : undefined,
    disks: children(dev, "disk").map(readDisk),
    interfaces: children(dev, "interface").map(readInterface),
    graphics: graphics && {
      type: attr(graphics, "type") as GraphicsDef["type"],
      listen: attr(graphics, "listen") ?? attr(child(graphics, "listen"), "address"),
      port: attr(graphics, "autoport") === "yes" ? undefined : toNumber(attr(graphics, "port")),
      password: attr(graphics, "passwd"),
    },
    console: serial && { type: attr(serial, "type") as "pty", path: attr(serial, "type") === "file" ? attr(child(serial, "source"), "path") : undefined },
    guestAgent: children(dev, "channel").some((c) => attr(child(c, "target"), "name") === "org.qemu.guest_agent.0"),
    video: child(dev, "video") && { model: attr(child(child(dev, "video"), "model"), "type") as "virtio" },
    rng: children(dev, "rng").length > 0,
    tpm: child(dev, "tpm") && { model: attr(child(dev, "tpm"), "model") as "tpm-crb", version: attr(child(child(dev, "tpm"), "backend"), "version") as "2.0" },
    filesystems: children(dev, "filesystem").map((f) => ({
      driver: attr(child(f, "driver"), "type") === "virtiofs" ? "virtiofs" as const : "9p" as const,
      source: attr(child(f, "source"), "dir")!,
      target: attr(child(f, "target"), "dir")!,
      readonly: child(f, "readonly") !== undefined,
    })),
    cputune: cputune && {
      shares: toNumber(childText(cputune, "shares")),
      period: toNumber(childText(cputune, "period")),
      quota: toNumber(childText(cputune, "quota")),
      vcpupin: children(cputune, "vcpupin").map((p) => ({ vcpu: toNumber(attr(p, "vcpu"))!, cpuset: attr(p, "cpuset")! })),
    },
    memtune: memtune && { hardLimit: bytesIn(child(memtune, "hard_limit"), "KiB"), softLimit: bytesIn(child(memtune, "soft_limit"), "KiB") },
    blkioWeight: toNumber(childText(child(root, "blkiotune"), "weight")),
    numatune: numa && { mode: attr(numa, "mode") as "strict", nodeset: attr(numa, "nodeset")! },
    hugepages: child(mb, "hugepages") !== undefined,
    noSharePages: child(mb, "nosharepages") !== undefined,
    securityLabel: seclabel && {
      type: attr(seclabel, "type") as "dynamic",
      model: attr(seclabel, "model"),
      label: childText(seclabel, "label"),
      relabel: attr(seclabel, "relabel") === undefined ? undefined : attr(seclabel, "relabel") === "yes",
    },
  };
  const graphicsPort = toNumber(attr(graphics, "port"));
  return {
    def,
    runtime: {
      graphicsPort: graphicsPort !== undefined && graphicsPort > 0 ? graphicsPort : undefined,
      consolePath: attr(child(serial, "source"), "path"),
      interfaceTargets: children(dev, "interface").map((i) => ({ mac: attr(child(i, "mac"), "address") ?? "", tap: attr(child(i, "target"), "dev") })),
    },
  };
}

/**
 * The raw-XML escape hatch: each top-level element of the override replaces the generated
 * elements of the same name; children of <devices> are appended. The result depends only on
 * the two documents, so the same inputs always give the same definition.
 */
export async function mergeOverride(generated: string, override: string): Promise<string> {
  const base = await parseRoot(generated, "domain");
  const extra = await parseRoot(override, "domain");
  for (const [key, value] of Object.entries(extra)) {
    if (key === "$") base.$ = { ...base.$, ...(value as Record<string, string>) };
    else if (key === "devices") {
      const devices = child(base, "devices") ?? {};
      for (const [dk, dv] of Object.entries(value[0] as XmlNode)) if (dk !== "$" && dk !== "_") devices[dk] = [...(devices[dk] ?? []), ...(dv as XmlNode[])];
      base.devices = [devices];
    } else base[key] = value;
  }
  return buildXml("domain", base);
}
