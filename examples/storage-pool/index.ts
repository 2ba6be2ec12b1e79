/**
 * Two directory storage pools. Every libvirt object is named `<prefix>-...` and lives under
 * /var/lib/libvirt/images/<prefix>-..., so stacks with different prefixes never collide and
 * leftovers are easy to find (`virsh pool-list --all | grep <prefix>`).
 *
 *     pulumi config set prefix demo && pulumi up
 */
import * as pulumi from "@pulumi/pulumi";
import * as libvirt from "pulumi-libvirt";

const prefix = new pulumi.Config().get("prefix") ?? "example";
const root = "/var/lib/libvirt/images";

// Running, started at boot.
const images = new libvirt.StoragePool("images", {
  name: `${prefix}-images`,
  type: "dir",
  target: { path: `${root}/${prefix}-images` },
  autostart: true,
});

// Private scratch space: group-readable only.
const scratch = new libvirt.StoragePool("scratch", {
  name: `${prefix}-scratch`,
  type: "dir",
  target: { path: `${root}/${prefix}-scratch`, permissions: { mode: "0750" } },
  autostart: false,
});

export const imagesPool = { name: images.name, uuid: images.uuid, state: images.state, autostart: images.autostart };
export const scratchPool = { name: scratch.name, uuid: scratch.uuid, path: scratch.target.apply((t) => t?.path) };
