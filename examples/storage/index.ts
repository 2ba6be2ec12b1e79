/**
 * A directory pool, a base image, and two qcow2 overlays on it: each overlay starts as the base
 * and records only its own writes, and may be larger than the base. In a real program the base
 * comes from a cloud image: `source: { url: "https://.../debian-12-generic-amd64.qcow2" }`.
 *
 *     pulumi config set prefix demo && pulumi up
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

const web = new libvirt.Volume("web", { pool: pool.name, name: "web.qcow2", backingStore: { volume: base.key }, capacity: "512MiB" });
const db = new libvirt.Volume("db", { pool: pool.name, name: "db.qcow2", backingStore: { volume: base.key }, capacity: "1GiB" });

export const basePath = base.path;
export const overlays = [web, db].map((v) => ({ name: v.name, capacity: v.capacity, backingStorePath: v.backingStorePath }));
