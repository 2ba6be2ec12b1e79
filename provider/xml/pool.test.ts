/** <pool> XML: the model survives poolToXml -> poolFromXml, and libvirt's own output parses. */
import { PoolDef, poolFromXml, poolToXml, POOL_TYPES } from "./pool";

/** Absent, undefined, empty lists and empty objects carry no information in the model. */
function clean(v: unknown): unknown {
  if (Array.isArray(v)) return v.length ? v.map(clean) : undefined;
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const c = clean(x);
      if (c !== undefined) out[k] = c;
    }
    return Object.keys(out).length ? out : undefined;
  }
  return v;
}

async function roundTrip(def: PoolDef): Promise<PoolDef> {
  return poolFromXml(poolToXml(def));
}

const UUID = "6d3c7f2e-1b5a-4c8e-9f0a-2b7d4e6c8a10";

/** One model per pool type, as check() would produce them. */
const MODELS: Record<string, PoolDef> = {
  dir: { name: "images", type: "dir", target: { path: "/var/lib/libvirt/images/images" } },
  "dir with permissions and uuid": {
    name: "images2", type: "dir", uuid: UUID,
    target: { path: "/srv/images", permissions: { mode: "0711", owner: 107, group: 108 } },
  },
  "dir with root ownership": { name: "r", type: "dir", target: { path: "/srv/r", permissions: { mode: "0700", owner: 0, group: 0 } } },
  fs: { name: "fsp", type: "fs", source: { devices: ["/dev/vdb1"], format: "ext4" }, target: { path: "/mnt/fsp", permissions: { mode: "0755" } } },
  netfs: { name: "nfs", type: "netfs", source: { host: "nfs.example.com", dir: "/exports/images", format: "nfs" }, target: { path: "/mnt/nfs" } },
  "netfs cifs by IP": { name: "smb", type: "netfs", source: { host: "10.0.0.9", dir: "/share", format: "cifs" }, target: { path: "/mnt/smb" } },
  logical: { name: "vg", type: "logical", source: { name: "HostVG", devices: ["/dev/sdb1", "/dev/sdc1"], format: "lvm2" } },
  "logical, existing VG": { name: "vg2", type: "logical", source: { name: "vg_data" }, target: { path: "/dev/vg_data" } },
  disk: { name: "d", type: "disk", source: { devices: ["/dev/vdc"], format: "gpt" }, target: { path: "/dev" } },
  iscsi: { name: "i", type: "iscsi", source: { host: "10.0.0.5", devices: ["iqn.2013-06.com.example:iscsi-pool"] }, target: { path: "/dev/disk/by-path" } },
};

describe("poolToXml -> poolFromXml", () => {
  test.each(Object.entries(MODELS))("%s round-trips", async (_what, def) => {
    expect(clean(await roundTrip(def))).toEqual(clean(def));
  });

  test("every pool type is covered", () => {
    expect(new Set(Object.values(MODELS).map((m) => m.type))).toEqual(new Set(POOL_TYPES));
  });

  test("characters XML must escape survive", async () => {
    const def: PoolDef = { name: "p", type: "netfs", source: { host: "h", dir: "/exp/a & b <c> 'd' \"e\"" }, target: { path: "/mnt/x&y<z>" } };
    const xml = poolToXml(def);
    expect(xml).not.toContain("x&y");
    expect(clean(await poolFromXml(xml))).toEqual(clean(def));
  });

  test("the document has the shape libvirt expects", () => {
    const xml = poolToXml(MODELS.fs);
    expect(xml).toMatch(/^<pool type="fs">/);
    expect(xml).toContain('<device path="/dev/vdb1"/>');
    expect(xml).toContain('<format type="ext4"/>');
    expect(xml).toContain("<path>/mnt/fsp</path>");
    expect(xml).toContain("<mode>0755</mode>");
    // No empty elements for what was not set.
    expect(xml).not.toContain("<owner");
    expect(xml).not.toContain("<uuid");
    expect(xml).not.toContain("<host");
  });

  test("owner and group 0 are written, not dropped as falsy", () => {
    const xml = poolToXml(MODELS["dir with root ownership"]);
    expect(xml).toContain("<owner>0</owner>");
    expect(xml).toContain("<group>0</group>");
  });

  test("a pool without source or target writes neither element", () => {
    const xml = poolToXml({ name: "bare", type: "dir" });
    expect(xml).not.toContain("<source");
    expect(xml).not.toContain("<target");
    expect(xml).not.toContain("<permissions");
  });

  test("empty permissions are left out", async () => {
    const xml = poolToXml({ name: "p", type: "dir", target: { path: "/x", permissions: {} } });
    expect(xml).not.toContain("<permissions");
    expect((await poolFromXml(xml)).target?.permissions).toBeUndefined();
  });

  test("a document that is not a pool is rejected", async () => {
    await expect(poolFromXml("<volume><name>x</name></volume>")).rejects.toThrow("expected a <pool> document, got <volume>");
    await expect(poolFromXml("not xml at all <")).rejects.toThrow();
  });
});

/** `virsh pool-dumpxml` output from libvirt 9.0, one per type. */
const LIBVIRT_XML: Record<string, [string, PoolDef]> = {
  "running dir pool": [
    `<pool type='dir'>
  <name>plt-explore</name>
  <uuid>fea44d28-5f2d-4e3c-9ac9-d60a0e87742d</uuid>
  <capacity unit='bytes'>270553174016</capacity>
  <allocation unit='bytes'>17624440832</allocation>
  <available unit='bytes'>252928733184</available>
  <source>
  </source>
  <target>
    <path>/var/lib/libvirt/images/plt-explore</path>
    <permissions>
      <mode>0755</mode>
      <owner>0</owner>
      <group>0</group>
    </permissions>
  </target>
</pool>
`,
    {
      name: "plt-explore", type: "dir", uuid: "fea44d28-5f2d-4e3c-9ac9-d60a0e87742d",
      target: { path: "/var/lib/libvirt/images/plt-explore", permissions: { mode: "0755", owner: 0, group: 0 } },
    },
  ],
  "dir pool with a short mode and a security label": [
    `<pool type='dir'>
  <name>labelled</name>
  <uuid>0b5b6a1e-2d9c-4f51-a7e4-3c1d8e2f9a77</uuid>
  <capacity unit='bytes'>0</capacity>
  <allocation unit='bytes'>0</allocation>
  <available unit='bytes'>0</available>
  <source>
  </source>
  <target>
    <path>/srv/labelled</path>
    <permissions>
      <mode>711</mode>
      <owner>107</owner>
      <group>108</group>
      <label>system_u:object_r:virt_image_t:s0</label>
    </permissions>
  </target>
</pool>`,
    {
      name: "labelled", type: "dir", uuid: "0b5b6a1e-2d9c-4f51-a7e4-3c1d8e2f9a77",
      target: { path: "/srv/labelled", permissions: { mode: "0711", owner: 107, group: 108 } },
    },
  ],
  fs: [
    `<pool type='fs'>
  <name>plt-xml-fs</name>
  <uuid>0236418a-48fa-4504-900e-cc391b756837</uuid>
  <capacity unit='bytes'>0</capacity>
  <allocation unit='bytes'>0</allocation>
  <available unit='bytes'>0</available>
  <source>
    <device path='/dev/vdb1'/>
    <format type='ext4'/>
  </source>
  <target>
    <path>/var/tmp/plt-xml-fs</path>
    <permissions>
      <mode>0750</mode>
      <owner>107</owner>
      <group>108</group>
    </permissions>
  </target>
</pool>
`,
    {
      name: "plt-xml-fs", type: "fs", uuid: "0236418a-48fa-4504-900e-cc391b756837",
      source: { devices: ["/dev/vdb1"], format: "ext4" },
      target: { path: "/var/tmp/plt-xml-fs", permissions: { mode: "0750", owner: 107, group: 108 } },
    },
  ],
  netfs: [
    `<pool type='netfs'>
  <name>plt-xml-netfs</name>
  <uuid>45d626f7-e18a-4d1d-8276-6b71f2c411fc</uuid>
  <capacity unit='bytes'>0</capacity>
  <allocation unit='bytes'>0</allocation>
  <available unit='bytes'>0</available>
  <source>
    <host name='nfs.example.com'/>
    <dir path='/exports/images'/>
    <format type='nfs'/>
  </source>
  <target>
    <path>/var/tmp/plt-xml-netfs</path>
  </target>
</pool>
`,
    {
      name: "plt-xml-netfs", type: "netfs", uuid: "45d626f7-e18a-4d1d-8276-6b71f2c411fc",
      source: { host: "nfs.example.com", dir: "/exports/images", format: "nfs" },
      target: { path: "/var/tmp/plt-xml-netfs" },
    },
  ],
  logical: [
    `<pool type='logical'>
  <name>plt-xml-lvm</name>
  <uuid>2d157130-23ae-4114-bee7-835600d098ac</uuid>
  <capacity unit='bytes'>0</capacity>
  <allocation unit='bytes'>0</allocation>
  <available unit='bytes'>0</available>
  <source>
    <device path='/dev/sdb1'/>
    <device path='/dev/sdc1'/>
    <name>HostVG</name>
    <format type='lvm2'/>
  </source>
  <target>
    <path>/dev/HostVG</path>
  </target>
</pool>
`,
    {
      name: "plt-xml-lvm", type: "logical", uuid: "2d157130-23ae-4114-bee7-835600d098ac",
      source: { devices: ["/dev/sdb1", "/dev/sdc1"], name: "HostVG", format: "lvm2" },
      target: { path: "/dev/HostVG" },
    },
  ],
  disk: [
    `<pool type='disk'>
  <name>plt-xml-disk</name>
  <uuid>1d852cdd-0469-4e6f-a1b3-cd543787c794</uuid>
  <capacity unit='bytes'>0</capacity>
  <allocation unit='bytes'>0</allocation>
  <available unit='bytes'>0</available>
  <source>
    <device path='/dev/vdc'/>
    <format type='gpt'/>
  </source>
  <target>
    <path>/dev</path>
  </target>
</pool>
`,
    {
      name: "plt-xml-disk", type: "disk", uuid: "1d852cdd-0469-4e6f-a1b3-cd543787c794",
      source: { devices: ["/dev/vdc"], format: "gpt" },
      target: { path: "/dev" },
    },
  ],
  iscsi: [
    `<pool type='iscsi'>
  <name>plt-xml-iscsi</name>
  <uuid>30d6b43d-e92c-48f1-bb75-5d4edc80f6d5</uuid>
  <capacity unit='bytes'>0</capacity>
  <allocation unit='bytes'>0</allocation>
  <available unit='bytes'>0</available>
  <source>
    <host name='10.0.0.5' port='3260'/>
    <device path='iqn.2013-06.com.example:iscsi-pool'/>
    <initiator>
      <iqn name='iqn.2013-06.com.example:host1'/>
    </initiator>
  </source>
  <target>
    <path>/dev/disk/by-path</path>
  </target>
</pool>
`,
    {
      name: "plt-xml-iscsi", type: "iscsi", uuid: "30d6b43d-e92c-48f1-bb75-5d4edc80f6d5",
      source: { host: "10.0.0.5", devices: ["iqn.2013-06.com.example:iscsi-pool"] },
      target: { path: "/dev/disk/by-path" },
    },
  ],
};

describe("poolFromXml reads libvirt's output", () => {
  test.each(Object.entries(LIBVIRT_XML))("%s", async (_what, [xml, expected]) => {
    expect(clean(await poolFromXml(xml))).toEqual(clean(expected));
  });

  test("every pool type is covered", () => {
    expect(new Set(Object.values(LIBVIRT_XML).map(([, m]) => m.type))).toEqual(new Set(POOL_TYPES));
  });

  test("what libvirt reports reads back into XML libvirt would read the same way", async () => {
    for (const [xml] of Object.values(LIBVIRT_XML)) {
      const def = await poolFromXml(xml);
      expect(clean(await roundTrip(def))).toEqual(clean(def));
    }
  });

  test("an empty <source> gives no devices and no other source fields", async () => {
    const def = await poolFromXml(LIBVIRT_XML["running dir pool"][0]);
    expect(def.source?.devices ?? []).toEqual([]);
    expect(def.source?.host).toBeUndefined();
    expect(def.source?.dir).toBeUndefined();
    expect(def.source?.name).toBeUndefined();
    expect(def.source?.format).toBeUndefined();
  });

  test("numbers are numbers and modes are four octal digits", async () => {
    const def = await poolFromXml(LIBVIRT_XML["dir pool with a short mode and a security label"][0]);
    expect(def.target?.permissions).toEqual({ mode: "0711", owner: 107, group: 108 });
  });
});
