import { domainDiskSources, volFromXml, volToXml, VolumeDef } from "./volume";

/** `virsh vol-dumpxml` of a qcow2 overlay, libvirt 9.0 (dir pool). */
const LIBVIRT_OVERLAY = `<volume type='file'>
  <name>c.qcow2</name>
  <key>/var/lib/libvirt/images/plt-explore/c.qcow2</key>
  <capacity unit='bytes'>20971520</capacity>
  <allocation unit='bytes'>200704</allocation>
  <physical unit='bytes'>196616</physical>
  <target>
    <path>/var/lib/libvirt/images/plt-explore/c.qcow2</path>
    <format type='qcow2'/>
    <permissions>
      <mode>0600</mode>
      <owner>0</owner>
      <group>0</group>
    </permissions>
    <timestamps>
      <atime>1795478476.924946552</atime>
      <mtime>1795478476.903509436</mtime>
      <ctime>1795478476.923509437</ctime>
      <btime>0</btime>
    </timestamps>
  </target>
  <backingStore>
    <path>/var/lib/libvirt/images/plt-explore/a.qcow2</path>
    <format type='qcow2'/>
    <permissions>
      <mode>0600</mode>
      <owner>0</owner>
      <group>0</group>
    </permissions>
    <timestamps>
      <atime>1795478476.773624471</atime>
      <mtime>1795478476.767509431</mtime>
      <ctime>1795478476.771509431</ctime>
      <btime>0</btime>
    </timestamps>
  </backingStore>
</volume>
`;

/** `virsh vol-dumpxml` of a raw volume. */
const LIBVIRT_RAW = `<volume type='file'>
  <name>b.raw</name>
  <key>/var/lib/libvirt/images/plt-explore/b.raw</key>
  <capacity unit='bytes'>1048576</capacity>
  <allocation unit='bytes'>1048576</allocation>
  <physical unit='bytes'>1048576</physical>
  <target>
    <path>/var/lib/libvirt/images/plt-explore/b.raw</path>
    <format type='raw'/>
    <permissions>
      <mode>644</mode>
      <owner>107</owner>
      <group>108</group>
    </permissions>
  </target>
</volume>`;

/** The disks of a running domain (`virsh dumpxml`, libvirt 9.0): live documents list backing chains. */
const LIVE_DOMAIN = `<domain type='qemu' id='24'>
  <name>plt-explore-dom</name>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/var/lib/libvirt/images/plt-explore/c.qcow2' index='3'/>
      <backingStore type='file' index='4'>
        <format type='qcow2'/>
        <source file='/var/lib/libvirt/images/plt-explore/a.qcow2'/>
        <backingStore/>
      </backingStore>
      <target dev='vda' bus='virtio'/>
      <alias name='virtio-disk0'/>
    </disk>
    <disk type='volume' device='disk'>
      <driver name='qemu' type='raw'/>
      <source pool='plt-explore' volume='b.raw' index='2'/>
      <backingStore/>
      <target dev='vdb' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source file='/var/lib/libvirt/images/plt-explore/iso1' index='1'/>
      <backingStore/>
      <target dev='hdc' bus='ide'/>
      <readonly/>
    </disk>
    <disk type='block' device='disk'>
      <source dev='/dev/vg0/lv1'/>
      <target dev='vdc' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <target dev='hdd' bus='ide'/>
    </disk>
    <controller type='pci' index='0' model='pci-root'/>
  </devices>
</domain>`;

describe("volFromXml", () => {
  test("parses libvirt's own output of an overlay", async () => {
    const v = await volFromXml(LIBVIRT_OVERLAY);
    expect(v).toEqual({
      name: "c.qcow2",
      type: "file",
      key: "/var/lib/libvirt/images/plt-explore/c.qcow2",
      capacity: 20971520,
      allocation: 200704,
      physical: 196616,
      path: "/var/lib/libvirt/images/plt-explore/c.qcow2",
      format: "qcow2",
      permissions: { mode: "0600", owner: 0, group: 0 },
      backingStore: { path: "/var/lib/libvirt/images/plt-explore/a.qcow2", format: "qcow2" },
    });
  });

  test("a raw volume: no backing store; a three-digit mode is padded", async () => {
    const v = await volFromXml(LIBVIRT_RAW);
    expect(v.backingStore).toBeUndefined();
    expect(v.format).toBe("raw");
    expect(v.permissions).toEqual({ mode: "0644", owner: 107, group: 108 });
  });

  test("sizes in other units are converted to bytes", async () => {
    const v = await volFromXml("<volume><name>x</name><capacity unit='GiB'>2</capacity><allocation unit='KiB'>4</allocation><target><format type='raw'/></target></volume>");
    expect(v.capacity).toBe(2 * 1024 ** 3);
    expect(v.allocation).toBe(4096);
  });

  test("rejects a document that is not a volume", async () => {
    await expect(volFromXml("<pool><name>x</name></pool>")).rejects.toThrow(/expected a <volume>/);
  });
});

describe("volToXml", () => {
  test("round-trips the model", async () => {
    const def: VolumeDef = {
      name: "disk.qcow2",
      capacity: 21474836480,
      allocation: 0,
      format: "qcow2",
      permissions: { mode: "0640", owner: 107, group: 108 },
      backingStore: { path: "/var/lib/libvirt/images/base.qcow2", format: "qcow2" },
    };
    const xml = volToXml(def);
    expect(xml).toContain("<capacity unit=\"bytes\">21474836480</capacity>");
    expect(await volFromXml(xml)).toEqual({ ...def, type: undefined, key: undefined, physical: undefined, path: undefined });
  });

  test("leaves out what is unset", async () => {
    const xml = volToXml({ name: "v", capacity: 1024 });
    expect(xml).not.toMatch(/allocation|permissions|backingStore|format/);
    expect(await volFromXml(xml)).toMatchObject({ name: "v", capacity: 1024, permissions: undefined, backingStore: undefined });
  });

  test("the round trip through libvirt's output keeps all but the read-only key and physical size", async () => {
    const parsed = await volFromXml(LIBVIRT_OVERLAY);
    const again = await volFromXml(volToXml(parsed));
    expect(again).toEqual({ ...parsed, key: undefined, physical: undefined });
  });

  test("escapes names", () => {
    expect(volToXml({ name: "a&b<c" })).toContain("<name>a&amp;b&lt;c</name>");
  });
});

describe("domainDiskSources", () => {
  test("lists every disk source of a live domain, backing chains included", async () => {
    const s = await domainDiskSources(LIVE_DOMAIN);
    expect(s).toEqual([
      { target: "vda", file: "/var/lib/libvirt/images/plt-explore/c.qcow2", dev: undefined, pool: undefined, volume: undefined, top: true },
      { target: "vda", file: "/var/lib/libvirt/images/plt-explore/a.qcow2", dev: undefined, pool: undefined, volume: undefined, top: false },
      { target: "vdb", file: undefined, dev: undefined, pool: "plt-explore", volume: "b.raw", top: true },
      { target: "hdc", file: "/var/lib/libvirt/images/plt-explore/iso1", dev: undefined, pool: undefined, volume: undefined, top: true },
      { target: "vdc", file: undefined, dev: "/dev/vg0/lv1", pool: undefined, volume: undefined, top: true },
    ]);
  });

  test("a domain without disks", async () => {
    expect(await domainDiskSources("<domain><name>x</name><devices/></domain>")).toEqual([]);
  });
});
