import {
  canonicalIp, canonicalMac, contains, formatIp, interfacesOn, lastAddress, netmaskPrefix, NetworkDef, networkAddress,
  networkFromXml, networkToXml, overlaps, parseCidr, parseIp, reconnectSteps,
} from "./network";
import { parseRoot } from "./xml";

describe("addresses", () => {
  test.each([
    ["10.0.0.1", "10.0.0.1"],
    ["255.255.255.255", "255.255.255.255"],
    ["FD00:0:0:0:0:0:0:1", "fd00::1"],
    ["fd00:0213:0007::0001", "fd00:213:7::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // the first of two equal zero runs
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // a single zero group is not compressed
    ["::", "::"],
    ["::1", "::1"],
    ["fe80::", "fe80::"],
    ["::ffff:10.0.0.1", "::ffff:a00:1"],
  ])("%s is %s", (text, canonical) => {
    expect(parseIp(text)).toBeDefined();
    expect(formatIp(parseIp(text)!)).toBe(canonical);
  });

  test.each(["", "10.0.0", "10.0.0.256", "010.0.0.1", "10.0.0.1.", "1:2:3:4:5:6:7:8:9", "1::2::3", "fd00:::1", "12345::", "fd00::g", "10.0.0.1/24", "fe80::1%eth0", " 10.0.0.1"])(
    "%j is not an address",
    (text) => expect(parseIp(text)).toBeUndefined(),
  );

  test("CIDRs, subnets and containment", () => {
    const c = parseCidr("192.168.10.77/26")!;
    expect(formatIp({ family: "ipv4", value: networkAddress(c) })).toBe("192.168.10.64");
    expect(formatIp({ family: "ipv4", value: lastAddress(c) })).toBe("192.168.10.127");
    expect(contains(c, parseIp("192.168.10.100")!)).toBe(true);
    expect(contains(c, parseIp("192.168.10.128")!)).toBe(false);
    expect(contains(c, parseIp("fd00::1")!)).toBe(false);
    expect(overlaps(parseCidr("10.0.0.1/16")!, parseCidr("10.0.200.1/24")!)).toBe(true);
    expect(overlaps(parseCidr("10.0.0.1/24")!, parseCidr("10.0.1.1/24")!)).toBe(false);
    expect(overlaps(parseCidr("fd00:1::1/64")!, parseCidr("fd00:1::/48")!)).toBe(true);
    expect(parseCidr("10.0.0.1/33")).toBeUndefined();
    expect(parseCidr("10.0.0.1/024")).toBeUndefined();
    expect(parseCidr("fd00::1/129")).toBeUndefined();
    expect(parseCidr("10.0.0.1")).toBeUndefined();
  });

  test("netmasks and MACs", () => {
    expect(netmaskPrefix("255.255.255.0")).toBe(24);
    expect(netmaskPrefix("255.255.255.255")).toBe(32);
    expect(netmaskPrefix("0.0.0.0")).toBe(0);
    expect(netmaskPrefix("255.0.255.0")).toBeUndefined();
    expect(canonicalMac("52:54:00:AB:cd:01")).toBe("52:54:00:ab:cd:01");
    expect(canonicalMac("52-54-00-ab-cd-01")).toBeUndefined();
    expect(canonicalMac("52:54:00:ab:cd")).toBeUndefined();
    expect(canonicalIp("FD00::0001")).toBe("fd00::1");
    expect(canonicalIp("not an ip")).toBe("not an ip");
  });
});

const FULL: NetworkDef = {
  name: "lab",
  uuid: "95d9a6df-e110-4271-8b3a-f723d6f2a665",
  forwardMode: "nat",
  forwardDevices: [],
  bridge: { name: "virbr9", stp: false, delay: 0 },
  mac: "52:54:00:8b:45:c8",
  mtu: 9000,
  domain: { name: "lab.test", localOnly: true },
  dns: {
    enable: undefined,
    forwarders: ["10.1.1.1", "fd00::53"],
    hosts: [{ ip: "10.9.0.50", hostnames: ["a", "b.lab.test"] }],
    txt: [{ name: "t1", value: "hello world" }],
    srv: [{ service: "http", protocol: "tcp", domain: "lab.test", target: "web.lab.test", port: 80, priority: 10, weight: 5 }],
  },
  ips: [
    { family: "ipv4", address: "10.9.0.1", prefix: 24, ranges: [{ start: "10.9.0.100", end: "10.9.0.150" }], hosts: [{ mac: "52:54:00:aa:00:01", name: "db", ip: "10.9.0.11" }] },
    { family: "ipv6", address: "fd00:9::1", prefix: 64, ranges: [], hosts: [{ name: "db", ip: "fd00:9::11" }] },
  ],
  routes: [{ family: "ipv4", address: "10.99.0.0", prefix: 16, gateway: "10.9.0.2" }],
};

describe("network XML", () => {
  test("round trip of every element the provider writes", async () => {
    const xml = networkToXml(FULL);
    expect(xml).toContain("<forward mode=\"nat\"/>");
    expect(xml).toContain("<bridge name=\"virbr9\" stp=\"off\" delay=\"0\"/>");
    expect(xml).toContain("<domain name=\"lab.test\" localOnly=\"yes\"/>");
    expect(xml).toContain("<ip family=\"ipv6\" address=\"fd00:9::1\" prefix=\"64\">");
    expect(await networkFromXml(xml)).toEqual(FULL);
  });

  test("an isolated network without DNS, and a macvtap one", async () => {
    const iso: NetworkDef = { ...FULL, forwardMode: undefined, mtu: undefined, domain: undefined, mac: undefined, routes: [], ips: [], dns: { enable: false, forwarders: [], hosts: [], txt: [], srv: [] } };
    const xml = networkToXml(iso);
    expect(xml).not.toContain("<forward");
    expect(xml).toContain("<dns enable=\"no\"/>");
    expect(await networkFromXml(xml)).toEqual(iso);
    const mv: NetworkDef = { ...iso, forwardMode: "bridge", forwardDevices: ["eth1", "eth2"], bridge: undefined, dns: { ...iso.dns, enable: undefined } };
    expect(networkToXml(mv)).toContain("<interface dev=\"eth1\"/>");
    expect(await networkFromXml(networkToXml(mv))).toEqual(mv);
  });

  test("reads what libvirt writes: netmask, <forward dev>, nat ports, classful default", async () => {
    const def = await networkFromXml(`
      <network connections='2'>
        <name>old</name>
        <forward dev='eth0' mode='nat'><nat><port start='1024' end='65535'/></nat><interface dev='eth0'/></forward>
        <bridge name='virbr0' stp='on' delay='0'/>
        <ip address='192.168.122.1' netmask='255.255.255.0'><dhcp><host mac='52:54:00:AA:BB:CC' ip='192.168.122.5'/></dhcp></ip>
        <ip address='10.1.2.3'/>
        <ip family='ipv6' address='FD00:0::1' prefix='64'/>
        <route address='10.20.0.0' netmask='255.255.0.0' gateway='192.168.122.2'/>
      </network>`);
    expect(def.forwardMode).toBe("nat");
    expect(def.forwardDevices).toEqual(["eth0"]);
    expect(def.ips.map((i) => [i.family, i.address, i.prefix])).toEqual([["ipv4", "192.168.122.1", 24], ["ipv4", "10.1.2.3", 8], ["ipv6", "fd00::1", 64]]);
    expect(def.ips[0].hosts).toEqual([{ mac: "52:54:00:aa:bb:cc", ip: "192.168.122.5", name: undefined, id: undefined }]);
    expect(def.routes).toEqual([{ family: "ipv4", address: "10.20.0.0", prefix: 16, gateway: "192.168.122.2" }]);
    expect((await networkFromXml("<network><name>x</name><forward/></network>")).forwardMode).toBe("nat");
  });

  test("text is escaped", async () => {
    const def: NetworkDef = { ...FULL, dns: { ...FULL.dns, txt: [{ name: "t", value: "a'b\"c<d>&e" }] } };
    expect((await networkFromXml(networkToXml(def))).dns.txt).toEqual([{ name: "t", value: "a'b\"c<d>&e" }]);
  });
});

const DOMAIN = `
<domain type='qemu' id='7'>
  <name>g1</name>
  <devices>
    <interface type='network'>
      <mac address='52:54:00:aa:00:09'/>
      <source network='lab' portid='639b0eae-f6a9-4ef9-a84d-87e474a40767' bridge='virbr9'/>
      <target dev='vnet12'/>
      <model type='virtio'/>
      <alias name='net0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
    </interface>
    <interface type='bridge'>
      <mac address='52:54:00:aa:00:0a'/>
      <source bridge='virbr9'/>
      <target dev='vnet13'/>
      <model type='virtio'/>
    </interface>
    <interface type='network'>
      <mac address='52:54:00:aa:00:0b'/>
      <source network='other' bridge='virbr1'/>
    </interface>
  </devices>
</domain>`;

describe("interfaces of domains on a network", () => {
  test("found by network name and by the network's bridge", async () => {
    const found = await interfacesOn(DOMAIN, "lab", "virbr9");
    expect(found.map((i) => [i.type, i.mac, i.tap])).toEqual([["network", "52:54:00:aa:00:09", "vnet12"], ["bridge", "52:54:00:aa:00:0a", "vnet13"]]);
    expect((await interfacesOn(DOMAIN, "lab", undefined)).length).toBe(1);
    expect(await interfacesOn(DOMAIN, "nope", "virbr5")).toEqual([]);
  });

  test("reconnect: the other type on the same bridge, then the original without live-only attributes", async () => {
    const [iface] = await interfacesOn(DOMAIN, "lab", "virbr9");
    const [other, original] = reconnectSteps(iface, "lab", "virbr10");
    const o = await parseRoot(other, "interface");
    expect(o.$?.type).toBe("bridge");
    expect(o.source[0].$).toEqual({ bridge: "virbr10" });
    expect(o.mac[0].$.address).toBe("52:54:00:aa:00:09");
    expect(o.target[0].$.dev).toBe("vnet12");
    expect(o.address[0].$.slot).toBe("0x02");
    const back = await parseRoot(original, "interface");
    expect(back.$?.type).toBe("network");
    expect(back.source[0].$).toEqual({ network: "lab" });
    // The parsed domain document is not changed by building the steps.
    expect(iface.node.source[0].$.portid).toBeDefined();

    const [, bridged] = await interfacesOn(DOMAIN, "lab", "virbr9");
    const [other2, original2] = reconnectSteps(bridged, "lab", "virbr9");
    expect((await parseRoot(other2, "interface")).source[0].$).toEqual({ network: "lab" });
    expect((await parseRoot(original2, "interface")).source[0].$).toEqual({ bridge: "virbr9" });
  });
});
