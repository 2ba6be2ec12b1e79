// Type-checked against @pulumi/pulumi 3.139.0 (pulumi-libvirt's declarations included) and run by it.
import * as pulumi from "@pulumi/pulumi";
import * as libvirt from "pulumi-libvirt";

const prefix = new pulumi.Config().require("prefix");
const pool = new libvirt.StoragePool("pool", {
  name: `${prefix}-floor`,
  type: "dir",
  target: { path: pulumi.interpolate`/var/lib/libvirt/images/${prefix}-floor` },
});

export const state = pool.state;
