const pulumi = require("@pulumi/pulumi");
const libvirt = require("pulumi-libvirt");

const prefix = new pulumi.Config().require("prefix");
const pool = new libvirt.StoragePool("pool", {
  name: `${prefix}-local`,
  type: "dir",
  target: { path: `/var/lib/libvirt/images/${prefix}-local` },
});
exports.state = pool.state;
