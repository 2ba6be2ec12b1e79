/**
 * Step 2 of the storage-pool example (the e2e suite copies this over index.ts):
 *  - "images": autostart true -> false, an in-place update;
 *  - "scratch": a new name, a replacement. It keeps its directory (the provider refuses to move
 *    a pool's path, volumes would stay behind); libvirt allows one pool per directory, so the
 *    provider deletes the old pool first by itself.
 */
import * as pulumi from "@pulumi/pulumi";
import * as libvirt from "pulumi-libvirt";

const prefix = new pulumi.Config().get("prefix") ?? "example";
const root = "/var/lib/libvirt/images";

const images = new libvirt.StoragePool("images", {
  name: `${prefix}-images`,
  type: "dir",
  target: { path: `${root}/${prefix}-images` },
  autostart: false,
});

const scratch = new libvirt.StoragePool("scratch", {
  name: `${prefix}-scratch-v2`,
  type: "dir",
  target: { path: `${root}/${prefix}-scratch`, permissions: { mode: "0750" } },
  autostart: false,
});

export const imagesPool = { name: images.name, uuid: images.uuid, state: images.state, autostart: images.autostart };
export const scratchPool = { name: scratch.name, uuid: scratch.uuid, path: scratch.target.apply((t) => t?.path) };
