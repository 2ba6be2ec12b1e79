// With a symlinked `file:` install, pulumi-libvirt's @pulumi/pulumi is another copy than this
// program's: the component parent and the Output input below cross from one copy to the other.
const pulumi = require("@pulumi/pulumi");
const libvirt = require("pulumi-libvirt");

const prefix = new pulumi.Config().require("prefix");

class Group extends pulumi.ComponentResource {
  constructor(name, opts) {
    super("e2e:index:Group", name, {}, opts);
    const poolName = pulumi.output(prefix).apply((p) => `${p}-linked`);
    this.pool = new libvirt.StoragePool("linked", {
      name: poolName,
      type: "dir",
      target: { path: pulumi.interpolate`/var/lib/libvirt/images/${poolName}` },
      autostart: false,
    }, { parent: this });
    this.registerOutputs({});
  }
}

const group = new Group("group");
exports.state = group.pool.state;
exports.label = group.pool.name;
