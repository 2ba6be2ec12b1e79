// The second pool's name and path derive from the first pool's uuid: unknown until it exists,
// so the first preview must carry unknowns through check and diff.
const pulumi = require("@pulumi/pulumi");
const libvirt = require("pulumi-libvirt");

const prefix = new pulumi.Config().require("prefix");
const root = "/var/lib/libvirt/images";

const first = new libvirt.StoragePool("first", { name: `${prefix}-first`, type: "dir", target: { path: `${root}/${prefix}-first` }, autostart: false });
const suffix = first.uuid.apply((u) => u.slice(0, 8));
const second = new libvirt.StoragePool("second", {
  name: pulumi.interpolate`${prefix}-second-${suffix}`,
  type: "dir",
  target: { path: pulumi.interpolate`${root}/${prefix}-second-${suffix}` },
  autostart: false,
});

exports.firstUuid = first.uuid;
exports.secondName = second.name;
exports.secondPath = second.target.apply((t) => t && t.path);
