/**
 * A small lab on one libvirt host:
 *  - a directory pool `<prefix>` at /var/lib/libvirt/images/<prefix>;
 *  - a base volume, and one qcow2 overlay of it per VM (each VM writes only its own overlay);
 *  - a NAT network (192.168.<octet>.0/24) and an isolated one (172.30.<octet>.0/24, host and
 *    guests only), both with DHCP;
 *  - two VMs, each with a cloud-init seed: `gw` on both networks, `node` on the isolated one
 *    (and on the NAT network too with `nodeNat`), their addresses as stack outputs.
 *
 * With no `image` the VMs boot the project's tiny test guest (kernel and initrd from
 * test/guest/build.sh, in `guestDir`), so the lab runs offline; the base volume is then blank.
 *
 *     pulumi config set guestDir "$(bash test/guest/build.sh | tail -n 1)"
 *     pulumi config set prefix demo && pulumi up
 *
 * Changes that stay live: `gwMemory` / `gwVcpus` (balloon and vCPU hotplug, up to the ceilings
 * chosen at creation), `nodeNat` (NIC hotplug). A new `nodeName` replaces the node, its overlay
 * and its seed.
 */
import * as pulumi from "@pulumi/pulumi";
import * as libvirt from "pulumi-libvirt";

const config = new pulumi.Config();
const prefix = config.get("prefix") || "lab";
const guestDir = config.get("guestDir") || "/var/lib/libvirt/images/pulumi-libvirt-guest";
const image = config.get("image") || undefined;
const octet = config.get("octet") || "210";
const natNet = `192.168.${octet}`;
const isoNet = `172.30.${octet}`;

const pool = new libvirt.StoragePool("pool", {
  name: prefix,
  type: "dir",
  target: { path: `/var/lib/libvirt/images/${prefix}` },
});

const base = new libvirt.Volume("base", image
  ? { pool: pool.name, name: `${prefix}-base.qcow2`, source: { url: image } }
  : { pool: pool.name, name: `${prefix}-base.qcow2`, format: "qcow2", capacity: "512MiB" });

const nat = new libvirt.Network("nat", {
  name: `${prefix}-nat`,
  mode: "nat",
  ipv4: { address: `${natNet}.1/24`, dhcpRanges: [{ start: `${natNet}.100`, end: `${natNet}.199` }] },
  autostart: true,
});

const iso = new libvirt.Network("iso", {
  name: `${prefix}-iso`,
  mode: "isolated",
  ipv4: { address: `${isoNet}.1/24`, dhcpRanges: [{ start: `${isoNet}.100`, end: `${isoNet}.199` }] },
  autostart: true,
});

interface VmArgs {
  /** Logical name: the Pulumi names of the VM, its overlay and its seed. */
  id: string;
  /** Name after the prefix, also the guest's hostname. */
  name: string;
  description: string;
  memory: string;
  vcpus: number;
  networks: pulumi.Input<string>[];
  /** running (default), paused, shutoff or saved: changed live, like autostart. */
  state?: libvirt.DomainArgs["state"];
  autostart?: boolean;
}

function vm(a: VmArgs): libvirt.Domain {
  const name = `${prefix}-${a.name}`;
  const disk = new libvirt.Volume(`${a.id}-disk`, {
    pool: pool.name,
    name: `${name}.qcow2`,
    backingStore: { volume: base.key },
    capacity: image ? "10GiB" : "1GiB",
  });
  const seed = new libvirt.CloudInitDisk(`${a.id}-seed`, {
    pool: pool.name,
    name: `${name}-seed`,
    metaData: `instance-id: ${name}\nlocal-hostname: ${a.name}\n`,
    userData: "#cloud-config\npackage_update: false\n",
  });
  return new libvirt.Domain(a.id, {
    name,
    description: a.description,
    memory: a.memory,
    vcpus: a.vcpus,
    machine: "pc",
    kernel: image ? undefined : { path: `${guestDir}/vmlinuz`, initrd: `${guestDir}/initrd.img`, cmdline: "console=ttyS0 quiet" },
    disks: [
      { volume: { pool: pool.name, name: disk.name } },
      { device: "cdrom", volume: { pool: pool.name, name: seed.volumeName } },
    ],
    interfaces: a.networks.map((network) => ({ network })),
    console: { type: "pty" },
    state: a.state,
    autostart: a.autostart,
    waitForIp: true,
  });
}

const gw = vm({
  id: "gw",
  name: "gw",
  description: "lab gateway: NAT and isolated network",
  memory: config.get("gwMemory") || (image ? "1GiB" : "256MiB"),
  vcpus: config.getNumber("gwVcpus") ?? 1,
  networks: [nat.name, iso.name],
});

const node = vm({
  id: "node",
  name: config.get("nodeName") || "node",
  description: "lab node",
  memory: image ? "1GiB" : "256MiB",
  vcpus: 1,
  networks: config.getBoolean("nodeNat") ? [iso.name, nat.name] : [iso.name],
  state: config.get("nodeState") as libvirt.DomainArgs["state"],
  autostart: config.getBoolean("nodeAutostart"),
});

export const ips = { gw: gw.ipAddress, node: node.ipAddress };
export const addresses = { gw: gw.interfaceAddresses, node: node.interfaceAddresses };
export const vmNames = [gw.name, node.name];
export const networks = { nat: nat.name, isolated: iso.name, natBridge: nat.bridgeName, isolatedBridge: iso.bridgeName };
export const overlayBase = base.path;
