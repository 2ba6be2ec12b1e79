/**
 * Step 2 of the network example (the e2e suite copies this over index.ts):
 *  - "nat": one more DHCP reservation and DNS name (cache), an in-place update applied live:
 *    no restart, guests on the network keep their links;
 *  - "lab": a new name, a replacement. The new network keeps the old subnet and bridge name, so it
 *    cannot run beside the old one: the provider asks for delete-before-replace by itself.
 */
import * as pulumi from "@pulumi/pulumi";
import * as libvirt from "pulumi-libvirt";
import { createHash } from "crypto";

const config = new pulumi.Config();
const prefix = config.get("prefix") || "example";
const hash = createHash("sha256").update(prefix).digest();
const tag = hash.toString("hex").slice(0, 8);
const derived = (i: number) => `10.${200 + (hash[0] % 48)}.${(hash[1] + i) % 256}`;
const natNet = config.get("natSubnet") || derived(0);
const labNet = config.get("isolatedSubnet") || derived(1);
const txt = config.get("txt");

const nat = new libvirt.Network("nat", {
  name: `${prefix}-nat`,
  mode: "nat",
  bridge: { name: `vn${tag}`, stp: false },
  domain: { name: `${prefix}.internal`, localOnly: true },
  ipv4: { address: `${natNet}.1/24`, dhcpRanges: [{ start: `${natNet}.100`, end: `${natNet}.199` }] },
  dhcpHosts: [
    { mac: "52:54:00:00:10:11", ip: `${natNet}.11`, hostname: "db" },
    { mac: "52:54:00:00:10:12", ip: `${natNet}.12`, hostname: "web" },
    { mac: "52:54:00:00:10:13", ip: `${natNet}.13`, hostname: "cache" },
  ],
  dnsHosts: [
    { ip: `${natNet}.12`, hostnames: [`www.${prefix}.internal`] },
    { ip: `${natNet}.13`, hostnames: [`cache.${prefix}.internal`] },
  ],
  // TXT and SRV records on request (`pulumi config set txt ...`): live too, though libvirt
  // restarts dnsmasq for them (the bridge and the guests' links stay up).
  ...(txt ? {
    dnsTxt: [{ name: `info.${prefix}.internal`, value: txt }],
    dnsSrv: [{ service: "http", protocol: "tcp", domain: `${prefix}.internal`, target: `www.${prefix}.internal`, port: 80 }],
  } : {}),
  autostart: true,
});

const lab = new libvirt.Network("lab", {
  name: `${prefix}-lab2`,
  mode: "isolated",
  bridge: { name: `vl${tag}`, stp: false },
  ipv4: { address: `${labNet}.1/24`, dhcpRanges: [{ start: `${labNet}.100`, end: `${labNet}.149` }] },
  autostart: false,
});

export const natNetwork = { name: nat.name, uuid: nat.uuid, bridge: nat.bridgeName, active: nat.active, leases: nat.leases };
export const labNetwork = { name: lab.name, uuid: lab.uuid, bridge: lab.bridgeName, active: lab.active, pendingRestart: lab.pendingRestart };
