/**
 * <network> documents (https://libvirt.org/formatnetwork.html) to and from a plain model, the
 * single elements virNetworkUpdate takes (<host>, <txt>, <srv>), the address arithmetic that
 * validation and reading share, and the <interface> elements of domains attached to a network.
 */
import { attr, buildXml, child, children, childText, parseRoot, parseXml, text, toNumber, XmlNode } from "./xml";

// ---- Addresses ------------------------------------------------------------------------------

export type Family = "ipv4" | "ipv6";

export interface Ip {
  family: Family;
  /** The address as a 32- or 128-bit number. */
  value: bigint;
}

const BITS: Record<Family, number> = { ipv4: 32, ipv6: 128 };

function parseIpv4(s: string): bigint | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  let v = 0n;
  for (const part of m.slice(1)) {
    // Leading zeros read as octal to some tools and decimal to others: refuse them.
    if ((part.length > 1 && part.startsWith("0")) || Number(part) > 255) return undefined;
    v = (v << 8n) | BigInt(part);
  }
  return v;
}

function parseIpv6(s: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || s.includes(":::")) return undefined;
  // An IPv4 suffix (::ffff:10.0.0.1) stands for the last two groups.
  const lastColon = s.lastIndexOf(":");
  const suffix = s.slice(lastColon + 1);
  if (suffix.includes(".")) {
    const v4 = parseIpv4(suffix);
    if (v4 === undefined) return undefined;
    s = `${s.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const groups = (h: string) => (h === "" ? [] : h.split(":"));
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  if ([...head, ...rest].some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  const given = head.length + rest.length;
  if (halves.length === 1 ? given !== 8 : given > 7) return undefined;
  const all = [...head, ...Array(8 - given).fill("0"), ...rest].map((g) => BigInt(parseInt(g, 16)));
  return all.reduce((acc, g) => (acc << 16n) | g, 0n);
}

/** Parse an IPv4 (dotted decimal) or IPv6 address; undefined when it is neither. */
export function parseIp(s: unknown): Ip | undefined {
  if (typeof s !== "string") return undefined;
  if (s.includes(":")) {
    const v = parseIpv6(s);
    return v === undefined ? undefined : { family: "ipv6", value: v };
  }
  const v = parseIpv4(s);
  return v === undefined ? undefined : { family: "ipv4", value: v };
}

/** The canonical text: dotted decimal, or RFC 5952 IPv6 (lower case, longest zero run as ::), as libvirt prints them. */
export function formatIp(ip: Ip): string {
  if (ip.family === "ipv4") {
    return [24n, 16n, 8n, 0n].map((s) => String((ip.value >> s) & 255n)).join(".");
  }
  const g = Array.from({ length: 8 }, (_, i) => Number((ip.value >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best.len < 2) return hex.join(":");
  return `${hex.slice(0, best.at).join(":")}::${hex.slice(best.at + best.len).join(":")}`;
}

/** An address text in canonical form, or the input unchanged when it does not parse. */
export function canonicalIp(s: string): string {
  const ip = parseIp(s);
  return ip ? formatIp(ip) : s;
}

export interface Cidr extends Ip {
  prefix: number;
}

/** "10.0.0.1/24" or "fd00::1/64". */
export function parseCidr(s: unknown): Cidr | undefined {
  if (typeof s !== "string") return undefined;
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const ip = parseIp(m[1]);
  const prefix = Number(m[2]);
  if (!ip || prefix > BITS[ip.family] || (m[2].length > 1 && m[2].startsWith("0"))) return undefined;
  return { ...ip, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c)}/${c.prefix}`;
}

function hostMask(c: { family: Family; prefix: number }): bigint {
  return (1n << BigInt(BITS[c.family] - c.prefix)) - 1n;
}

/** The first address of the subnet (host bits cleared). */
export function networkAddress(c: Cidr): bigint {
  return c.value & ~hostMask(c) & ((1n << BigInt(BITS[c.family])) - 1n);
}

/** The last address of the subnet (the broadcast address for IPv4). */
export function lastAddress(c: Cidr): bigint {
  return networkAddress(c) | hostMask(c);
}

export function contains(c: Cidr, ip: Ip): boolean {
  return c.family === ip.family && ip.value >= networkAddress(c) && ip.value <= lastAddress(c);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && networkAddress(a) <= lastAddress(b) && networkAddress(b) <= lastAddress(a);
}

/** 255.255.255.0 -> 24; undefined for a mask that is not contiguous ones then zeros. */
export function netmaskPrefix(mask: string): number | undefined {
  const v = parseIpv4(mask);
  if (v === undefined) return undefined;
  const bits = v.toString(2).padStart(32, "0");
  if (!/^1*0*$/.test(bits)) return undefined;
  return bits.includes("0") ? bits.indexOf("0") : 32;
}

/** libvirt's default when an IPv4 <ip> has neither prefix nor netmask: the classful one. */
function classfulPrefix(v: bigint): number {
  const first = Number(v >> 24n);
  return first < 128 ? 8 : first < 192 ? 16 : 24;
}

/** Compare two addresses: IPv4 before IPv6, then by value. */
export function compareIp(a: Ip | undefined, b: Ip | undefined): number {
  if (!a || !b) return a ? -1 : b ? 1 : 0;
  if (a.family !== b.family) return a.family === "ipv4" ? -1 : 1;
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
}

/** "52:54:00:AB:cd:01" -> "52:54:00:ab:cd:01"; undefined when not six colon-separated hex octets. */
export function canonicalMac(s: unknown): string | undefined {
  if (typeof s !== "string" || !/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(s)) return undefined;
  return s.toLowerCase();
}

// ---- The model ------------------------------------------------------------------------------

export interface DhcpRange {
  start: string;
  end: string;
}

export interface DhcpHostDef {
  mac?: string;
  name?: string;
  ip?: string;
  /** DHCPv6 DUID. Read only: the provider identifies IPv6 hosts by name. */
  id?: string;
}

export interface IpDef {
  family: Family;
  address: string;
  prefix: number;
  ranges: DhcpRange[];
  hosts: DhcpHostDef[];
}

export interface DnsHostDef {
  ip: string;
  hostnames: string[];
}

export interface DnsTxtDef {
  name: string;
  value: string;
}

export interface DnsSrvDef {
  service: string;
  protocol: string;
  domain?: string;
  target?: string;
  port?: number;
  priority?: number;
  weight?: number;
}

export interface RouteDef {
  family: Family;
  address: string;
  prefix: number;
  gateway: string;
}

export interface NetworkDef {
  name: string;
  uuid?: string;
  /** <forward mode>; undefined for an isolated network. */
  forwardMode?: string;
  /** <forward><interface dev>: macvtap source devices. */
  forwardDevices: string[];
  bridge?: { name?: string; stp?: boolean; delay?: number };
  /** The bridge's MAC address (libvirt generates one on define; kept across redefinitions). */
  mac?: string;
  mtu?: number;
  domain?: { name: string; localOnly?: boolean };
  dns: {
    enable?: boolean;
    forwarders: string[];
    hosts: DnsHostDef[];
    txt: DnsTxtDef[];
    srv: DnsSrvDef[];
  };
  ips: IpDef[];
  routes: RouteDef[];
}

const yesNo = (v: boolean | undefined) => (v === undefined ? undefined : v ? "yes" : "no");

export function dhcpHostXml(h: DhcpHostDef): string {
  return buildXml("host", { $: { mac: h.mac, id: h.id, name: h.name, ip: h.ip } });
}

/** A <host> for virNetworkUpdate; with only the address it matches exactly one record on delete. */
export function dnsHostXml(h: { ip: string; hostnames?: string[] }): string {
  return buildXml("host", { $: { ip: h.ip }, hostname: h.hostnames?.length ? h.hostnames : undefined });
}

export function dnsTxtXml(t: DnsTxtDef): string {
  return buildXml("txt", { $: { name: t.name, value: t.value } });
}

export function dnsSrvXml(s: DnsSrvDef): string {
  return buildXml("srv", { $: { service: s.service, protocol: s.protocol, domain: s.domain, target: s.target, port: s.port, priority: s.priority, weight: s.weight } });
}

export function networkToXml(n: NetworkDef): string {
  const dns = n.dns;
  const hasDns = dns.enable === false || dns.forwarders.length || dns.hosts.length || dns.txt.length || dns.srv.length;
  return buildXml("network", {
    name: n.name,
    uuid: n.uuid,
    forward: n.forwardMode && {
      $: { mode: n.forwardMode },
      interface: n.forwardDevices.length ? n.forwardDevices.map((dev) => ({ $: { dev } })) : undefined,
    },
    bridge: n.bridge && {
      $: { name: n.bridge.name, stp: n.bridge.stp === undefined ? undefined : n.bridge.stp ? "on" : "off", delay: n.bridge.delay },
    },
    mac: n.mac && { $: { address: n.mac } },
    mtu: n.mtu !== undefined ? { $: { size: n.mtu } } : undefined,
    domain: n.domain && { $: { name: n.domain.name, localOnly: n.domain.localOnly ? "yes" : undefined } },
    dns: hasDns ? {
      $: { enable: dns.enable === false ? "no" : undefined },
      forwarder: dns.forwarders.length ? dns.forwarders.map((addr) => ({ $: { addr } })) : undefined,
      txt: dns.txt.length ? dns.txt.map((t) => ({ $: { name: t.name, value: t.value } })) : undefined,
      srv: dns.srv.length ? dns.srv.map((s) => ({ $: { service: s.service, protocol: s.protocol, domain: s.domain, target: s.target, port: s.port, priority: s.priority, weight: s.weight } })) : undefined,
      host: dns.hosts.length ? dns.hosts.map((h) => ({ $: { ip: h.ip }, hostname: h.hostnames })) : undefined,
    } : undefined,
    ip: n.ips.length ? n.ips.map((ip) => ({
      $: { family: ip.family === "ipv6" ? "ipv6" : undefined, address: ip.address, prefix: ip.prefix },
      dhcp: ip.ranges.length || ip.hosts.length ? {
        range: ip.ranges.length ? ip.ranges.map((r) => ({ $: { start: r.start, end: r.end } })) : undefined,
        host: ip.hosts.length ? ip.hosts.map((h) => ({ $: { mac: h.mac, id: h.id, name: h.name, ip: h.ip } })) : undefined,
      } : undefined,
    })) : undefined,
    route: n.routes.length ? n.routes.map((r) => ({ $: { family: r.family === "ipv6" ? "ipv6" : undefined, address: r.address, prefix: r.prefix, gateway: r.gateway } })) : undefined,
  });
}

const canon = (s: string | undefined) => (s === undefined ? undefined : canonicalIp(s));

function parseIpElement(node: XmlNode): IpDef {
  const address = attr(node, "address") ?? "";
  const ip = parseIp(address);
  const family: Family = attr(node, "family") === "ipv6" || ip?.family === "ipv6" ? "ipv6" : "ipv4";
  const netmask = attr(node, "netmask");
  const prefix = toNumber(attr(node, "prefix"))
    ?? (netmask ? netmaskPrefix(netmask) : undefined)
    ?? (family === "ipv4" && ip ? classfulPrefix(ip.value) : 64);
  const dhcp = child(node, "dhcp");
  return {
    family,
    address: canonicalIp(address),
    prefix,
    ranges: children(dhcp, "range").map((r) => ({ start: canonicalIp(attr(r, "start") ?? ""), end: canonicalIp(attr(r, "end") ?? "") })),
    hosts: children(dhcp, "host").map((h) => ({ mac: attr(h, "mac")?.toLowerCase(), id: attr(h, "id"), name: attr(h, "name"), ip: canon(attr(h, "ip")) })),
  };
}

export async function networkFromXml(xml: string): Promise<NetworkDef> {
  const root = await parseRoot(xml, "network");
  const forward = child(root, "forward");
  const bridge = child(root, "bridge");
  const domain = child(root, "domain");
  const dns = child(root, "dns");
  const forwardDevices = children(forward, "interface").map((i) => attr(i, "dev")!).filter(Boolean);
  const fwdDev = attr(forward, "dev");
  if (fwdDev && !forwardDevices.includes(fwdDev)) forwardDevices.unshift(fwdDev);
  const stp = attr(bridge, "stp");
  return {
    name: childText(root, "name") ?? "",
    uuid: childText(root, "uuid"),
    // <forward/> without a mode means nat (xml2js reads an empty element as "", hence the key test).
    forwardMode: root.forward !== undefined ? attr(forward, "mode") ?? "nat" : undefined,
    forwardDevices,
    bridge: bridge && {
      name: attr(bridge, "name"),
      stp: stp === undefined ? undefined : stp !== "off",
      delay: toNumber(attr(bridge, "delay")),
    },
    mac: attr(child(root, "mac"), "address")?.toLowerCase(),
    mtu: toNumber(attr(child(root, "mtu"), "size")),
    domain: domain && attr(domain, "name") !== undefined ? { name: attr(domain, "name")!, localOnly: attr(domain, "localOnly") === "yes" ? true : undefined } : undefined,
    dns: {
      enable: attr(dns, "enable") === "no" ? false : attr(dns, "enable") === "yes" ? true : undefined,
      forwarders: children(dns, "forwarder").map((f) => attr(f, "addr")).filter((a): a is string => !!a).map(canonicalIp),
      hosts: children(dns, "host").map((h) => ({ ip: canonicalIp(attr(h, "ip") ?? ""), hostnames: children(h, "hostname").map((n) => text(n) ?? "") })),
      txt: children(dns, "txt").map((t) => ({ name: attr(t, "name") ?? "", value: attr(t, "value") ?? "" })),
      srv: children(dns, "srv").map((s) => ({
        service: attr(s, "service") ?? "", protocol: attr(s, "protocol") ?? "",
        domain: attr(s, "domain"), target: attr(s, "target"),
        port: toNumber(attr(s, "port")), priority: toNumber(attr(s, "priority")), weight: toNumber(attr(s, "weight")),
      })),
    },
    ips: children(root, "ip").map(parseIpElement),
    routes: children(root, "route").map((r) => {
      const address = canonicalIp(attr(r, "address") ?? "");
      const family: Family = attr(r, "family") === "ipv6" || address.includes(":") ? "ipv6" : "ipv4";
      const netmask = attr(r, "netmask");
      return {
        family, address,
        prefix: toNumber(attr(r, "prefix")) ?? (netmask ? netmaskPrefix(netmask) : undefined) ?? BITS[family],
        gateway: canonicalIp(attr(r, "gateway") ?? ""),
      };
    }),
  };
}

// ---- Domains attached to a network ----------------------------------------------------------

export interface AttachedInterface {
  /** The live <interface> element as parsed. */
  node: XmlNode;
  type: string;
  mac?: string;
  /** <target dev>: the host-side tap. */
  tap?: string;
}

/**
 * The interfaces of a domain that are on this network: type='network' with this network's name,
 * or type='bridge' on this network's bridge (when it has one libvirt manages).
 */
export async function interfacesOn(domainXml: string, network: string, bridge: string | undefined): Promise<AttachedInterface[]> {
  const doc = await parseXml(domainXml);
  const devices = child(doc.domain, "devices");
  return children(devices, "interface")
    .filter((i) => {
      const type = attr(i, "type");
      const source = child(i, "source");
      if (type === "network") return attr(source, "network") === network;
      return type === "bridge" && bridge !== undefined && attr(source, "bridge") === bridge;
    })
    .map((i) => ({ node: i, type: attr(i, "type")!, mac: attr(child(i, "mac"), "address"), tap: attr(child(i, "target"), "dev") }));
}

/** A deep copy of an xml2js node. */
function clone(n: XmlNode): XmlNode {
  return JSON.parse(JSON.stringify(n));
}

/**
 * The two <interface> documents that put a running guest's tap back on the network's bridge
 * after the network was restarted (virDomainUpdateDevice, live).
 *
 * libvirt 9.0 does not re-add existing taps to a bridge it recreates, and updating an interface
 * to an identical definition changes nothing. Switching its type between 'network' and 'bridge'
 * (same bridge) does make the QEMU driver move the tap: qemuDomainChangeNetBridge removes it from
 * the old bridge (tolerating that the bridge is gone) and adds it to the new one. So: first the
 * other type, then the original definition back, which also registers a new port with the
 * network. The guest sees nothing: no unplug, same MAC and PCI address.
 */
export function reconnectSteps(iface: AttachedInterface, network: string, bridge: string): [string, string] {
  const original = clone(iface.node);
  const source = child(original, "source");
  if (iface.type === "network" && source?.$) {
    // Live-only attributes: the port was dropped with the old network; the bridge is re-resolved.
    delete source.$.portid;
    delete source.$.bridge;
  }
  const other = clone(original);
  if (iface.type === "network") {
    other.$ = { ...other.$, type: "bridge" };
    other.source = [{ $: { bridge } }];
  } else {
    other.$ = { ...other.$, type: "network" };
    other.source = [{ $: { network } }];
  }
  return [buildXml("interface", other), buildXml("interface", original)];
}
