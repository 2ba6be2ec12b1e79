const pulumi = require("@pulumi/pulumi");
const libvirt = require("pulumi-libvirt");

const config = new pulumi.Config();
const prefix = config.require("prefix");
const guest = config.require("guestDir");

const vm = new libvirt.Domain("vm", {
  name: `${prefix}-vm`, type: "qemu", machine: "pc", memory: "64MiB", shutdownTimeoutSeconds: 0,
  kernel: { path: config.require("kernel"), initrd: `${guest}/initrd.img`, cmdline: "console=ttyS0 quiet cidata_wait=0" },
});
exports.status = vm.status;
