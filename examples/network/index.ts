/**
 * Two libvirt networks:
 *  - "nat": guests reach out through the host's NAT; fixed addresses for db and web by MAC
 *    (DHCP reservations) and a DNS name for a service address, all changeable live;
 *  - "lab": isolated, host and guests only.
 *
 * Every network is named `<prefix>-...`, so stacks with different prefixes never collide. Linux
 * bridge names are at most 15 characters, and two running networks cannot share a subnet, so both
 * are derived from a hash of the prefix (or set natSubnet / isolatedSubnet).
 *
 *     pulumi config set prefix demo && pulumi up
 */
import * as pulumi from "@pulumi/pulumi";
import * as libvirt from "pulumi-libvirt";
import { createHash } from "crypto";

const config = new pulumi.Config();
const prefix = config.get("prefix") || "example";
const hash = createHash("sha256").update(prefix).digest();
const tag = hash.toString("hex").slice(0, 8);
/** 10.200.0.0 - 10.247.255.0: a /24 per network, from the hash. */
const derived = (i: number) => `10.${200 + (hash[0] % 48)}.${(hash[1] + i) % 256}`;
const natNet = config.get("natSubnet") || derived(0);
const labNet = config.get("isolatedSubnet") || derived(1);

const nat = new libvirt.Network("nat", {
  name: `${prefix}-nat`,
  mode: "nat",
  bridge: { name: `vn${tag}`, stp: false },
  domain: { name: `${prefix}.internal`, localOnly: true },
  ipv4: { address: `${natNet}.1/24`, dhcpRanges: [{ start: `${natNet}.100`, end: `${natNet}.199` }] },
  dhcpHosts: [
    { mac: "52:54:00:00:10:11", ip: `${natNet}.11`, hostname: "db" },
    { mac: "52:54:00:00:10:12", ip: `${natNet}.12`, hostname: "web" },
  ],
  dnsHosts: [{ ip: `${natNet}.12`, hostnames: [`www.${prefix}.internal`] }],
  autostart: true,
});

const lab = new libvirt.Network("lab", {
  name: `${prefix}-lab`,
  mode: "isolated",
  bridge: { name: `vl${tag}`, stp: false },
  ipv4: { address: `${labNet}.1/24`, dhcpRanges: [{ start: `${labNet}.100`, end: `${labNet}.149` }] },
  autostart: false,
});

export const natNetwork = { name: nat.name, uuid: nat.uuid, bridge: nat.bridgeName, active: nat.active, leases: nat.leases };
export const labNetwork = { name: lab.name, uuid: lab.uuid, bridge: lab.bridgeName, active: lab.active, pendingRestart: lab.pendingRestart };
