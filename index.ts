/**
 * The quickstart: everything a VM needs on one libvirt host, then the VM, and its IP address.
 *
 * With no configuration it boots the project's tiny test guest (test/guest, built from Debian
 * packages by scripts/quickstart.sh), so it runs offline. Stack config switches it to a cloud
 * image, another host, other sizes and a number of VMs:
 *   image     URL of a qcow2 cloud image (default: the test guest, booted from its kernel)
 *   count     number of VMs (1)       memory  per VM ("256MiB", or "1GiB" with an image)
 *   vcpus     per VM (1)              diskSize  data disk, or root disk with an image ("1GiB", "10GiB")
 *   prefix    name of every object ("quickstart")   subnet  the NAT network ("192.168.213.1/24")
 *   libvirt:uri  the host (qemu:///system)
 */
import * as pulumi from "@pulumi/pulumi";
import * as libvirt from "pulumi-libvirt";

const config = new pulumi.Config();
const image = config.get("image");
const count = config.getNumber("count") ?? 1;
const prefix = config.get("prefix") ?? "quickstart";
const subnet = config.get("subnet") ?? "192.168.213.1/24";
const guestDir = config.get("guestDir") ?? "/var/lib/libvirt/images/pulumi-libvirt-guest";

const pool = new libvirt.StoragePool("pool", {
  name: prefix,
  type: "dir",
  target: { path: `/var/lib/libvirt/images/${prefix}` },
});

const [hostAddress] = subnet.split("/");
const base = hostAddress.split(".").slice(0, 3).join(".");
const network = new libvirt.Network("network", {
  name: `${prefix}-net`,
  mode: "nat",
  ipv4: { address: subnet, dhcpRanges: [{ start: `${base}.100`, end: `${base}.199` }] },
});

const osImage = image
  ? new libvirt.Volume("image", { pool: pool.name, name: `${prefix}-base.qcow2`, source: { url: image } })
  : undefined;

const vms = Array.from({ length: count }, (_, i) => {
  const name = count === 1 ? `${prefix}-vm` : `${prefix}-vm${i + 1}`;
  const disk = new libvirt.Volume(`disk-${i}`, {
    pool: pool.name,
    name: `${name}.qcow2`,
    format: "qcow2",
    capacity: config.get("diskSize") ?? (image ? "10GiB" : "1GiB"),
    backingStore: osImage ? { volume: osImage.key } : undefined,
  });
  const seed = new libvirt.CloudInitDisk(`seed-${i}`, {
    pool: pool.name,
    name: `${name}-seed`,
    metaData: `instance-id: ${name}\nlocal-hostname: ${name}\n`,
    userData: "#cloud-config\npackage_update: false\n",
  });
  return new libvirt.Domain(`vm-${i}`, {
    name,
    memory: config.get("memory") ?? (image ? "1GiB" : "256MiB"),
    vcpus: config.getNumber("vcpus") ?? 1,
    machine: "pc",
    kernel: image ? undefined : { path: `${guestDir}/vmlinuz`, initrd: `${guestDir}/initrd.img`, cmdline: "console=ttyS0 quiet" },
    disks: [
      { volume: { pool: pool.name, name: disk.name } },
      { device: "cdrom", volume: { pool: pool.name, name: seed.volumeName } },
    ],
    interfaces: [{ network: network.name }],
    console: { type: "pty" },
    waitForIp: true,
  });
});

export const ipAddresses = vms.map((vm) => vm.ipAddress);
export const vmNames = vms.map((vm) => vm.name);
