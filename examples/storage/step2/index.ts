/**
 * Step 2 of the storage example (the e2e suite copies this over index.ts):
 *  - "web" grows from 512MiB to 768MiB: resized in place, its data kept (an update);
 *  - "db" gets a new name: libvirt cannot rename volumes, so a new overlay replaces it.
 */
import * as pulumi from "@pulumi/pulumi";
import * as libvirt from "pulumi-libvirt";

const prefix = new pulumi.Config().get("prefix") ?? "example";

const pool = new libvirt.StoragePool("pool", {
  name: `${prefix}-vols`,
  type: "dir",
  target: { path: `/var/lib/libvirt/images/${prefix}-vols` },
});

const base = new libvirt.Volume("base", { pool: pool.name, name: "base.qcow2", format: "qcow2", capacity: "256MiB" });

const web = new libvirt.Volume("web", { pool: pool.name, name: "web.qcow2", backingStore: { volume: base.key }, capacity: "768MiB" });
const db = new libvirt.Volume("db", { pool: pool.name, name: "db-v2.qcow2", backingStore: { volume: base.key }, capacity: "1GiB" });

export const basePath = base.path;
export const overlays = [web, db].map((v) => ({ name: v.name, capacity: v.capacity, backingStorePath: v.backingStorePath }));
