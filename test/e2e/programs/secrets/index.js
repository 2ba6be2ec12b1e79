const fs = require("node:fs");
const pulumi = require("@pulumi/pulumi");
const libvirt = require("pulumi-libvirt");

const config = new pulumi.Config();
const prefix = config.require("prefix");
// Read from a file, not stack config, so the engine never sees them except through the resources.
const { userData, vncPassword } = JSON.parse(fs.readFileSync("secrets.json", "utf8"));

const pool = new libvirt.StoragePool("pool", { name: prefix, type: "dir", target: { path: `/var/lib/libvirt/images/${prefix}` } });
// Plain strings, not pulumi.secret(): the provider must keep them secret by itself.
const seed = new libvirt.CloudInitDisk("seed", { pool: pool.name, name: `${prefix}-seed`, userData });
const vm = new libvirt.Domain("vm", {
  name: `${prefix}-vm`, type: "qemu", machine: "pc", memory: "64MiB", boot: ["hd"], state: "shutoff",
  graphics: { type: "vnc", listen: "127.0.0.1", password: vncPassword },
  disks: [{ device: "cdrom", volume: { pool: pool.name, name: seed.volumeName } }],
});
exports.graphics = vm.graphics;
exports.userData = seed.userData;
