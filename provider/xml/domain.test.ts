import { DomainDef, diskDeviceXml, domainFromXml, domainToXml, interfaceDeviceXml, mergeOverride } from "./domain";
import { parseRoot, children, child, attr } from "./xml";

/** A definition with every DomainDef field set, in the form domainFromXml reports it. */
const RICH: DomainDef = {
  name: "rich-vm",
  uuid: "2a0603d0-67b5-4bb0-82f9-b58dbfc42cac",
  type: "qemu",
  description: "web server <primary> & \"friends\"",
  memory: 512 * 1024 ** 2,
  maxMemory: 1024 * 1024 ** 2,
  vcpus: 2,
  maxVcpus: 4,
  cpu: { mode: "custom", model: "qemu64", topology: { sockets: 1, cores: 2, threads: 2 } },
  arch: "x86_64",
  machine: "pc-q35-7.2",
  firmware: "efi",
  secureBoot: true,
  nvram: "/var/lib/libvirt/qemu/nvram/rich-vm_VARS.fd",
  boot: ["cdrom", "hd", "network"],
  kernel: { path: "/boot/vmlinuz", initrd: "/boot/initrd.img", cmdline: "console=ttyS0 root=/dev/vda1" },
  disks: [
    { device: "disk", volume: { pool: "default", name: "root.qcow2" }, target: "vda", bus: "virtio", format: "qcow2", cache: "none", discard: "unmap", readonly: false, serial: "root-1" },
    { device: "disk", file: "/var/lib/libvirt/images/data.raw", target: "sda", bus: "scsi", format: "raw", cache: "writeback", discard: "ignore", readonly: true, serial: "data" },
    { device: "disk", block: "/dev/sdz", target: "vdb", bus: "virtio", cache: "directsync", readonly: false },
    { device: "cdrom", file: "/var/lib/libvirt/images/seed.iso", target: "hdc", bus: "ide", format: "raw", readonly: true },
  ],
  interfaces: [
    { network: "default", model: "virtio", mac: "52:54:00:00:00:01" },
    { bridge: "br0", model: "e1000", mac: "52:54:00:00:00:02" },
    { macvtap: "eth0", model: "rtl8139", mac: "52:54:00:00:00:03" },
  ],
  graphics: { type: "vnc", listen: "127.0.0.1", port: 5907, password: "s3cret" },
  console: { type: "file", path: "/var/log/rich-vm.log" },
  guestAgent: true,
  video: { model: "virtio" },
  rng: true,
  tpm: { model: "tpm-crb", version: "2.0" },
  filesystems: [
    { driver: "virtiofs", source: "/srv/share", target: "share", readonly: false },
    { driver: "9p", source: "/srv/ro", target: "ro", readonly: true },
  ],
  cputune: { shares: 2048, period: 100000, quota: 50000, vcpupin: [{ vcpu: 0, cpuset: "0-1" }, { vcpu: 1, cpuset: "^0" }] },
  memtune: { hardLimit: 2048 * 1024 ** 2, softLimit: 768 * 1024 ** 2 },
  blkioWeight: 300,
  numatune: { mode: "interleave", nodeset: "0-1" },
  hugepages: true,
  noSharePages: true,
  securityLabel: { type: "static", model: "dac", label: "107:107", relabel: false },
};

/** `virsh dumpxml` of a running domain, libvirt 9.0 / QEMU 7.2: addresses, aliases, controllers, runtime state. */
const LIVE = `<domain type='qemu' id='88'>
  <name>vm1</name>
  <uuid>2a0603d0-67b5-4bb0-82f9-b58dbfc42cac</uuid>
  <description>fixture</description>
  <memory unit='KiB'>262144</memory>
  <currentMemory unit='KiB'>262144</currentMemory>
  <vcpu placement='static' current='1'>2</vcpu>
  <cputune>
    <shares>512</shares>
  </cputune>
  <resource>
    <partition>/machine</partition>
  </resource>
  <os>
    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>
    <kernel>/var/lib/libvirt/images/pulumi-libvirt-guest/vmlinuz</kernel>
    <initrd>/var/lib/libvirt/images/pulumi-libvirt-guest/initrd.img</initrd>
    <cmdline>console=ttyS0 quiet</cmdline>
    <boot dev='hd'/>
  </os>
  <features>
    <acpi/>
    <apic/>
  </features>
  <cpu mode='custom' match='exact' check='full'>
    <model fallback='forbid'>qemu64</model>
    <topology sockets='1' dies='1' cores='2' threads='1'/>
    <feature policy='require' name='hypervisor'/>
    <feature policy='require' name='lahf_lm'/>
  </cpu>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none' discard='unmap'/>
      <source file='/var/lib/libvirt/images/vm1/a.qcow2' index='2'/>
      <backingStore/>
      <target dev='vda' bus='virtio'/>
      <serial>abc</serial>
      <alias name='virtio-disk0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x06' function='0x0'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu'/>
      <target dev='hdc' bus='ide'/>
      <readonly/>
      <alias name='ide0-1-0'/>
      <address type='drive' controller='0' bus='1' target='0' unit='0'/>
    </disk>
    <controller type='usb' index='0' model='piix3-uhci'>
      <alias name='usb'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x2'/>
    </controller>
    <controller type='pci' index='0' model='pci-root'>
      <alias name='pci.0'/>
    </controller>
    <controller type='ide' index='0'>
      <alias name='ide'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x1'/>
    </controller>
    <controller type='virtio-serial' index='0'>
      <alias name='virtio-serial0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>
    </controller>
    <filesystem type='mount' accessmode='mapped'>
      <driver type='path'/>
      <source dir='/var/lib/libvirt/images/vm1/share'/>
      <target dir='share'/>
      <readonly/>
      <alias name='fs0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>
    </filesystem>
    <interface type='network'>
      <mac address='52:54:00:aa:bb:01'/>
      <source network='vm1' portid='76961498-9f02-4b23-81a9-719b30fe67e6' bridge='virbr3'/>
      <target dev='vnet46'/>
      <model type='virtio'/>
      <alias name='net0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x04' function='0x0'/>
    </interface>
    <serial type='file'>
      <source path='/var/lib/libvirt/images/vm1/console.log'/>
      <target type='isa-serial' port='0'>
        <model name='isa-serial'/>
      </target>
      <alias name='serial0'/>
    </serial>
    <console type='file'>
      <source path='/var/lib/libvirt/images/vm1/console.log'/>
      <target type='serial' port='0'/>
      <alias name='serial0'/>
    </console>
    <channel type='unix'>
      <source mode='bind' path='/var/lib/libvirt/qemu/channel/target/domain-88-vm1/org.qemu.guest_agent.0'/>
      <target type='virtio' name='org.qemu.guest_agent.0' state='disconnected'/>
      <alias name='channel0'/>
      <address type='virtio-serial' controller='0' bus='0' port='1'/>
    </channel>
    <input type='mouse' bus='ps2'>
      <alias name='input0'/>
    </input>
    <input type='keyboard' bus='ps2'>
      <alias name='input1'/>
    </input>
    <graphics type='vnc' port='5900' autoport='yes' listen='127.0.0.1'>
      <listen type='address' address='127.0.0.1'/>
    </graphics>
    <audio id='1' type='none'/>
    <video>
      <model type='vga' vram='16384' heads='1' primary='yes'/>
      <alias name='video0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
    </video>
    <memballoon model='virtio'>
      <alias name='balloon0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0'/>
    </memballoon>
    <rng model='virtio'>
      <backend model='random'>/dev/urandom</backend>
      <alias name='rng0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x08' function='0x0'/>
    </rng>
  </devices>
  <seclabel type='dynamic' model='dac' relabel='yes'>
    <label>+64055:+64055</label>
    <imagelabel>+64055:+64055</imagelabel>
  </seclabel>
</domain>`;

describe("domainToXml -> domainFromXml", () => {
  test("a definition with every field comes back unchanged", async () => {
    const { def } = await domainFromXml(domainToXml(RICH));
    expect(def).toEqual(RICH);
    // Every key of DomainDef is covered by RICH, so nothing silently drops out.
    expect(Object.keys(RICH).sort()).toEqual(Object.keys(def).filter((k) => (def as any)[k] !== undefined).sort());
  });

  test("a minimal definition: defaults are written, optional parts left out", async () => {
    const min: DomainDef = { name: "min", type: "kvm", memory: 64 * 1024 ** 2, maxMemory: 64 * 1024 ** 2, vcpus: 1, maxVcpus: 1, disks: [], interfaces: [] };
    const xml = domainToXml(min);
    expect(xml).not.toMatch(/<uuid>|<description>|<cpu|<graphics|<serial|<channel|<tpm|<rng|<memoryBacking|<cputune|<memtune|<blkiotune|<numatune|<seclabel|current=/);
    expect(xml).toContain("<acpi/>");
    expect(xml).toContain("<on_poweroff>destroy</on_poweroff>");
    const { def } = await domainFromXml(xml);
    expect(def).toMatchObject({ name: "min", type: "kvm", memory: min.memory, maxMemory: min.maxMemory, vcpus: 1, maxVcpus: 1, firmware: "bios", disks: [], interfaces: [], boot: [], guestAgent: false, rng: false, hugepages: false, noSharePages: false, filesystems: [] });
    for (const k of ["uuid", "description", "cpu", "kernel", "graphics", "console", "video", "tpm", "cputune", "memtune", "blkioWeight", "numatune", "securityLabel", "secureBoot", "nvram"] as const) expect(def[k]).toBeUndefined();
  });

  test("sizes are written in KiB (rounded down) and read back in bytes", async () => {
    const xml = domainToXml({ name: "m", type: "qemu", memory: 100_000_000, maxMemory: 150_000_000, vcpus: 1, maxVcpus: 1, disks: [], interfaces: [] });
    expect(xml).toContain("<memory unit=\"KiB\">146484</memory>");
    expect(xml).toContain("<currentMemory unit=\"KiB\">97656</currentMemory>");
    const { def } = await domainFromXml(xml);
    expect(def.memory).toBe(97656 * 1024);
    expect(def.maxMemory).toBe(146484 * 1024);
  });

  test("a file console appends, so earlier boots' output survives a restart", () => {
    const xml = domainToXml(RICH);
    expect(xml).toMatch(/<serial type="file">\s*<source path="\/var\/log\/rich-vm.log" append="on"\/>/);
    expect(xml).toMatch(/<console type="file">\s*<source path="\/var\/log\/rich-vm.log" append="on"\/>/);
  });

  test("graphics with autoport and a pty console", async () => {
    const d: DomainDef = { ...RICH, graphics: { type: "spice" }, console: { type: "pty" } };
    const xml = domainToXml(d);
    expect(xml).toMatch(/<graphics type="spice" port="-1" autoport="yes"\/?>/);
    const { def } = await domainFromXml(xml);
    expect(def.graphics).toEqual({ type: "spice", listen: undefined, port: undefined, password: undefined });
    expect(def.console).toEqual({ type: "pty", path: undefined });
  });

  test("virtiofs gets the shared memory it needs", () => {
    const xml = domainToXml({ ...RICH, hugepages: false, noSharePages: false, filesystems: [{ driver: "virtiofs", source: "/srv", target: "srv" }] });
    expect(xml).toMatch(/<memoryBacking>\s*<source type="memfd"\/>\s*<access mode="shared"\/>\s*<\/memoryBacking>/);
    const ninep = domainToXml({ ...RICH, hugepages: false, noSharePages: false, filesystems: [{ driver: "9p", source: "/srv", target: "srv" }] });
    expect(ninep).not.toContain("<memoryBacking");
  });

  test("device fragments for attach/detach are single elements matching the definition", async () => {
    const disk = diskDeviceXml(RICH.disks[0]);
    expect(disk).toMatch(/^<disk type="volume" device="disk">/);
    expect(disk).toContain('<source pool="default" volume="root.qcow2"/>');
    const nic = interfaceDeviceXml(RICH.interfaces[2]);
    expect(nic).toMatch(/^<interface type="direct">/);
    expect(nic).toContain('<source dev="eth0" mode="bridge"/>');
    const cdrom = diskDeviceXml({ device: "cdrom", target: "hdc", bus: "ide" });
    expect(cdrom).not.toContain("<source");
    expect(cdrom).toContain("<readonly/>");
  });
});

describe("domainFromXml on libvirt's own output", () => {
  test("a running guest on a network that forwards to a host bridge is still on that network (libvirt shows type bridge)", async () => {
    const xml = `<domain type='qemu'><name>b</name><memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os><devices>
      <interface type='bridge'><mac address='52:54:00:aa:bb:cc'/><source network='lan' portid='0e5c1d7e-8a8c-4c8f-9a3b-1f1d2a3b4c5d' bridge='br0'/><target dev='vnet3'/><model type='virtio'/></interface>
      <interface type='bridge'><mac address='52:54:00:aa:bb:cd'/><source bridge='br1'/><model type='virtio'/></interface>
    </devices></domain>`;
    expect((await domainFromXml(xml)).def.interfaces).toEqual([
      { network: "lan", bridge: undefined, macvtap: undefined, model: "virtio", mac: "52:54:00:aa:bb:cc" },
      { network: undefined, bridge: "br1", macvtap: undefined, model: "virtio", mac: "52:54:00:aa:bb:cd" },
    ]);
  });

  test("a live document: the managed subset, addresses and controllers ignored", async () => {
    const { def, runtime } = await domainFromXml(LIVE);
    expect(def).toEqual({
      name: "vm1",
      uuid: "2a0603d0-67b5-4bb0-82f9-b58dbfc42cac",
      type: "qemu",
      description: "fixture",
      memory: 256 * 1024 ** 2,
      maxMemory: 256 * 1024 ** 2,
      vcpus: 1,
      maxVcpus: 2,
      cpu: { mode: "custom", model: "qemu64", topology: { sockets: 1, cores: 2, threads: 1 } },
      arch: "x86_64",
      machine: "pc-i440fx-7.2",
      firmware: "bios",
      secureBoot: undefined,
      nvram: undefined,
      boot: undefined, // libvirt's default <boot dev="hd"/> beside a kernel: no boot order
      kernel: { path: "/var/lib/libvirt/images/pulumi-libvirt-guest/vmlinuz", initrd: "/var/lib/libvirt/images/pulumi-libvirt-guest/initrd.img", cmdline: "console=ttyS0 quiet" },
      disks: [
        { device: "disk", volume: undefined, file: "/var/lib/libvirt/images/vm1/a.qcow2", block: undefined, target: "vda", bus: "virtio", format: "qcow2", cache: "none", discard: "unmap", readonly: false, serial: "abc" },
        { device: "cdrom", volume: undefined, file: undefined, block: undefined, target: "hdc", bus: "ide", format: undefined, cache: undefined, discard: undefined, readonly: true, serial: undefined },
      ],
      interfaces: [{ network: "vm1", bridge: undefined, macvtap: undefined, model: "virtio", mac: "52:54:00:aa:bb:01" }],
      graphics: { type: "vnc", listen: "127.0.0.1", port: undefined, password: undefined },
      console: { type: "file", path: "/var/lib/libvirt/images/vm1/console.log" },
      guestAgent: true,
      video: { model: "vga" },
      rng: true,
      tpm: undefined,
      filesystems: [{ driver: "9p", source: "/var/lib/libvirt/images/vm1/share", target: "share", readonly: true }],
      cputune: { shares: 512, period: undefined, quota: undefined, vcpupin: [] },
      memtune: undefined,
      blkioWeight: undefined,
      numatune: undefined,
      hugepages: false,
      noSharePages: false,
      securityLabel: { type: "dynamic", model: "dac", label: "+64055:+64055", relabel: true },
    });
    expect(runtime.graphicsPort).toBe(5900);
    expect(runtime.consolePath).toBe("/var/lib/libvirt/images/vm1/console.log");
    expect(runtime.interfaceTargets).toEqual([{ mac: "52:54:00:aa:bb:01", tap: "vnet46" }]);
  });

  test("autoport -1 in an inactive document is no port", async () => {
    const { runtime, def } = await domainFromXml(`<domain type='kvm'><name>x</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type>hvm</type></os>
      <devices><graphics type='vnc' port='-1' autoport='yes'/><serial type='pty'><target port='0'/></serial></devices></domain>`);
    expect(runtime.graphicsPort).toBeUndefined();
    expect(def.memory).toBe(64 * 1024 ** 2);
    expect(def.console).toEqual({ type: "pty", path: undefined });
    expect(runtime.consolePath).toBeUndefined();
  });

  test("a pty console reports its pty as the console path", async () => {
    const { runtime } = await domainFromXml(`<domain type='kvm'><name>x</name><memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>
      <devices><serial type='pty'><source path='/dev/pts/7'/><target type='isa-serial' port='0'><model name='isa-serial'/></target><alias name='serial0'/></serial></devices></domain>`);
    expect(runtime.consolePath).toBe("/dev/pts/7");
  });

  test("a running UEFI domain: firmware libvirt chose (a pflash loader) still reads as efi", async () => {
    const { def } = await domainFromXml(`<domain type='qemu' id='5'><name>x</name><memory unit='KiB'>65536</memory><vcpu placement='static'>1</vcpu>
      <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type><firmware><feature enabled='yes' name='secure-boot'/></firmware>
        <loader readonly='yes' secure='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.ms.fd</loader>
        <nvram template='/usr/share/OVMF/OVMF_VARS_4M.ms.fd'>/var/lib/libvirt/qemu/nvram/x_VARS.fd</nvram><boot dev='hd'/></os></domain>`);
    expect(def).toMatchObject({ firmware: "efi", secureBoot: true, nvram: "/var/lib/libvirt/qemu/nvram/x_VARS.fd", machine: "pc-q35-7.2" });
  });

  test("anything but a <domain> is refused", async () => {
    await expect(domainFromXml("<network><name>n</name></network>")).rejects.toThrow(/expected a <domain> document/);
  });
});

describe("mergeOverride", () => {
  const base = domainToXml({ ...RICH, uuid: undefined });
  const override = `<domain type="kvm" xmlns:qemu="http://libvirt.org/schemas/domain/qemu/1.0">
      <on_crash>restart</on_crash>
      <features><acpi/><hyperv mode="custom"><relaxed state="on"/></hyperv></features>
      <devices><watchdog model="i6300esb" action="reset"/><disk type="file" device="disk"><source file="/x.img"/><target dev="vdz" bus="virtio"/></disk></devices>
      <qemu:commandline><qemu:arg value="-no-hpet"/></qemu:commandline>
    </domain>`;

  test("the same inputs always give the same document", async () => {
    const a = await mergeOverride(base, override);
    const b = await mergeOverride(domainToXml({ ...RICH, uuid: undefined }), override);
    expect(a).toBe(b);
    // Merging the same override twice is not idempotent for devices (they are appended), but
    // the provider always merges over a freshly generated document, never over a merged one.
    expect(await mergeOverride(base, override)).toBe(a);
  });

  test("top-level elements replace the generated ones; root attributes merge", async () => {
    const root = await parseRoot(await mergeOverride(base, override), "domain");
    expect(attr(root, "type")).toBe("kvm");
    expect(attr(root, "xmlns:qemu")).toBe("http://libvirt.org/schemas/domain/qemu/1.0");
    expect(children(root, "on_crash").map((n) => n._)).toEqual(["restart"]);
    const features = children(root, "features");
    expect(features).toHaveLength(1);
    expect(Object.keys(features[0]).sort()).toEqual(["acpi", "hyperv"]); // the generated apic is gone
    expect(children(root, "on_poweroff").map((n) => n._)).toEqual(["destroy"]); // untouched
    expect(children(root, "qemu:commandline")).toHaveLength(1);
  });

  test("devices are appended after the generated ones", async () => {
    const root = await parseRoot(await mergeOverride(base, override), "domain");
    const devices = child(root, "devices")!;
    expect(children(devices, "disk").map((d) => attr(child(d, "target"), "dev"))).toEqual(["vda", "sda", "vdb", "hdc", "vdz"]);
    expect(children(devices, "watchdog")).toHaveLength(1);
    expect(children(devices, "interface")).toHaveLength(3);
  });

  test("the merged document still parses to the typed definition", async () => {
    const { def } = await domainFromXml(await mergeOverride(base, `<domain><description>from override</description></domain>`));
    expect(def.description).toBe("from override");
    expect(def.disks).toEqual(RICH.disks);
  });

  test("an override that is not a <domain> is refused", async () => {
    await expect(mergeOverride(base, "<network/>")).rejects.toThrow(/<domain>/);
  });
});
