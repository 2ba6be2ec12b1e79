/**
 * Network check and diff through the revived provider (as the Pulumi host runs it), plus the
 * live-update planner. The provider is pointed at a unix socket that only counts connections:
 * check and diff must never open one.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { closeProviderConnections, checked, failureFor, revive, Revived } from "../../test/provider";
import { NetworkUpdateCommand as C } from "../libvirt/constants";
import { UNKNOWN } from "../core/unknown";
import { planDhcpHosts, planDnsHosts, planDnsSrv, planDnsTxt } from "./network";

let p: Revived;
let server: net.Server;
let connections = 0;
let dir: string;
let uri: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "plt-net-check-"));
  const sock = path.join(dir, "libvirt-sock");
  server = net.createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(sock, r));
  uri = `qemu:///system?socket=${sock}`;
  p = await revive("Network", { "libvirt:uri": uri });
});

afterAll(async () => {
  await closeProviderConnections();
  await new Promise((r) => server.close(r));
  fs.rmSync(dir, { recursive: true, force: true });
});

const base = {
  name: "lab",
  mode: "isolated",
  ipv4: { address: "10.50.0.1/24", dhcpRanges: [{ start: "10.50.0.100", end: "10.50.0.199" }] },
};
const v6 = { address: "fd00:50::1/64", dhcpRanges: [{ start: "fd00:50::100", end: "fd00:50::1ff" }] };
const host = (mac: string | undefined, ip: string, hostname?: string) => ({ mac, ip, hostname });

/** [what, inputs, the property the failure must name] */
const BAD: [string, Record<string, unknown>, string][] = [
  ["no name", { ...base, name: undefined }, "name"],
  ["a slash in the name", { ...base, name: "lab/1" }, "name"],
  ["a name starting with a dot", { ...base, name: ".lab" }, "name"],
  ["a 256-character name", { ...base, name: "n".repeat(256) }, "name"],
  ["an unknown mode", { ...base, mode: "nat-ish" }, "mode"],
  ["no mode", { ...base, mode: undefined }, "mode"],
  ["an address without prefix", { ...base, ipv4: { address: "10.50.0.1" } }, "ipv4.address"],
  ["an octet over 255", { ...base, ipv4: { address: "10.50.0.300/24" } }, "ipv4.address"],
  ["prefix /33", { ...base, ipv4: { address: "10.50.0.1/33" } }, "ipv4.address"],
  ["prefix /31: no room for guests", { ...base, ipv4: { address: "10.50.0.1/31" } }, "ipv4.address"],
  ["the network address as host address", { ...base, ipv4: { address: "10.50.0.0/24" } }, "ipv4.address"],
  ["the broadcast address as host address", { ...base, ipv4: { address: "10.50.0.255/24" } }, "ipv4.address"],
  ["IPv6 in ipv4", { ...base, ipv4: { address: "fd00::1/64" } }, "ipv4.address"],
  ["an IPv4-mapped IPv6 subnet", { ...base, ipv6: { address: "::ffff:10.0.0.1/120" } }, "ipv6.address"],
  ["DHCPv6 on a /48", { ...base, ipv6: { address: "fd00:50::1/48", dhcpRanges: [{ start: "fd00:50::100", end: "fd00:50::1ff" }] } }, "ipv6.address"],
  ["a range outside the subnet", { ...base, ipv4: { address: "10.50.0.1/24", dhcpRanges: [{ start: "10.50.1.10", end: "10.50.1.20" }] } }, "ipv4.dhcpRanges[0]"],
  ["a range ending before it starts", { ...base, ipv4: { address: "10.50.0.1/24", dhcpRanges: [{ start: "10.50.0.20", end: "10.50.0.10" }] } }, "ipv4.dhcpRanges[0]"],
  ["overlapping ranges", { ...base, ipv4: { address: "10.50.0.1/24", dhcpRanges: [{ start: "10.50.0.10", end: "10.50.0.50" }, { start: "10.50.0.40", end: "10.50.0.60" }] } }, "ipv4.dhcpRanges[1]"],
  ["a range holding the host address", { ...base, ipv4: { address: "10.50.0.1/24", dhcpRanges: [{ start: "10.50.0.1", end: "10.50.0.50" }] } }, "ipv4.dhcpRanges[0]"],
  ["a range reaching the broadcast address", { ...base, ipv4: { address: "10.50.0.1/24", dhcpRanges: [{ start: "10.50.0.200", end: "10.50.0.255" }] } }, "ipv4.dhcpRanges[0]"],
  ["a range start that is no address", { ...base, ipv4: { address: "10.50.0.1/24", dhcpRanges: [{ start: "ten", end: "10.50.0.50" }] } }, "ipv4.dhcpRanges[0].start"],
  ["an IPv6 range in ipv4", { ...base, ipv4: { address: "10.50.0.1/24", dhcpRanges: [{ start: "fd00::1", end: "fd00::2" }] } }, "ipv4.dhcpRanges[0].start"],
  ["a MAC with a non-hex digit", { ...base, dhcpHosts: [host("52:54:00:zz:00:01", "10.50.0.10")] }, "dhcpHosts[0].mac"],
  ["a MAC with dashes", { ...base, dhcpHosts: [host("52-54-00-aa-00-01", "10.50.0.10")] }, "dhcpHosts[0].mac"],
  ["a multicast MAC", { ...base, dhcpHosts: [host("01:00:5e:00:00:01", "10.50.0.10")] }, "dhcpHosts[0].mac"],
  ["a reservation outside the subnet", { ...base, dhcpHosts: [host("52:54:00:aa:00:01", "10.51.0.10")] }, "dhcpHosts[0].ip"],
  ["a reservation of the host address", { ...base, dhcpHosts: [host("52:54:00:aa:00:01", "10.50.0.1")] }, "dhcpHosts[0].ip"],
  ["a reservation of the broadcast address", { ...base, dhcpHosts: [host("52:54:00:aa:00:01", "10.50.0.255")] }, "dhcpHosts[0].ip"],
  ["two reservations for one MAC", { ...base, dhcpHosts: [host("52:54:00:aa:00:01", "10.50.0.10"), host("52:54:00:AA:00:01", "10.50.0.11")] }, "dhcpHosts[1].mac"],
  ["two reservations of one address", { ...base, dhcpHosts: [host("52:54:00:aa:00:01", "10.50.0.10"), host("52:54:00:aa:00:02", "10.50.0.10")] }, "dhcpHosts[1].ip"],
  ["two reservations with one hostname", { ...base, dhcpHosts: [host("52:54:00:aa:00:01", "10.50.0.10", "db"), host("52:54:00:aa:00:02", "10.50.0.11", "DB")] }, "dhcpHosts[1].hostname"],
  ["an IPv4 reservation with neither MAC nor hostname", { ...base, dhcpHosts: [host(undefined, "10.50.0.10")] }, "dhcpHosts[0]"],
  ["an IPv6 reservation by MAC", { ...base, ipv6: v6, dhcpHosts: [host("52:54:00:aa:00:01", "fd00:50::10", "db")] }, "dhcpHosts[0].mac"],
  ["an IPv6 reservation without hostname", { ...base, ipv6: v6, dhcpHosts: [{ ip: "fd00:50::10" }] }, "dhcpHosts[0].hostname"],
  ["an IPv6 reservation on a network without IPv6", { ...base, dhcpHosts: [host(undefined, "fd00:50::10", "db")] }, "dhcpHosts[0].ip"],
  ["a hostname starting with -", { ...base, dhcpHosts: [host("52:54:00:aa:00:01", "10.50.0.10", "-db")] }, "dhcpHosts[0].hostname"],
  ["a reservation without ip", { ...base, dhcpHosts: [{ mac: "52:54:00:aa:00:01" }] }, "dhcpHosts[0].ip"],
  ["MTU 20", { ...base, mtu: 20 }, "mtu"],
  ["MTU 70000", { ...base, mtu: 70000 }, "mtu"],
  ["MTU 1000 with IPv6", { ...base, ipv6: v6, mtu: 1000 }, "mtu"],
  ["a 16-character bridge name", { ...base, bridge: { name: "averyverylongbr0" } }, "bridge.name"],
  ["a slash in the bridge name", { ...base, bridge: { name: "br/0" } }, "bridge.name"],
  ["a bridge name template", { ...base, bridge: { name: "virbr%d" } }, "bridge.name"],
  ["STP delay 100 s", { ...base, bridge: { delay: 100 } }, "bridge.delay"],
  ["bridge mode without bridge name", { name: "lab", mode: "bridge" }, "bridge.name"],
  ["bridge mode with an address", { name: "lab", mode: "bridge", bridge: { name: "br0" }, ipv4: { address: "10.50.0.1/24" } }, "ipv4"],
  ["bridge mode with STP", { name: "lab", mode: "bridge", bridge: { name: "br0", stp: false } }, "bridge.stp"],
  ["bridge mode with an MTU", { name: "lab", mode: "bridge", bridge: { name: "br0" }, mtu: 9000 }, "mtu"],
  ["macvtap without source devices", { name: "lab", mode: "macvtap" }, "sourceDevices"],
  ["macvtap with a bridge", { name: "lab", mode: "macvtap", sourceDevices: ["eth1"], bridge: { name: "br0" } }, "bridge"],
  ["macvtap with DHCP reservations", { name: "lab", mode: "macvtap", sourceDevices: ["eth1"], dhcpHosts: [host("52:54:00:aa:00:01", "10.50.0.10")] }, "dhcpHosts"],
  ["a source device listed twice", { name: "lab", mode: "macvtap", sourceDevices: ["eth1", "eth1"] }, "sourceDevices[1]"],
  ["source devices on a nat network", { ...base, mode: "nat", sourceDevices: ["eth1"] }, "sourceDevices"],
  ["nat without ipv4", { name: "lab", mode: "nat", ipv6: v6 }, "ipv4"],
  ["route without any address", { name: "lab", mode: "route" }, "ipv4"],
  ["a forwarder that is a name", { ...base, dns: { forwarders: ["dns.google"] } }, "dns.forwarders[0]"],
  ["DNS records with DNS disabled", { ...base, dns: { enable: false }, dnsHosts: [{ ip: "10.50.0.5", hostnames: ["a"] }] }, "dnsHosts"],
  ["a DNS host record without address", { ...base, dnsHosts: [{ ip: "10.50.0", hostnames: ["a"] }] }, "dnsHosts[0].ip"],
  ["a DNS host record without names", { ...base, dnsHosts: [{ ip: "10.50.0.5", hostnames: [] }] }, "dnsHosts[0].hostnames"],
  ["two DNS host records for one address", { ...base, dnsHosts: [{ ip: "10.50.0.5", hostnames: ["a"] }, { ip: "10.50.0.5", hostnames: ["b"] }] }, "dnsHosts[1].ip"],
  ["a DNS name with !", { ...base, dnsHosts: [{ ip: "10.50.0.5", hostnames: ["bad!name"] }] }, "dnsHosts[0].hostnames[0]"],
  ["a domain with an empty label", { ...base, domain: { name: "lab..test" } }, "domain.name"],
  ["a domain without name", { ...base, domain: { localOnly: true } }, "domain.name"],
  ["a TXT name with a space", { ...base, dnsTxt: [{ name: "my record", value: "x" }] }, "dnsTxt[0].name"],
  ["two TXT records of one name", { ...base, dnsTxt: [{ name: "t", value: "x" }, { name: "t", value: "y" }] }, "dnsTxt[1].name"],
  ["a 16-character SRV service", { ...base, dnsSrv: [{ service: "s".repeat(16), protocol: "tcp" }] }, "dnsSrv[0].service"],
  ["an SRV port without target", { ...base, dnsSrv: [{ service: "http", protocol: "tcp", port: 80 }] }, "dnsSrv[0].port"],
  ["SRV port 70000", { ...base, dnsSrv: [{ service: "http", protocol: "tcp", target: "web", port: 70000 }] }, "dnsSrv[0].port"],
  ["SRV records libvirt cannot tell apart", { ...base, dnsSrv: [{ service: "http", protocol: "tcp" }, { service: "http", protocol: "tcp", target: "web" }] }, "dnsSrv[1]"],
  ["a route destination with host bits", { ...base, routes: [{ destination: "10.60.0.1/16", gateway: "10.50.0.2" }] }, "routes[0].destination"],
  ["a default route", { ...base, routes: [{ destination: "0.0.0.0/0", gateway: "10.50.0.2" }] }, "routes[0].destination"],
  ["a route gateway outside the subnet", { ...base, routes: [{ destination: "10.60.0.0/16", gateway: "10.60.0.2" }] }, "routes[0].gateway"],
  ["a route mixing families", { ...base, routes: [{ destination: "fd00:60::/48", gateway: "10.50.0.2" }] }, "routes[0].gateway"],
  ["a route to the network's own subnet", { ...base, routes: [{ destination: "10.50.0.0/16", gateway: "10.50.0.2" }] }, "routes[0].destination"],
  ["a typo in ipv4", { ...base, ipv4: { address: "10.50.0.1/24", gateway: "10.50.0.1" } }, "ipv4.gateway"],
  ["a typo at the top", { ...base, dhcp: true }, "dhcp"],
  ["allowRestart as a string", { ...base, allowRestart: "yes" }, "allowRestart"],
  ["dhcpHosts that is not a list", { ...base, dhcpHosts: { mac: "52:54:00:aa:00:01" } }, "dhcpHosts"],
];

describe("check rejects bad inputs, naming the field", () => {
  test.each(BAD)("%s", async (_what, inputs, property) => {
    const reason = await failureFor(p, inputs, property);
    expect(reason.length).toBeGreaterThan(10);
  });

  test(`${BAD.length} cases`, () => expect(BAD.length).toBeGreaterThanOrEqual(30));
});

describe("check normalizes", () => {
  test("defaults, canonical addresses and MACs, records sorted", async () => {
    const inputs = await checked(p, {
      name: "lab", mode: "nat",
      ipv4: { address: "10.50.0.1/24", dhcpRanges: [] },
      ipv6: { address: "FD00:0050:0:0::1/64" },
      dhcpHosts: [host("52:54:00:AA:00:02", "10.50.0.12", "b"), host("52:54:00:aa:00:01", "10.50.0.11", "a"), { ip: "fd00:50::0010", hostname: "a" }],
      dns: { enable: true },
      dnsHosts: [{ ip: "10.50.0.9", hostnames: ["z"] }, { ip: "10.50.0.8", hostnames: ["y", "x"] }],
      dnsTxt: [{ name: "b", value: "2" }, { name: "a", value: "1" }],
      dnsSrv: [{ service: "ldap", protocol: "tcp", target: "dir", port: 389, priority: 0, weight: 0 }],
      domain: { name: "lab.test", localOnly: false },
      bridge: {},
    });
    expect(inputs).toEqual({
      name: "lab", mode: "nat",
      ipv4: { address: "10.50.0.1/24" },
      ipv6: { address: "fd00:50::1/64" },
      dhcpHosts: [host("52:54:00:aa:00:01", "10.50.0.11", "a"), host("52:54:00:aa:00:02", "10.50.0.12", "b"), { ip: "fd00:50::10", hostname: "a" }],
      dnsHosts: [{ ip: "10.50.0.8", hostnames: ["y", "x"] }, { ip: "10.50.0.9", hostnames: ["z"] }],
      dnsTxt: [{ name: "a", value: "1" }, { name: "b", value: "2" }],
      dnsSrv: [{ service: "ldap", protocol: "tcp", target: "dir", port: 389 }],
      domain: { name: "lab.test" },
      start: true, autostart: true, allowRestart: false, forceDelete: false,
    });
  });

  test("valid bridge, macvtap, route and open networks", async () => {
    await checked(p, { name: "lab", mode: "bridge", bridge: { name: "br0" } });
    await checked(p, { name: "lab", mode: "macvtap", sourceDevices: ["eth1", "eth2"] });
    await checked(p, { name: "lab", mode: "route", ipv6: v6, routes: [{ destination: "fd00:60::/48", gateway: "fd00:50::2" }] });
    await checked(p, { name: "lab", mode: "open", ipv4: { address: "192.168.220.1/24" }, mtu: 9000, bridge: { name: "pltopen0", stp: false, delay: 0 } });
    await checked(p, { name: "lab", mode: "isolated" });
  });

  test("unknown preview values anywhere are accepted", async () => {
    for (const inputs of [
      { ...base, name: UNKNOWN },
      { ...base, mode: UNKNOWN },
      { ...base, ipv4: UNKNOWN },
      { ...base, ipv4: { address: UNKNOWN, dhcpRanges: [{ start: "10.50.0.100", end: "10.50.0.199" }] } },
      { ...base, ipv4: { address: "10.50.0.1/24", dhcpRanges: UNKNOWN } },
      { ...base, ipv4: { address: "10.50.0.1/24", dhcpRanges: [UNKNOWN] } },
      { ...base, dhcpHosts: UNKNOWN },
      { ...base, dhcpHosts: [UNKNOWN, host("52:54:00:aa:00:01", "10.50.0.10")] },
      { ...base, dhcpHosts: [host(UNKNOWN, "10.50.0.10"), host("52:54:00:aa:00:01", UNKNOWN)] },
      { ...base, dnsHosts: [{ ip: UNKNOWN, hostnames: UNKNOWN }] },
      { ...base, dns: UNKNOWN, dnsSrv: [{ service: "http", protocol: UNKNOWN, target: UNKNOWN, port: UNKNOWN }] },
      { ...base, bridge: { name: UNKNOWN }, mtu: UNKNOWN, domain: { name: UNKNOWN } },
      { name: "lab", mode: "bridge", bridge: UNKNOWN },
      { name: "lab", mode: "macvtap", sourceDevices: UNKNOWN },
      { name: "lab", mode: "nat", ipv4: UNKNOWN, routes: [{ destination: "10.60.0.0/16", gateway: UNKNOWN }] },
    ]) {
      const r = await p.check({}, inputs);
      expect({ inputs, failures: r.failures ?? [] }).toEqual({ inputs, failures: [] });
    }
  });
});

describe("diff", () => {
  const outs = async (inputs: object) => ({ ...(await checked(p, inputs)), uuid: "u", active: true, leases: [], pendingRestart: [] });

  test("no change, whatever the order of records", async () => {
    const a = { ...base, dhcpHosts: [host("52:54:00:aa:00:01", "10.50.0.10"), host("52:54:00:aa:00:02", "10.50.0.20")] };
    const b = { ...base, dhcpHosts: [...a.dhcpHosts].reverse() };
    expect(await p.diff("u", await outs(a), await checked(p, b))).toEqual({ changes: false });
  });

  test("live and restart fields update in place", async () => {
    const old = await outs(base);
    const live = await p.diff("u", old, await checked(p, { ...base, dhcpHosts: [host("52:54:00:aa:00:01", "10.50.0.10")] }));
    expect(live).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    const restart = await p.diff("u", old, await checked(p, { ...base, mtu: 9000 }));
    expect(restart).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    const mode = await p.diff("u", old, await checked(p, { ...base, mode: "route" }));
    expect(mode).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
  });

  test("replacements, deleting first when the new network would collide with the old", async () => {
    const old = await outs(base);
    // Same name: libvirt holds one network per name.
    expect(await p.diff("u", await outs({ name: "lab", mode: "bridge", bridge: { name: "br0" } }), await checked(p, base)))
      .toEqual({ changes: true, replaces: ["mode"], deleteBeforeReplace: true });
    // A new name on the same subnet: the new network could not start beside the old one.
    expect(await p.diff("u", old, await checked(p, { ...base, name: "lab2" }))).toEqual({ changes: true, replaces: ["name"], deleteBeforeReplace: true });
    // A new name and a new subnet: create first, delete after.
    expect(await p.diff("u", old, await checked(p, { ...base, name: "lab2", ipv4: { address: "10.51.0.1/24" } })))
      .toEqual({ changes: true, replaces: ["name"], deleteBeforeReplace: false });
    // ...unless the bridge name is kept.
    const named = await outs({ ...base, bridge: { name: "pltlab0" } });
    expect(await p.diff("u", named, await checked(p, { ...base, name: "lab2", ipv4: { address: "10.51.0.1/24" }, bridge: { name: "pltlab0" } })))
      .toEqual({ changes: true, replaces: ["name"], deleteBeforeReplace: true });
  });

  test("unknown values are changes; an unknown mode may be a replacement", async () => {
    const old = await outs(base);
    expect(await p.diff("u", old, { ...(await checked(p, base)), dhcpHosts: UNKNOWN })).toMatchObject({ changes: true, replaces: [] });
    expect(await p.diff("u", old, { ...(await checked(p, base)), mode: UNKNOWN })).toMatchObject({ changes: true, replaces: ["mode"] });
    expect(await p.diff("u", old, { ...(await checked(p, base)), ipv4: { address: UNKNOWN } })).toMatchObject({ changes: true, replaces: [] });
  });
});

test("check and diff never connected to libvirt", async () => {
  expect(connections).toBe(0);
  // The counter works: read does connect (and fails fast here: the socket is not a daemon).
  await expect(p.read("95d9a6df-e110-4271-8b3a-f723d6f2a665", { ...base, uri, timeoutSeconds: 1 })).rejects.toThrow();
  expect(connections).toBeGreaterThan(0);
});

describe("live update planning", () => {
  const h = (mac: string | undefined, ip: string, name?: string) => Object.fromEntries(Object.entries({ mac, name, ip }).filter(([, v]) => v !== undefined));
  const cmds = (ops: { command: number; xml: string }[]) => ops.map((o) => `${({ 1: "modify", 2: "delete", 3: "add" } as any)[o.command]} ${o.xml}`);

  test("DHCP hosts: minimal add, modify, delete", () => {
    const cur = [h("52:54:00:00:00:01", "10.0.0.11", "a"), h("52:54:00:00:00:02", "10.0.0.12", "b"), h("52:54:00:00:00:03", "10.0.0.13")];
    const want = [h("52:54:00:00:00:01", "10.0.0.11", "a"), h("52:54:00:00:00:02", "10.0.0.22", "b"), h("52:54:00:00:00:04", "10.0.0.14")];
    expect(cmds(planDhcpHosts("ipv4", cur, want, 0))).toEqual([
      "delete <host mac=\"52:54:00:00:00:03\" ip=\"10.0.0.13\"/>",
      "modify <host mac=\"52:54:00:00:00:02\" name=\"b\" ip=\"10.0.0.22\"/>",
      "add <host mac=\"52:54:00:00:00:04\" ip=\"10.0.0.14\"/>",
    ]);
    expect(planDhcpHosts("ipv4", cur, cur, 0)).toEqual([]);
  });

  test("DHCP hosts: swapping addresses never asks libvirt to modify the wrong entry", () => {
    const cur = [h("52:54:00:00:00:01", "10.0.0.11"), h("52:54:00:00:00:02", "10.0.0.12")];
    const want = [h("52:54:00:00:00:01", "10.0.0.12"), h("52:54:00:00:00:02", "10.0.0.11")];
    const ops = planDhcpHosts("ipv4", cur, want, 0);
    // Simulate libvirt 9's matching (MAC or address or name) on a copy of the list.
    let list = cur.map((x) => ({ ...x }));
    for (const op of ops) {
      const attrs = Object.fromEntries([...op.xml.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
      if (op.command === C.DELETE) list = list.filter((x) => !(x.mac === attrs.mac && x.ip === attrs.ip));
      else if (op.command === C.MODIFY) {
        const i = list.findIndex((x) => x.mac === attrs.mac || x.ip === attrs.ip);
        expect(list[i].mac).toBe(attrs.mac);
        list[i] = attrs as any;
      } else {
        expect(list.some((x) => x.mac === attrs.mac || x.ip === attrs.ip)).toBe(false);
        list.push(attrs as any);
      }
    }
    expect(list.sort((a, b) => a.mac!.localeCompare(b.mac!))).toEqual(want);
  });

  test("IPv6 hosts are keyed by name", () => {
    const ops = planDhcpHosts("ipv6", [h(undefined, "fd00::11", "a")], [h(undefined, "fd00::12", "a")], 1);
    expect(cmds(ops)).toEqual(["modify <host name=\"a\" ip=\"fd00::12\"/>"]);
    expect(ops[0].parentIndex).toBe(1);
  });

  test("DNS hosts, TXT and SRV: delete and add (libvirt cannot modify them)", () => {
    expect(cmds(planDnsHosts([{ ip: "10.0.0.5", hostnames: ["a"] }, { ip: "10.0.0.6", hostnames: ["b"] }], [{ ip: "10.0.0.5", hostnames: ["a", "a2"] }, { ip: "10.0.0.6", hostnames: ["b"] }])))
      .toEqual(["delete <host ip=\"10.0.0.5\"/>", "add <host ip=\"10.0.0.5\">\n  <hostname>a</hostname>\n  <hostname>a2</hostname>\n</host>"]);
    expect(cmds(planDnsTxt([{ name: "t", value: "1" }], [{ name: "t", value: "2" }]))).toEqual(["delete <txt name=\"t\" value=\"1\"/>", "add <txt name=\"t\" value=\"2\"/>"]);
    expect(cmds(planDnsSrv([{ service: "http", protocol: "tcp" }, { service: "http", protocol: "tcp", domain: "d", target: "t", port: 80 }], [])))
      .toEqual(["delete <srv service=\"http\" protocol=\"tcp\" domain=\"d\" target=\"t\" port=\"80\"/>", "delete <srv service=\"http\" protocol=\"tcp\"/>"]);
    expect(planDnsSrv([{ service: "ldap", protocol: "tcp", target: "x", port: 389, priority: 0 }], [{ service: "ldap", protocol: "tcp", target: "x", port: 389 }])).toEqual([]);
  });
});
