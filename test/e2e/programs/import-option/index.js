// `{ import: id }`: the engine reads the object and, when these args match it, manages it from now on.
const pulumi = require("@pulumi/pulumi");
const libvirt = require("pulumi-libvirt");

const config = new pulumi.Config();
const prefix = config.require("prefix");
const pool = new libvirt.StoragePool("adopted", {
  name: `${prefix}-adopted`,
  type: "dir",
  target: { path: `/var/lib/libvirt/images/${prefix}-adopted` },
  autostart: false,
}, { import: config.require("poolUuid") });

exports.uuid = pool.uuid;
