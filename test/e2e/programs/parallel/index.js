const pulumi = require("@pulumi/pulumi");
const libvirt = require("pulumi-libvirt");

const config = new pulumi.Config();
const prefix = config.require("prefix");
const count = config.getNumber("count") ?? 10;

const pools = [];
for (let i = 0; i < count; i++) {
  pools.push(new libvirt.StoragePool(`pool-${i}`, {
    name: `${prefix}-p${i}`,
    type: "dir",
    target: { path: `/var/lib/libvirt/images/${prefix}-p${i}` },
    autostart: false,
  }));
}
exports.uuids = pools.map((p) => p.uuid);
