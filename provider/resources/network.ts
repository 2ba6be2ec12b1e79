/**
 * Network: a libvirt virtual network. DHCP reservations and DNS records change live through
 * virNetworkUpdate (the bridge and the guests on it are untouched); everything else is written
 * to the definition and applied by a restart the user allowed (running guests are put back on
 * the bridge), or waits for the network's next start. Deleting a network that running guests use
 * is refused unless forceDelete.
 */
import { isDeepStrictEqual } from "node:util";
import { ConnectListDomains, DomainXmlFlags, Impact, NetworkUpdateCommand, NetworkUpdateFlags, NetworkUpdateSection, NetworkXmlFlags } from "../libvirt/constants";
import { isNotFound, unlessNotFound } from "../libvirt/errors";
import type { DomainRef, NetworkRef } from "../libvirt/protocol";
import { uuidBytes, uuidString } from "../libvirt/client";
import { Checker, OBJECT_NAME } from "../core/check";
import { Change, fieldsWith, FieldTable } from "../core/fields";
import { progress } from "../core/progress";
import { CommonInputs, Context, ResourceSpec } from "../core/resource";
import { containsUnknown, isUnknown } from "../core/unknown";
import {
  AttachedInterface, canonicalIp, canonicalMac, Cidr, compareIp, contains, DhcpHostDef, dhcpHostXml, dnsHostXml, DnsSrvDef, dnsSrvXml,
  dnsTxtXml, Family, formatCidr, formatIp, interfacesOn, Ip, lastAddress, NetworkDef, networkAddress, networkFromXml,
  networkToXml, overlaps, parseCidr, parseIp, reconnectSteps,
} from "../xml/network";

export const NETWORK_MODES = ["nat", "route", "open", "isolated", "bridge", "macvtap"] as const;
export type NetworkMode = (typeof NETWORK_MODES)[number];

/** Modes where libvirt owns the bridge and runs dnsmasq: they switch into each other by a restart. */
const MANAGED: readonly string[] = ["nat", "route", "open", "isolated"];

export interface BridgeConfig {
  /** Linux bridge name, at most 15 characters. Managed modes: libvirt picks virbrN when unset. bridge mode: the existing host bridge (required). */
  name?: string;
  /** Spanning tree on the bridge (libvirt's default: on). Off makes new guest ports forward at once. */
  stp?: boolean;
  /** STP forward delay in seconds. */
  delay?: number;
}

export interface IpConfig {
  /** The host's address on the network with the prefix length: "192.168.100.1/24", "fd00:1::1/64". */
  address: string;
  /** Dynamic DHCP pools inside the subnet. */
  dhcpRanges?: { start: string; end: string }[];
}

export interface DhcpHost {
  /** Guest MAC (IPv4 reservations match by MAC, or by hostname when there is none). */
  mac?: string;
  /** The reserved address, inside ipv4's or ipv6's subnet. */
  ip: string;
  /** Host name handed to the guest and resolvable in the network's DNS. IPv6 reservations match by it. */
  hostname?: string;
}

export interface DnsHost {
  ip: string;
  hostnames: string[];
}

export interface DnsTxt {
  name: string;
  value: string;
}

export type DnsSrv = DnsSrvDef;

export interface Route {
  /** Destination subnet: "10.20.0.0/16". */
  destination: string;
  /** Next hop, inside ipv4's or ipv6's subnet (usually a guest). */
  gateway: string;
}

export interface NetworkInputs extends CommonInputs {
  name: string;
  /**
   * nat: guests reach out through the host's IPv4 NAT. route: routed, no NAT. open: no firewall
   * rules at all. isolated: guests and host only. bridge: an existing host bridge (bridge.name).
   * macvtap: guests directly on host devices (sourceDevices).
   */
  mode: NetworkMode;
  bridge?: BridgeConfig;
  mtu?: number;
  /** DNS domain of the network's guests; localOnly answers it from this network only, never upstream. */
  domain?: { name: string; localOnly?: boolean };
  ipv4?: IpConfig;
  ipv6?: IpConfig;
  /** Static DHCP reservations (kept sorted by address). Updated live. */
  dhcpHosts?: DhcpHost[];
  /** DNS service: enable (default true) and upstream forwarders (IP addresses). */
  dns?: { enable?: boolean; forwarders?: string[] };
  /** DNS host records, one per address (kept sorted by address). Updated live. */
  dnsHosts?: DnsHost[];
  /** DNS TXT records (kept sorted by name). Updated live. */
  dnsTxt?: DnsTxt[];
  /** DNS SRV records. Updated live. */
  dnsSrv?: DnsSrv[];
  /** Static routes the host adds via a gateway on this network. */
  routes?: Route[];
  /** macvtap mode: the host network devices guests attach to. */
  sourceDevices?: string[];
  /** Keep the network running (default true). */
  start?: boolean;
  /** Start the network when the host boots (default true). */
  autostart?: boolean;
  /**
   * Restart the network to apply changes that need one (default false). Guests' taps are put back
   * on the bridge afterwards; their connectivity pauses for about a second. When false, such
   * changes wait in the definition for the network's next start.
   */
  allowRestart?: boolean;
  /** Delete the network even while running domains use it (default false). */
  forceDelete?: boolean;
}

export interface DhcpLeaseInfo {
  mac: string;
  ip: string;
  prefix: number;
  family: Family;
  hostname?: string;
  clientId?: string;
  /** ISO 8601. */
  expiry: string;
}

export interface NetworkOutputs {
  uuid: string;
  /** The bridge guests attach to (none for macvtap). */
  bridgeName?: string;
  active: boolean;
  /** Current DHCP leases, as of the last create, update or refresh. */
  leases: DhcpLeaseInfo[];
  /** Inputs whose new values are in the definition but not yet in the running network (restart not allowed). */
  pendingRestart: string[];
}

/** What an update's steps act on. */
export interface NetworkTarget {
  net: NetworkRef;
  active: boolean;
  /** The definition before this update, restored when a new one does not start. */
  previousXml: string;
  /** Whether prepare wrote a whole new definition (reservations and records included). */
  redefined: boolean;
  /** Whether the network runs and is to keep running. */
  staysActive: boolean;
}

/**
 * Reservations and records change with virNetworkUpdate, live and in the definition; where
 * prepare already wrote the definition, only the running network needs them.
 */
const updateRecords = (field: RecordField) => ({ ctx, target, news }: Change<NetworkInputs, NetworkTarget>) =>
  applyLive(ctx, target.net, news, field, { live: target.active, config: !target.redefined });

const REPLACE_MODES = (old: unknown, next: unknown) => old !== undefined && old !== next && !(MANAGED.includes(old as string) && MANAGED.includes(next as string));

export const networkFields: FieldTable<NetworkInputs, NetworkTarget> = {
  name: { effect: "replace", doc: "libvirt cannot rename a network: a new name makes a new one." },
  mode: { effect: "restart", replacesWhen: REPLACE_MODES, doc: "Between nat, route, open and isolated: a restart (the bridge, its address and the guests on it stay; only firewall rules change). To or from bridge or macvtap the network is replaced: guests attach to something else entirely (a host bridge or device instead of libvirt's bridge)." },
  bridge: { effect: "restart", computed: true, doc: "Name, STP and delay are set when the bridge is created. After the restart guests are moved to the (renamed) bridge." },
  mtu: { effect: "restart", doc: "Set on the bridge at start. Guests' NICs learn a new MTU when they boot." },
  domain: { effect: "restart", doc: "dnsmasq reads it at start; libvirt cannot update it live." },
  ipv4: { effect: "restart", doc: "The bridge's address and DHCP ranges are set at start. Guests keep their leases until they renew." },
  ipv6: { effect: "restart", doc: "As ipv4." },
  dhcpHosts: { effect: "live", apply: updateRecords("dhcpHosts"), doc: "Reservations added, modified or deleted one by one with virNetworkUpdate (dnsmasq re-reads them on SIGHUP, no restart). A guest gets its new address at its next renewal." },
  dns: { effect: "restart", doc: "enable and forwarders are dnsmasq start options; libvirt cannot update them live." },
  dnsHosts: { effect: "live", apply: updateRecords("dnsHosts"), doc: "Records added or deleted with virNetworkUpdate (dnsmasq SIGHUP, no restart)." },
  dnsTxt: { effect: "live", apply: updateRecords("dnsTxt"), doc: "Records added or deleted with virNetworkUpdate; libvirt restarts dnsmasq (not the network: the bridge and guests' links stay up)." },
  dnsSrv: { effect: "live", apply: updateRecords("dnsSrv"), doc: "As dnsTxt." },
  routes: { effect: "restart", doc: "The host's routes are added when the network starts." },
  sourceDevices: { effect: "restart", doc: "macvtap devices are chosen when a guest starts: running guests stay on their device until they restart." },
  start: { effect: "live", afterRestart: true, apply: ({ ctx, target, news }) => startOrStop(ctx, target.net, news), doc: "Starts or stops the network (stopping cuts running guests off; a warning names them)." },
  autostart: { effect: "live", apply: ({ ctx, target, news }) => ctx.lv.networkSetAutostart(target.net, !!news.autostart), doc: "Set on the network." },
  allowRestart: { effect: "none", doc: "Policy for restart-effect changes; turning it on also applies changes that were waiting for a restart (outputs.pendingRestart)." },
  forceDelete: { effect: "none", doc: "Used on delete only." },
  uri: { effect: "replace", doc: "Another host makes a new network there." },
  timeoutSeconds: { effect: "none", doc: "Deadline for waits and retries." },
};

/** Inputs whose changes are applied by a network restart, in field-table order. */
const RESTART_FIELDS = fieldsWith(networkFields, "restart");

// ---- check ------------------------------------------------------------------------------------

/** Linux interface names: at most 15 bytes, no '/', ':' or whitespace. */
const IFNAME = { pattern: /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, accepted: "a Linux interface name: 1-15 letters, digits and _ . -, e.g. virbr10 or br0", max: 15 };
/** One DNS label, as DHCP hands out host names. */
const HOSTNAME = { pattern: /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/, accepted: "a host name: 1-63 letters, digits and -, starting with a letter or digit and not ending with -" };
/** A DNS name of such labels. */
const DNS_NAME = { pattern: /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/, accepted: "a DNS name such as example.internal: labels of letters, digits and -, separated by dots", max: 253 };
/** TXT/SRV owner names may carry underscores (_acme-challenge). */
const DNS_OWNER = { pattern: /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_][A-Za-z0-9_-]{0,62})*$/, accepted: "a DNS name of letters, digits, _ and -, separated by dots", max: 253 };

const IP_FORMS = "an IPv4 address such as 192.168.100.10 or an IPv6 address such as fd00:1::10";
const FAMILY_NAME: Record<Family, string> = { ipv4: "IPv4", ipv6: "IPv6" };

const show = (v: unknown) => JSON.stringify(v);
const known = (v: unknown) => v !== undefined && !containsUnknown(v);

/** Addresses a network cannot use: IPv4-mapped and -compatible IPv6 (::ffff:0:0/96, ::/96). */
function reservedIpv6(ip: Ip): boolean {
  return ip.family === "ipv6" && (ip.value >> 32n === 0n || ip.value >> 32n === 0xffffn);
}

/** An address in canonical text; unknown values pass through; failures name the property. */
function address(c: Checker, prop: string, v: unknown, family?: Family): string | undefined {
  if (v === undefined || isUnknown(v)) return v as undefined;
  const ip = parseIp(v);
  if (!ip) return c.fail(prop, `${show(v)} is not an IP address: expected ${family ? `an ${FAMILY_NAME[family]} address` : IP_FORMS}`);
  if (family && ip.family !== family) return c.fail(prop, `${show(v)} is an ${FAMILY_NAME[ip.family]} address; expected ${FAMILY_NAME[family]}`);
  return formatIp(ip);
}

/** An object with only the given keys; an unknown value passes through as it is. */
function obj(c: Checker, prop: string, v: unknown, keys: string[]): Record<string, unknown> | undefined {
  const o = c.object(prop, v);
  if (o && !isUnknown(o)) c.noExtraKeys(prop, o, keys);
  return o;
}

function list(c: Checker, prop: string, v: unknown): unknown[] | undefined {
  if (v === undefined || v === null || isUnknown(v)) return v === null ? undefined : (v as undefined);
  if (!Array.isArray(v)) return c.fail(prop, `expected a list, got ${show(v)}`);
  return v;
}

/** Each item through fn, keeping unknown items as they are. */
function items<T>(c: Checker, prop: string, v: unknown, fn: (item: Record<string, unknown>, at: string) => T): T[] | undefined {
  const l = list(c, prop, v);
  if (!Array.isArray(l)) return l;
  return l.map((x, i) => {
    if (isUnknown(x)) return x as T;
    const o = c.object(`${prop}[${i}]`, x);
    return o ? fn(o, `${prop}[${i}]`) : (undefined as T);
  });
}

/** Compact an object: no undefined values (the engine stores none, and diffs compare keys). */
function compact<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

const nonEmpty = <T>(l: T[] | undefined): T[] | undefined => (l && l.length ? l : undefined);

function sortBy<T>(l: T[] | undefined, cmp: (a: T, b: T) => number): T[] | undefined {
  if (!l || containsUnknown(l)) return l;
  return [...l].sort(cmp);
}

const byIp = (a: { ip: string }, b: { ip: string }) => compareIp(parseIp(a.ip), parseIp(b.ip));
const srvKey = (s: DnsSrv) => [s.service, s.protocol, s.domain ?? "", s.target ?? ""].join("\u0000");

/** Canonical forms: what check produces and what read reports, so they compare equal. */
export function canonicalDns(d: { enable?: boolean; forwarders?: string[] } | undefined): NetworkInputs["dns"] {
  if (!d || isUnknown(d)) return d;
  const out = compact({ enable: d.enable === false ? false : undefined, forwarders: nonEmpty(d.forwarders) });
  return Object.keys(out).length ? out : undefined;
}

function canonicalSrv(s: DnsSrv): DnsSrv {
  // libvirt does not write zero priority or weight back.
  return compact({ ...s, priority: s.priority || undefined, weight: s.weight || undefined });
}

function checkIp(c: Checker, prop: string, v: unknown, family: Family): IpConfig | undefined {
  const o = obj(c, prop, v, ["address", "dhcpRanges"]);
  if (!o || isUnknown(o)) return o as undefined;
  c.required(`${prop}.address`, o.address);
  let addr = o.address as string | undefined;
  if (addr !== undefined && !isUnknown(addr)) {
    const cidr = parseCidr(addr);
    const example = family === "ipv4" ? "192.168.100.1/24" : "fd00:100::1/64";
    const [min, max] = family === "ipv4" ? [8, 30] : [8, 126];
    if (!cidr) addr = c.fail(`${prop}.address`, `${show(addr)} is not valid: expected the host's address and prefix length, e.g. ${example}`);
    else if (cidr.family !== family) addr = c.fail(`${prop}.address`, `${show(addr)} is an ${FAMILY_NAME[cidr.family]} address; ${prop} takes ${FAMILY_NAME[family]}, e.g. ${example}`);
    else if (cidr.prefix < min || cidr.prefix > max) addr = c.fail(`${prop}.address`, `prefix length /${cidr.prefix} in ${show(addr)} is not valid: expected ${min} to ${max}`);
    else if (reservedIpv6(cidr)) addr = c.fail(`${prop}.address`, `${show(addr)} is an IPv4-mapped or -compatible IPv6 address`);
    else if (cidr.value === networkAddress(cidr) || (family === "ipv4" && cidr.value === lastAddress(cidr))) {
      addr = c.fail(`${prop}.address`, `${show(addr)} is the subnet's ${cidr.value === networkAddress(cidr) ? "network" : "broadcast"} address; the host needs an address inside it, e.g. ${formatIp({ family, value: networkAddress(cidr) + 1n })}/${cidr.prefix}`);
    } else addr = formatCidr(cidr);
  }
  const ranges = items(c, `${prop}.dhcpRanges`, o.dhcpRanges, (r, at) => {
    c.noExtraKeys(at, r, ["start", "end"]);
    c.required(`${at}.start`, r.start);
    c.required(`${at}.end`, r.end);
    return { start: address(c, `${at}.start`, r.start, family)!, end: address(c, `${at}.end`, r.end, family)! };
  });
  const cidr = known(addr) ? parseCidr(addr) : undefined;
  if (cidr && Array.isArray(ranges) && known(ranges)) {
    const parsed: { s: Ip; e: Ip; at: string }[] = [];
    ranges.forEach((r, i) => {
      const at = `${prop}.dhcpRanges[${i}]`;
      const s = parseIp(r?.start), e = parseIp(r?.end);
      if (!s || !e) return;
      if (!contains(cidr, s) || !contains(cidr, e)) return c.fail(at, `range ${r.start} - ${r.end} is not inside the subnet ${formatIp({ family, value: networkAddress(cidr) })}/${cidr.prefix}`);
      if (s.value > e.value) return c.fail(at, `range start ${r.start} is after its end ${r.end}`);
      if (s.value <= cidr.value && cidr.value <= e.value) return c.fail(at, `range ${r.start} - ${r.end} contains the host's own address ${formatIp(cidr)}`);
      if (s.value === networkAddress(cidr) || (family === "ipv4" && e.value === lastAddress(cidr))) return c.fail(at, `range ${r.start} - ${r.end} includes the subnet's ${s.value === networkAddress(cidr) ? "network" : "broadcast"} address`);
      const clash = parsed.find((p) => p.s.value <= e.value && s.value <= p.e.value);
      if (clash) return c.fail(at, `range ${r.start} - ${r.end} overlaps ${clash.at} (${formatIp(clash.s)} - ${formatIp(clash.e)})`);
      parsed.push({ s, e, at });
    });
    if (family === "ipv6" && ranges.length && cidr.prefix < 64) {
      c.fail(`${prop}.address`, `DHCPv6 ranges need a prefix of /64 or longer (dnsmasq refuses shorter ones); got /${cidr.prefix}`);
    }
  }
  return compact({ address: addr as string, dhcpRanges: Array.isArray(ranges) ? nonEmpty(ranges) : ranges });
}

function checkInputs(news: Record<string, unknown>, c: Checker): NetworkInputs {
  const name = c.string("name", news.name, OBJECT_NAME);
  c.required("name", news.name);
  const mode = c.oneOf("mode", news.mode, NETWORK_MODES);
  c.required("mode", news.mode);

  // bridge
  const b = obj(c, "bridge", news.bridge, ["name", "stp", "delay"]);
  let bridgeName = c.string("bridge.name", b?.name, IFNAME);
  if (typeof bridgeName === "string" && (bridgeName.includes("%") || bridgeName === "." || bridgeName === "..")) bridgeName = c.fail("bridge.name", `${show(bridgeName)} is not valid: expected ${IFNAME.accepted}`);
  const bridge = b && !isUnknown(b) ? compact({ name: bridgeName, stp: c.bool("bridge.stp", b.stp), delay: c.int("bridge.delay", b.delay, 0, 30) }) : (b as undefined);

  const mtu = c.int("mtu", news.mtu, 68, 65535);

  // domain
  const d = obj(c, "domain", news.domain, ["name", "localOnly"]);
  if (d && !isUnknown(d)) c.required("domain.name", d.name);
  const domain = d && !isUnknown(d)
    ? compact({ name: c.string("domain.name", d.name, DNS_NAME)!, localOnly: c.bool("domain.localOnly", d.localOnly) || undefined })
    : (d as undefined);

  const ipv4 = checkIp(c, "ipv4", news.ipv4, "ipv4");
  const ipv6 = checkIp(c, "ipv6", news.ipv6, "ipv6");
  const subnets: Partial<Record<Family, Cidr>> = {};
  if (known(ipv4?.address)) subnets.ipv4 = parseCidr(ipv4!.address);
  if (known(ipv6?.address)) subnets.ipv6 = parseCidr(ipv6!.address);
  const ipKnown = (f: Family) => (f === "ipv4" ? !isUnknown(news.ipv4) && !isUnknown((news.ipv4 as any)?.address) : !isUnknown(news.ipv6) && !isUnknown((news.ipv6 as any)?.address));
  /** A failure when ip is outside its family's subnet (or the network has no such subnet). */
  const inSubnet = (at: string, ip: Ip, what: string): boolean => {
    const net = subnets[ip.family];
    if (!net) {
      if (ipKnown(ip.family)) c.fail(at, `${what} ${formatIp(ip)} is ${FAMILY_NAME[ip.family]}, but the network has no ${ip.family} address: set ${ip.family}.address`);
      return false;
    }
    if (!contains(net, ip)) {
      c.fail(at, `${what} ${formatIp(ip)} is outside the network's subnet ${formatIp({ family: net.family, value: networkAddress(net) })}/${net.prefix}`);
      return false;
    }
    if (ip.value === net.value) return !c.fail(at, `${what} ${formatIp(ip)} is the host's own address on the network`);
    if (ip.value === networkAddress(net) || (ip.family === "ipv4" && ip.value === lastAddress(net))) {
      return !c.fail(at, `${what} ${formatIp(ip)} is the subnet's ${ip.value === networkAddress(net) ? "network" : "broadcast"} address`);
    }
    return true;
  };

  // DHCP reservations
  let dhcpHosts = items(c, "dhcpHosts", news.dhcpHosts, (h, at) => {
    c.noExtraKeys(at, h, ["mac", "ip", "hostname"]);
    c.required(`${at}.ip`, h.ip);
    let mac: string | undefined = h.mac as string | undefined;
    if (mac !== undefined && !isUnknown(mac)) {
      mac = canonicalMac(mac);
      if (!mac) c.fail(`${at}.mac`, `${show(h.mac)} is not a MAC address: expected six hex pairs separated by colons, e.g. 52:54:00:12:34:56`);
      else if (parseInt(mac.slice(0, 2), 16) & 1) mac = c.fail(`${at}.mac`, `${mac} is a multicast address; a guest NIC needs a unicast one (first octet even), e.g. 52:54:00:12:34:56`);
      else if (mac === "00:00:00:00:00:00") mac = c.fail(`${at}.mac`, "00:00:00:00:00:00 is not a usable MAC address");
    }
    return compact({ mac, ip: address(c, `${at}.ip`, h.ip)!, hostname: c.string(`${at}.hostname`, h.hostname, HOSTNAME) });
  });
  if (Array.isArray(dhcpHosts) && known(dhcpHosts)) {
    const seen = new Map<string, string>();
    dhcpHosts.forEach((h, i) => {
      const at = `dhcpHosts[${i}]`;
      const ip = parseIp(h?.ip);
      if (!h || !ip) return;
      inSubnet(`${at}.ip`, ip, "reserved address");
      if (ip.family === "ipv4" && h.mac === undefined && h.hostname === undefined) c.fail(at, "an IPv4 reservation needs a mac (or at least a hostname) to match the guest by");
      if (ip.family === "ipv6" && h.mac !== undefined) c.fail(`${at}.mac`, "IPv6 reservations cannot match by MAC (DHCPv6 clients identify by DUID): remove mac and match by hostname");
      if (ip.family === "ipv6" && h.hostname === undefined) c.fail(`${at}.hostname`, "an IPv6 reservation needs a hostname to match the guest by");
      // libvirt matches reservations by any of MAC, name or address: each must be unique per family.
      for (const [kind, v] of [["mac", h.mac], ["ip", formatIp(ip)], ["hostname", h.hostname?.toLowerCase()]] as const) {
        if (v === undefined) continue;
        const key = `${ip.family} ${kind} ${v}`;
        const first = seen.get(key);
        if (first) c.fail(`${at}.${kind}`, `${kind} ${v} is already used by ${first}; each ${FAMILY_NAME[ip.family]} reservation needs its own ${kind}`);
        else seen.set(key, at);
      }
    });
    dhcpHosts = sortBy(dhcpHosts, byIp);
  }

  // DNS
  const dnsObj = obj(c, "dns", news.dns, ["enable", "forwarders"]);
  const dnsEnable = c.bool("dns.enable", dnsObj?.enable);
  const forwarders = isUnknown(dnsObj) ? undefined : (() => {
    const l = list(c, "dns.forwarders", dnsObj?.forwarders);
    return Array.isArray(l) ? l.map((f, i) => address(c, `dns.forwarders[${i}]`, f)!) : l;
  })();
  const dns = isUnknown(dnsObj) ? (dnsObj as undefined) : canonicalDns(dnsObj && { enable: dnsEnable, forwarders: forwarders as string[] | undefined });

  let dnsHosts = items(c, "dnsHosts", news.dnsHosts, (h, at) => {
    c.noExtraKeys(at, h, ["ip", "hostnames"]);
    c.required(`${at}.ip`, h.ip);
    const names = list(c, `${at}.hostnames`, h.hostnames);
    if (Array.isArray(names) && !names.length) c.fail(`${at}.hostnames`, "expected at least one host name");
    if (names === undefined) c.required(`${at}.hostnames`, undefined);
    return {
      ip: address(c, `${at}.ip`, h.ip)!,
      hostnames: Array.isArray(names) ? names.map((n, j) => c.string(`${at}.hostnames[${j}]`, n, DNS_NAME)!) : (names as unknown as string[]),
    };
  });
  if (Array.isArray(dnsHosts) && known(dnsHosts)) {
    const seen = new Map<string, string>();
    dnsHosts.forEach((h, i) => {
      if (!h?.ip) return;
      const first = seen.get(h.ip);
      if (first) c.fail(`dnsHosts[${i}].ip`, `${h.ip} already has a record (${first}): list all its names in one entry`);
      else seen.set(h.ip, `dnsHosts[${i}]`);
    });
    dnsHosts = sortBy(dnsHosts, byIp);
  }

  let dnsTxt = items(c, "dnsTxt", news.dnsTxt, (t, at) => {
    c.noExtraKeys(at, t, ["name", "value"]);
    c.required(`${at}.name`, t.name);
    c.required(`${at}.value`, t.value);
    return { name: c.string(`${at}.name`, t.name, DNS_OWNER)!, value: c.string(`${at}.value`, t.value, { pattern: /^[^\0]*$/, accepted: "text up to 255 characters", max: 255 })! };
  });
  if (Array.isArray(dnsTxt) && known(dnsTxt)) {
    const seen = new Map<string, string>();
    dnsTxt.forEach((t, i) => {
      if (!t?.name) return;
      const first = seen.get(t.name);
      if (first) c.fail(`dnsTxt[${i}].name`, `TXT record ${t.name} is already defined by ${first}; libvirt holds one value per name`);
      else seen.set(t.name, `dnsTxt[${i}]`);
    });
    dnsTxt = sortBy(dnsTxt, (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  let dnsSrv = items(c, "dnsSrv", news.dnsSrv, (s, at) => {
    c.noExtraKeys(at, s, ["service", "protocol", "domain", "target", "port", "priority", "weight"]);
    c.required(`${at}.service`, s.service);
    c.required(`${at}.protocol`, s.protocol);
    const srv = {
      service: c.string(`${at}.service`, s.service, { pattern: /^[A-Za-z0-9_+/*-]+$/, accepted: "a service name of up to 15 letters, digits and _ - + / *, e.g. http or ldap", max: 15 })!,
      protocol: c.string(`${at}.protocol`, s.protocol, { pattern: /^[A-Za-z0-9+/-]+$/, accepted: "a protocol name such as tcp or udp", max: 15 })!,
      domain: c.string(`${at}.domain`, s.domain, DNS_NAME),
      target: c.string(`${at}.target`, s.target, DNS_NAME),
      port: c.int(`${at}.port`, s.port, 1, 65535),
      priority: c.int(`${at}.priority`, s.priority, 0, 65535),
      weight: c.int(`${at}.weight`, s.weight, 0, 65535),
    };
    if (s.target === undefined) {
      for (const k of ["port", "priority", "weight"] as const) if (s[k] !== undefined) c.fail(`${at}.${k}`, `${k} needs a target: the host that offers the service`);
    }
    return canonicalSrv(compact(srv));
  });
  if (Array.isArray(dnsSrv) && known(dnsSrv)) {
    // libvirt finds SRV records by service, protocol, domain and target, a missing one matching any.
    const covers = (a: DnsSrv, b: DnsSrv) => (["service", "protocol", "domain", "target"] as const).every((k) => a[k] === undefined || a[k] === b[k]);
    dnsSrv.forEach((s, i) => {
      const j = dnsSrv!.findIndex((o, k) => k < i && !!o && !!s && (covers(o, s) || covers(s, o)));
      if (j >= 0) c.fail(`dnsSrv[${i}]`, `SRV record ${s.service}/${s.protocol} cannot be told apart from dnsSrv[${j}] (libvirt matches records by service, protocol, domain and target): give them different domains or targets`);
    });
    dnsSrv = sortBy(dnsSrv, (a, b) => (srvKey(a) < srvKey(b) ? -1 : srvKey(a) > srvKey(b) ? 1 : 0));
  }

  // routes
  const routes = items(c, "routes", news.routes, (r, at) => {
    c.noExtraKeys(at, r, ["destination", "gateway"]);
    c.required(`${at}.destination`, r.destination);
    c.required(`${at}.gateway`, r.gateway);
    let destination = r.destination as string | undefined;
    if (destination !== undefined && !isUnknown(destination)) {
      const dst = parseCidr(destination);
      if (!dst || reservedIpv6(dst)) destination = c.fail(`${at}.destination`, `${show(destination)} is not a subnet: expected an address and prefix length such as 10.20.0.0/16 or fd00:20::/48`);
      else if (dst.prefix === 0) destination = c.fail(`${at}.destination`, "a default route (/0) would send all the host's traffic to a guest; give a specific subnet");
      else if (dst.value !== networkAddress(dst)) destination = c.fail(`${at}.destination`, `${show(destination)} has host bits set: the subnet is ${formatIp({ family: dst.family, value: networkAddress(dst) })}/${dst.prefix}`);
      else destination = formatCidr(dst);
    }
    const gateway = address(c, `${at}.gateway`, r.gateway);
    return { destination: destination as string, gateway: gateway as string };
  });
  if (Array.isArray(routes) && known(routes)) {
    routes.forEach((r, i) => {
      const dst = parseCidr(r?.destination), gw = parseIp(r?.gateway);
      if (!dst || !gw) return;
      if (dst.family !== gw.family) return c.fail(`routes[${i}].gateway`, `gateway ${r.gateway} is ${FAMILY_NAME[gw.family]} but the destination ${r.destination} is ${FAMILY_NAME[dst.family]}`);
      inSubnet(`routes[${i}].gateway`, gw, "gateway");
      const own = subnets[dst.family];
      if (own && overlaps(own, dst)) c.fail(`routes[${i}].destination`, `${r.destination} overlaps the network's own subnet; the host reaches that directly`);
    });
  }

  // macvtap devices
  const devices = list(c, "sourceDevices", news.sourceDevices);
  const sourceDevices = Array.isArray(devices) ? devices.map((dev, i) => c.string(`sourceDevices[${i}]`, dev, IFNAME)!) : (devices as undefined);
  if (Array.isArray(sourceDevices) && known(sourceDevices)) {
    sourceDevices.forEach((dev, i) => {
      if (sourceDevices.indexOf(dev) < i) c.fail(`sourceDevices[${i}]`, `${dev} is listed twice`);
    });
  }

  // What each mode allows and needs.
  if (mode && !isUnknown(mode)) {
    const set = (k: string) => news[k] !== undefined && news[k] !== null && !(Array.isArray(news[k]) && !(news[k] as unknown[]).length);
    if (MANAGED.includes(mode)) {
      if (set("sourceDevices")) c.fail("sourceDevices", `sourceDevices is for macvtap networks; a ${mode} network has its own bridge`);
      if (mode === "nat" && !set("ipv4")) c.fail("ipv4", "a nat network needs ipv4: the address and prefix its guests are NATed from, e.g. { address: \"192.168.100.1/24\" }");
      if ((mode === "route" || mode === "open") && !set("ipv4") && !set("ipv6")) c.fail("ipv4", `a ${mode} network needs ipv4 or ipv6: libvirt forwards to the subnet it is given`);
    } else {
      const where = mode === "bridge" ? "the host bridge's own network (its DHCP and DNS are not libvirt's)" : "the host device's network";
      for (const k of ["ipv4", "ipv6", "dhcpHosts", "dns", "dnsHosts", "dnsTxt", "dnsSrv", "domain", "routes", "mtu"]) {
        if (set(k)) c.fail(k, `${k} is not available in ${mode} mode: guests are on ${where}; use nat, route, open or isolated for a network libvirt manages`);
      }
      if (mode === "bridge") {
        if (set("sourceDevices")) c.fail("sourceDevices", "sourceDevices is for macvtap networks; bridge mode attaches guests to bridge.name");
        if (!isUnknown(news.bridge) && b?.name === undefined) c.fail("bridge.name", "bridge mode needs bridge.name: an existing bridge on the host, e.g. br0");
        for (const k of ["stp", "delay"] as const) if (b?.[k] !== undefined) c.fail(`bridge.${k}`, `bridge.${k} applies to bridges libvirt creates (nat, route, open, isolated), not to an existing host bridge`);
      } else {
        if (set("bridge")) c.fail("bridge", "macvtap networks have no bridge: guests attach to sourceDevices directly");
        if (!isUnknown(news.sourceDevices) && !(Array.isArray(news.sourceDevices) && news.sourceDevices.length)) {
          c.fail("sourceDevices", "macvtap mode needs sourceDevices: host network devices such as [\"eth1\"]");
        }
      }
    }
  }
  if (mtu !== undefined && !isUnknown(mtu) && (known(ipv6) && ipv6) && mtu < 1280) c.fail("mtu", `IPv6 needs an MTU of at least 1280; got ${mtu}`);
  if (dns?.enable === false) {
    for (const k of ["dnsHosts", "dnsTxt", "dnsSrv"] as const) {
      if (Array.isArray(news[k]) && (news[k] as unknown[]).length) c.fail(k, `${k} needs DNS: remove dns.enable: false or the records`);
    }
    if (dns.forwarders?.length) c.fail("dns.forwarders", "forwarders need DNS: remove dns.enable: false or the forwarders");
  }

  return {
    name: name as string,
    mode: mode as NetworkMode,
    bridge: bridge && !isUnknown(bridge) && !Object.keys(bridge).length ? undefined : bridge,
    mtu,
    domain,
    ipv4,
    ipv6,
    dhcpHosts: Array.isArray(dhcpHosts) ? nonEmpty(dhcpHosts) : dhcpHosts,
    dns,
    dnsHosts: Array.isArray(dnsHosts) ? nonEmpty(dnsHosts) : dnsHosts,
    dnsTxt: Array.isArray(dnsTxt) ? nonEmpty(dnsTxt) : dnsTxt,
    dnsSrv: Array.isArray(dnsSrv) ? nonEmpty(dnsSrv) : dnsSrv,
    routes: Array.isArray(routes) ? nonEmpty(routes) : routes,
    sourceDevices: Array.isArray(sourceDevices) ? nonEmpty(sourceDevices) : sourceDevices,
    start: c.bool("start", news.start) ?? true,
    autostart: c.bool("autostart", news.autostart) ?? true,
    allowRestart: c.bool("allowRestart", news.allowRestart) ?? false,
    forceDelete: c.bool("forceDelete", news.forceDelete) ?? false,
  };
}

// ---- libvirt definitions <-> inputs ---------------------------------------------------------------

function dhcpHostDef(h: DhcpHost): DhcpHostDef {
  return compact({ mac: h.mac, name: h.hostname, ip: h.ip });
}

/**
 * The full definition for inputs. `keep` holds what libvirt chose or the inputs leave unset: the
 * UUID, the bridge's MAC (guests' ARP caches point at it), and the bridge settings (computed).
 */
function definition(i: NetworkInputs, keep: { uuid?: string; mac?: string; bridge?: NetworkDef["bridge"] } = {}): NetworkDef {
  const managed = MANAGED.includes(i.mode);
  const ip = (family: Family, cfg: IpConfig | undefined) => {
    if (!cfg) return [];
    const cidr = parseCidr(cfg.address)!;
    return [{
      family, address: formatIp(cidr), prefix: cidr.prefix,
      ranges: cfg.dhcpRanges ?? [],
      hosts: (i.dhcpHosts ?? []).filter((h) => parseIp(h.ip)?.family === family).map(dhcpHostDef),
    }];
  };
  return {
    name: i.name,
    uuid: keep.uuid,
    forwardMode: i.mode === "isolated" ? undefined : i.mode === "macvtap" ? "bridge" : i.mode,
    forwardDevices: i.mode === "macvtap" ? i.sourceDevices ?? [] : [],
    bridge: i.mode === "macvtap" ? undefined : compact({
      name: i.bridge?.name ?? (managed ? keep.bridge?.name : undefined),
      stp: i.bridge?.stp ?? (managed ? keep.bridge?.stp : undefined),
      delay: i.bridge?.delay ?? (managed ? keep.bridge?.delay : undefined),
    }),
    mac: managed ? keep.mac : undefined,
    mtu: i.mtu,
    domain: i.domain,
    dns: {
      enable: i.dns?.enable,
      forwarders: i.dns?.forwarders ?? [],
      hosts: i.dnsHosts ?? [],
      txt: i.dnsTxt ?? [],
      srv: i.dnsSrv ?? [],
    },
    ips: [...ip("ipv4", i.ipv4), ...ip("ipv6", i.ipv6)],
    routes: (i.routes ?? []).map((r) => {
      const dst = parseCidr(r.destination)!;
      return { family: dst.family, address: formatIp(dst), prefix: dst.prefix, gateway: r.gateway };
    }),
  };
}

function modeOf(def: NetworkDef): string {
  if (def.forwardMode === undefined) return "isolated";
  if (def.forwardMode === "bridge") return def.forwardDevices.length ? "macvtap" : "bridge";
  return def.forwardMode;
}

/** The definition as inputs describe it, in check's canonical form. */
export function inputsFromDef(def: NetworkDef): Partial<NetworkInputs> {
  const mode = modeOf(def);
  const ipConfig = (family: Family): IpConfig | undefined => {
    const ip = def.ips.find((x) => x.family === family);
    return ip && compact({ address: `${ip.address}/${ip.prefix}`, dhcpRanges: nonEmpty(ip.ranges) });
  };
  const hosts = def.ips.flatMap((ip) => ip.hosts.filter((h) => h.ip).map((h) => compact({ mac: h.mac, ip: h.ip!, hostname: h.name })));
  return {
    name: def.name,
    mode: mode as NetworkMode,
    bridge: mode === "macvtap" ? undefined : def.bridge && compact({ ...def.bridge, stp: MANAGED.includes(mode) ? def.bridge.stp ?? true : def.bridge.stp, delay: MANAGED.includes(mode) ? def.bridge.delay ?? 0 : def.bridge.delay }),
    mtu: def.mtu,
    domain: def.domain && compact(def.domain),
    ipv4: ipConfig("ipv4"),
    ipv6: ipConfig("ipv6"),
    dhcpHosts: nonEmpty(sortBy(hosts, byIp)),
    dns: canonicalDns({ enable: def.dns.enable, forwarders: def.dns.forwarders }),
    dnsHosts: nonEmpty(sortBy(def.dns.hosts.map((h) => ({ ip: h.ip, hostnames: h.hostnames })), byIp)),
    dnsTxt: nonEmpty(sortBy(def.dns.txt.map((t) => ({ ...t })), (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))),
    dnsSrv: nonEmpty(sortBy(def.dns.srv.map((s) => canonicalSrv(compact({ ...s }))), (a, b) => (srvKey(a) < srvKey(b) ? -1 : srvKey(a) > srvKey(b) ? 1 : 0))),
    routes: nonEmpty(def.routes.map((r) => ({ destination: `${r.address}/${r.prefix}`, gateway: r.gateway }))),
    sourceDevices: mode === "macvtap" ? nonEmpty(def.forwardDevices) : undefined,
  };
}

// ---- live updates ------------------------------------------------------------------------------

export interface UpdateOp {
  command: number;
  section: number;
  xml: string;
  parentIndex: number;
  /** For progress and errors: "add DHCP host 52:54:00:..=10.0.0.5". */
  what: string;
}

const sameHost = (a: DhcpHostDef, b: DhcpHostDef) => a.mac === b.mac && a.name === b.name && a.ip === b.ip && a.id === b.id;

/**
 * The add/modify/delete list that turns one <ip>'s reservations into the desired ones. libvirt
 * finds the entry to modify as the first one matching the new entry's MAC, name (and, in newer
 * versions, address); when that would hit another entry, the change is a delete plus an add.
 */
export function planDhcpHosts(family: Family, current: DhcpHostDef[], desired: DhcpHostDef[], parentIndex: number): UpdateOp[] {
  const key = (h: DhcpHostDef) => (family === "ipv4" ? h.mac ?? `name ${h.name}` : h.name !== undefined ? `name ${h.name}` : `id ${h.id}`);
  const wanted = new Map(desired.map((h) => [key(h), h]));
  const ops: UpdateOp[] = [];
  const op = (command: number, h: DhcpHostDef, verb: string) => ops.push({
    command, section: NetworkUpdateSection.IP_DHCP_HOST, xml: dhcpHostXml(h), parentIndex,
    what: `${verb} DHCP reservation ${[h.mac, h.name, h.ip].filter(Boolean).join(" ")}`,
  });
  let list = current.filter((h) => {
    if (wanted.has(key(h))) return true;
    op(NetworkUpdateCommand.DELETE, h, "delete");
    return false;
  });
  const adds: DhcpHostDef[] = [];
  for (const w of desired) {
    const t = list.find((h) => key(h) === key(w));
    if (!t) adds.push(w);
    else if (!sameHost(t, w)) {
      const byMacOrName = list.findIndex((h) => (w.mac !== undefined && h.mac === w.mac) || (w.name !== undefined && h.name === w.name));
      const byAny = list.findIndex((h) => (w.mac !== undefined && h.mac === w.mac) || h.ip === w.ip || (w.name !== undefined && h.name === w.name));
      const at = list.indexOf(t);
      if (byMacOrName === at && byAny === at) {
        op(NetworkUpdateCommand.MODIFY, w, "modify");
        list[at] = w;
      } else {
        op(NetworkUpdateCommand.DELETE, t, "delete");
        list = list.filter((h) => h !== t);
        adds.push(w);
      }
    }
  }
  for (const a of adds) op(NetworkUpdateCommand.ADD_LAST, a, "add");
  return ops;
}

/** DNS host records by address: deleted by address alone (a shared name would match two), then added. */
export function planDnsHosts(current: { ip: string; hostnames: string[] }[], desired: DnsHost[]): UpdateOp[] {
  const want = new Map(desired.map((h) => [h.ip, h]));
  const have = new Map(current.map((h) => [h.ip, h]));
  const ops: UpdateOp[] = [];
  for (const h of current) {
    const w = want.get(h.ip);
    if (!w || !isDeepStrictEqual(w.hostnames, h.hostnames)) {
      ops.push({ command: NetworkUpdateCommand.DELETE, section: NetworkUpdateSection.DNS_HOST, xml: dnsHostXml({ ip: h.ip }), parentIndex: -1, what: `delete DNS host ${h.ip}` });
    }
  }
  for (const w of desired) {
    const h = have.get(w.ip);
    if (!h || !isDeepStrictEqual(w.hostnames, h.hostnames)) {
      ops.push({ command: NetworkUpdateCommand.ADD_LAST, section: NetworkUpdateSection.DNS_HOST, xml: dnsHostXml(w), parentIndex: -1, what: `add DNS host ${w.ip} ${w.hostnames.join(" ")}` });
    }
  }
  return ops;
}

export function planDnsTxt(current: DnsTxt[], desired: DnsTxt[]): UpdateOp[] {
  const ops: UpdateOp[] = [];
  for (const t of current) {
    if (!desired.some((d) => d.name === t.name && d.value === t.value)) {
      ops.push({ command: NetworkUpdateCommand.DELETE, section: NetworkUpdateSection.DNS_TXT, xml: dnsTxtXml(t), parentIndex: -1, what: `delete DNS TXT ${t.name}` });
    }
  }
  for (const d of desired) {
    if (!current.some((t) => t.name === d.name && t.value === d.value)) {
      ops.push({ command: NetworkUpdateCommand.ADD_LAST, section: NetworkUpdateSection.DNS_TXT, xml: dnsTxtXml(d), parentIndex: -1, what: `add DNS TXT ${d.name}` });
    }
  }
  return ops;
}

export function planDnsSrv(current: DnsSrvDef[], desired: DnsSrv[]): UpdateOp[] {
  const same = (a: DnsSrv, b: DnsSrv) => isDeepStrictEqual(canonicalSrv(compact({ ...a })), canonicalSrv(compact({ ...b })));
  const specified = (s: DnsSrv) => (["domain", "target"] as const).filter((k) => s[k] !== undefined).length;
  const ops: UpdateOp[] = [];
  // A request matches every record agreeing on its given fields: the most specific go first.
  const gone = current.filter((s) => !desired.some((d) => same(d, s))).sort((a, b) => specified(b) - specified(a));
  for (const s of gone) ops.push({ command: NetworkUpdateCommand.DELETE, section: NetworkUpdateSection.DNS_SRV, xml: dnsSrvXml(s), parentIndex: -1, what: `delete DNS SRV ${s.service}/${s.protocol}` });
  for (const d of desired) {
    if (!current.some((s) => same(d, s))) ops.push({ command: NetworkUpdateCommand.ADD_LAST, section: NetworkUpdateSection.DNS_SRV, xml: dnsSrvXml(d), parentIndex: -1, what: `add DNS SRV ${d.service}/${d.protocol}` });
  }
  return ops;
}

/** The live-updatable sections (reservations and DNS records): how each is planned against a definition. */
const PLANNERS = {
  dhcpHosts: (def: NetworkDef, news: NetworkInputs) => def.ips.flatMap((ip, index) => {
    // Only the first <ip> of a family holds DHCP in libvirt.
    if (def.ips.findIndex((x) => x.family === ip.family) !== index) return [];
    const desired = (news.dhcpHosts ?? []).filter((h) => parseIp(h.ip)?.family === ip.family).map(dhcpHostDef);
    return planDhcpHosts(ip.family, ip.hosts, desired, index);
  }),
  dnsHosts: (def: NetworkDef, news: NetworkInputs) => planDnsHosts(def.dns.hosts, news.dnsHosts ?? []),
  dnsTxt: (def: NetworkDef, news: NetworkInputs) => planDnsTxt(def.dns.txt, news.dnsTxt ?? []),
  dnsSrv: (def: NetworkDef, news: NetworkInputs) => planDnsSrv(def.dns.srv, news.dnsSrv ?? []),
};
type RecordField = keyof typeof PLANNERS;

async function getDef(ctx: Context, net: NetworkRef, inactive: boolean): Promise<NetworkDef> {
  return networkFromXml(await ctx.lv.networkGetXmlDesc(net, inactive ? NetworkXmlFlags.INACTIVE : 0));
}

/**
 * Apply the live-updatable fields with virNetworkUpdate: to the running network and/or the
 * definition, each planned against its own current state (they can differ after an
 * out-of-band `net-update --live`); one call for both when the plans agree.
 */
async function applyLive(ctx: Context, net: NetworkRef, news: NetworkInputs, field: RecordField, targets: { live: boolean; config: boolean }): Promise<void> {
  const livePlan = targets.live ? PLANNERS[field](await getDef(ctx, net, false), news) : [];
  const configPlan = targets.config ? PLANNERS[field](await getDef(ctx, net, true), news) : [];
  const run = async (ops: UpdateOp[], flags: number) => {
    for (const op of ops) {
      try {
        await ctx.retry(() => ctx.lv.networkUpdate(net, op.command, op.section, op.xml, flags, op.parentIndex));
      } catch (e) {
        throw new Error(`${op.what} failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  };
  if (targets.live && targets.config && isDeepStrictEqual(livePlan, configPlan)) {
    await run(livePlan, NetworkUpdateFlags.LIVE | NetworkUpdateFlags.CONFIG);
  } else {
    await run(livePlan, NetworkUpdateFlags.LIVE);
    await run(configPlan, NetworkUpdateFlags.CONFIG);
  }
}

// ---- domains on the network ----------------------------------------------------------------------

interface DomainUse {
  dom: DomainRef;
  interfaces: AttachedInterface[];
}

/** The running domains with interfaces on this network (by name, or on its libvirt-managed bridge). */
async function runningUsers(ctx: Context, def: NetworkDef): Promise<DomainUse[]> {
  const managedBridge = MANAGED.includes(modeOf(def)) ? def.bridge?.name : undefined;
  const domains = await ctx.lv.listAllDomains(ConnectListDomains.ACTIVE);
  const uses: DomainUse[] = [];
  for (const dom of domains) {
    let xml: string;
    try {
      xml = await ctx.lv.domainGetXmlDesc(dom);
    } catch (e) {
      if (isNotFound(e)) continue; // stopped and undefined since listing
      throw e;
    }
    const interfaces = await interfacesOn(xml, def.name, managedBridge);
    if (interfaces.length) uses.push({ dom, interfaces });
  }
  return uses;
}

/** Defined but stopped domains that would attach to the network when started. */
async function stoppedUsers(ctx: Context, def: NetworkDef): Promise<string[]> {
  const names: string[] = [];
  for (const dom of await ctx.lv.listAllDomains(ConnectListDomains.INACTIVE)) {
    const xml = await ctx.lv.domainGetXmlDesc(dom, DomainXmlFlags.INACTIVE).catch(() => undefined);
    if (xml && (await interfacesOn(xml, def.name, undefined)).length) names.push(dom.name);
  }
  return names.sort();
}

const nameList = (uses: { dom: DomainRef }[]) => uses.map((u) => u.dom.name).sort().join(", ");

/** Put the interfaces of running domains back on the network's (new) bridge after a restart. */
async function reconnect(ctx: Context, net: NetworkRef, def: NetworkDef, uses: DomainUse[]): Promise<void> {
  if (!uses.length || modeOf(def) === "macvtap") return;
  const bridge = await ctx.lv.networkGetBridgeName(net);
  const failed: string[] = [];
  for (const { dom, interfaces } of uses) {
    for (const iface of interfaces) {
      const [other, original] = reconnectSteps(iface, def.name, bridge);
      try {
        await ctx.retry(() => ctx.lv.domainUpdateDevice(dom, other, Impact.LIVE));
        await ctx.retry(() => ctx.lv.domainUpdateDevice(dom, original, Impact.LIVE));
      } catch (e) {
        if (isNotFound(e)) continue; // the domain stopped meanwhile: it attaches afresh when started
        failed.push(`${dom.name} (${iface.mac ?? iface.tap ?? "interface"}): ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
  if (failed.length) {
    throw new Error(`the network restarted, but these running interfaces could not be put back on bridge ${bridge}: ${failed.join("; ")}. Restart those domains (or detach and attach the interface) to reconnect them`);
  }
}

/**
 * Stop and start the network with its current definition, then reconnect running guests. When
 * the new definition does not start, the previous one is put back and started so guests are not
 * left without a network.
 */
async function restart(ctx: Context, net: NetworkRef, name: string, fields: string[], previousXml: string): Promise<void> {
  const before = await getDef(ctx, net, false);
  const uses = await runningUsers(ctx, before);
  const count = uses.reduce((n, u) => n + u.interfaces.length, 0);
  const after = modeOf(before) === "macvtap" ? "keep their macvtap devices" : "are put back on the bridge afterwards";
  progress(`network "${name}": restarting to apply ${fields.join(", ")}${count ? `; ${count} interface(s) of running domains (${nameList(uses)}) ${after}` : ""}`);
  await ctx.retry(() => ctx.lv.networkDestroy(net));
  try {
    await ctx.retry(() => ctx.lv.networkCreate(net));
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    await ctx.lv.networkDefineXml(previousXml);
    await ctx.retry(() => ctx.lv.networkCreate(net));
    await reconnect(ctx, net, await getDef(ctx, net, false), uses);
    throw new Error(`the new definition (${fields.join(", ")}) did not start: ${reason}. The previous definition was restored and the network started again with it`);
  }
  await reconnect(ctx, net, await getDef(ctx, net, false), uses);
}

/** Restart-effect inputs whose definition differs from the running network. */
async function pendingRestart(ctx: Context, net: NetworkRef): Promise<string[] | undefined> {
  if (!(await ctx.lv.networkIsActive(net))) return undefined;
  const [running, config] = await Promise.all([getDef(ctx, net, false), getDef(ctx, net, true)]);
  return pendingFields(inputsFromDef(running), inputsFromDef(config));
}

function pendingFields(running: Partial<NetworkInputs>, config: Partial<NetworkInputs>): string[] {
  return RESTART_FIELDS.filter((f) => !isDeepStrictEqual(running[f], config[f]));
}

async function lookup(ctx: Context, id: string): Promise<NetworkRef | undefined> {
  try {
    return await ctx.lv.networkLookupByUuid(uuidBytes(id));
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/** Whether a network made from `news` could not run beside the one made from `olds`. */
function collides(olds: Partial<NetworkInputs>, news: NetworkInputs): boolean {
  if (containsUnknown(news)) return true;
  if ((olds.uri ?? "") !== (news.uri ?? "")) return false;
  if (olds.name === news.name) return true;
  if (olds.bridge?.name !== undefined && olds.bridge.name === news.bridge?.name) return true;
  for (const f of ["ipv4", "ipv6"] as const) {
    const a = parseCidr(olds[f]?.address), b = parseCidr(news[f]?.address);
    if (a && b && overlaps(a, b)) return true;
  }
  return false;
}

async function startOrStop(ctx: Context, net: NetworkRef, news: NetworkInputs): Promise<void> {
  const running = await ctx.lv.networkIsActive(net);
  if (news.start && !running) await ctx.retry(() => ctx.lv.networkCreate(net));
  if (!news.start && running) {
    const uses = await runningUsers(ctx, await getDef(ctx, net, false));
    if (uses.length) progress(`network "${news.name}": stopping it cuts off running domains ${nameList(uses)}; their interfaces stay detached until the network is back and they are restarted`);
    await ctx.retry(() => ctx.lv.networkDestroy(net));
  }
}

export const network: ResourceSpec<NetworkInputs, NetworkOutputs, NetworkTarget> = {
  kind: "Network",
  fields: networkFields,
  identity: ["name", "uri"],
  collides,
  check: (news, c) => checkInputs(news, c),
  describe: (i, id) => `network "${i.name ?? id}"`,

  async create(ctx, inputs) {
    const net = await ctx.retry(() => ctx.lv.networkDefineXml(networkToXml(definition(inputs))));
    try {
      await ctx.lv.networkSetAutostart(net, !!inputs.autostart);
      if (inputs.start) await ctx.retry(() => ctx.lv.networkCreate(net));
    } catch (e) {
      // Leave nothing behind.
      await ctx.lv.networkDestroy(net).catch(() => undefined);
      await ctx.lv.networkUndefine(net).catch(() => undefined);
      throw e;
    }
    return { id: uuidString(net.uuid) };
  },

  async read(ctx, id) {
    const net = await lookup(ctx, id);
    if (!net) return undefined;
    const [active, autostart, config] = await Promise.all([ctx.lv.networkIsActive(net), ctx.lv.networkGetAutostart(net), getDef(ctx, net, true)]);
    const running = active ? await getDef(ctx, net, false) : config;
    const fromConfig = inputsFromDef(config);
    const fromRunning = inputsFromDef(running);
    const leases = active && MANAGED.includes(modeOf(running)) ? await ctx.lv.networkGetDhcpLeases(net) : [];
    // Restart-effect inputs as the definition holds them (what the next start applies); live ones as running.
    const live: Partial<NetworkInputs> = { ...fromConfig, start: active, autostart };
    for (const f of Object.keys(PLANNERS) as RecordField[]) (live as any)[f] = fromRunning[f];
    return {
      live,
      outputs: {
        uuid: id,
        bridgeName: running.bridge?.name,
        active,
        leases: leases
          .map((l) => compact({
            mac: l.mac ?? "", ip: canonicalIp(l.ipaddr), prefix: l.prefix, family: (l.type === 1 ? "ipv6" : "ipv4") as Family,
            hostname: l.hostname || undefined, clientId: l.clientid || undefined, expiry: new Date(l.expirytime * 1000).toISOString(),
          }))
          .sort(byIp),
        pendingRestart: active ? pendingFields(fromRunning, fromConfig) : [],
      },
    };
  },

  async prepare(ctx, id, _olds, news, diff) {
    const net = await lookup(ctx, id);
    if (!net) throw new Error("it no longer exists; run `pulumi refresh` to forget it, then `pulumi up` to create it again");
    const active = await ctx.lv.networkIsActive(net);
    const previousXml = await ctx.lv.networkGetXmlDesc(net, NetworkXmlFlags.INACTIVE);
    const redefined = RESTART_FIELDS.some((f) => diff.changed.includes(f));
    if (redefined) {
      // The whole definition from the inputs (reservations and records included).
      const current = await networkFromXml(previousXml);
      const keep = { uuid: id, mac: current.mac, bridge: current.bridge };
      await ctx.retry(() => ctx.lv.networkDefineXml(networkToXml(definition(news, keep))));
    }
    return { net, active, previousXml, redefined, staysActive: active && news.start !== false };
  },

  restart: {
    allowed: (news) => !!news.allowRestart,
    pending: async (ctx, target) => (target.staysActive ? pendingRestart(ctx, target.net) : undefined),
    run: (ctx, target, news, fields) => restart(ctx, target.net, news.name, fields, target.previousXml),
    waiting: (fields) => `${fields.join(", ")} changed in the definition only; they take effect when the network next starts. ` +
      "Set allowRestart: true to restart it now (running guests are reconnected; their traffic pauses for about a second)",
  },

  async delete(ctx, id, olds) {
    const net = await lookup(ctx, id);
    if (!net) return;
    const active = await ctx.lv.networkIsActive(net);
    const def = await getDef(ctx, net, !active);
    const uses = active ? await runningUsers(ctx, def) : [];
    if (uses.length && !olds.forceDelete) {
      throw new Error(
        `running domains use it: ${nameList(uses)}. Stop them or move their interfaces to another network first, ` +
        "or set forceDelete: true to delete it anyway (their interfaces lose connectivity)",
      );
    }
    if (uses.length) progress(`network "${def.name}": deleting it while ${nameList(uses)} run on it (forceDelete); their interfaces lose connectivity`);
    const stopped = await stoppedUsers(ctx, def).catch(() => []);
    if (stopped.length) progress(`network "${def.name}": stopped domains ${stopped.join(", ")} still refer to it and will not start until it exists again`);
    if (active) await ctx.retry(() => ctx.lv.networkDestroy(net));
    await ctx.retry(() => ctx.lv.networkUndefine(net));
  },

  async find(ctx, { name }) {
    const net = await unlessNotFound(() => ctx.retry(() => ctx.lv.networkLookupByName(name!)));
    return net && uuidString(net.uuid);
  },
};
