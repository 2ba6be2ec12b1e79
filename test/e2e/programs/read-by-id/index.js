// `new StoragePool(name, args, { id })`: a "read" resource. The engine calls the provider's read
// with the id and these args; nothing is created, updated or (on destroy) deleted.
const pulumi = require("@pulumi/pulumi");
const libvirt = require("pulumi-libvirt");

const config = new pulumi.Config();
const prefix = config.require("prefix");
const pool = new libvirt.StoragePool("existing", {
  name: `${prefix}-existing`,
  type: "dir",
  target: { path: `/var/lib/libvirt/images/${prefix}-existing` },
}, { id: config.require("poolUuid") });

exports.name = pool.name;
exports.uuid = pool.uuid;
exports.state = pool.state;
exports.autostart = pool.autostart;
exports.path = pool.target.apply((t) => t && t.path);
