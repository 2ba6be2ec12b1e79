/**
 * The `uri` row of every resource but Domain (which moves: domain/migrate.int.test.ts): a new
 * host makes the object there, and the old one is deleted once the new one exists, as the engine
 * orders a create-before-delete replacement. The other host is a second libvirtd on this machine
 * (test/migration/host.ts), checked with its own virsh; this host is checked with the system's.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { SecondHost, startSecondHost } from "../../test/migration/host";
import { checked, closeProviderConnections, created, expectNoDiff, Managed, revive, Revived } from "../../test/provider";
import { rowTest } from "../../test/rows";
import { TEST_URI, uniqueName, virsh, virshQuiet } from "../../test/util";

const RUN = uniqueName("uri");
const DIR = `/var/lib/libvirt/images/${RUN}`;
const BRIDGE = `pltu${randomBytes(3).toString("hex")}`;
let h: SecondHost;
let p: Record<"StoragePool" | "Volume" | "CloudInitDisk" | "Network" | "DomainSnapshot", Revived>;

const names = (out: string) => out.split("\n").map((l) => l.trim().split(/\s+/)[0]).filter(Boolean).sort();
const here = (...args: string[]) => names(virsh(...args));
const there = async (...args: string[]) => names(await h.virsh(...args));

function defineOff(define: (file: string) => unknown, name: string, disk: string): void {
  execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", disk, "16M"]);
  const file = `${disk}.xml`;
  writeFileSync(file, `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>
    <devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk></devices></domain>`);
  define(file);
}

beforeAll(async () => {
  mkdirSync(DIR, { recursive: true, mode: 0o755 });
  execFileSync("ip", ["link", "add", BRIDGE, "type", "bridge"]);
  h = await startSecondHost();
  p = {
    StoragePool: await revive("StoragePool"), Volume: await revive("Volume"), CloudInitDisk: await revive("CloudInitDisk"),
    Network: await revive("Network"), DomainSnapshot: await revive("DomainSnapshot"),
  };
}, 300_000);

afterAll(async () => {
  await h?.stop();
  virshQuiet("undefine", "--snapshots-metadata", `${RUN}-off`);
  virshQuiet("net-destroy", `${RUN}-net`);
  virshQuiet("net-undefine", `${RUN}-net`);
  for (const v of ["vol.qcow2"]) virshQuiet("vol-delete", "--pool", `${RUN}-pool`, v);
  virshQuiet("pool-destroy", `${RUN}-pool`);
  virshQuiet("pool-undefine", `${RUN}-pool`);
  try {
    execFileSync("ip", ["link", "del", BRIDGE]);
  } catch {
    // not made
  }
  rmSync(DIR, { recursive: true, force: true });
  await closeProviderConnections();
}, 120_000);

/** The same inputs on the other host: the diff replaces for uri alone and keeps the old object until the new one exists. */
async function onOtherHost(r: Revived, cur: Managed): Promise<Managed> {
  const next = await checked(r, { ...cur.inputs, uri: h.uri }, cur.inputs);
  expect(await r.diff(cur.id, cur.outs, next)).toEqual({ changes: true, replaces: ["uri"], deleteBeforeReplace: false });
  const { id, outs } = await r.create(next);
  const m = { id, inputs: next, outs };
  await expectNoDiff(r, m);
  return m;
}

rowTest("a new uri makes the pool, its volume and seed, a network and a snapshot on the other host; the old ones go, the new ones stay", {
  StoragePool: ["uri"], Volume: ["uri"], CloudInitDisk: ["uri"], Network: ["uri"], DomainSnapshot: ["uri"],
}, async () => {
  const pool = `${RUN}-pool`;
  // The same path on each host, a different directory (localDir is private to the second host).
  const path = `${h.localDir}/${RUN}`;
  const pool1 = await created(p.StoragePool, { name: pool, type: "dir", target: { path }, uri: TEST_URI });
  const vol1 = await created(p.Volume, { pool, name: "vol.qcow2", capacity: "1MiB", uri: TEST_URI });
  const seed1 = await created(p.CloudInitDisk, { pool, name: "seed", userData: "#cloud-config\n", uri: TEST_URI });
  const net1 = await created(p.Network, { name: `${RUN}-net`, mode: "bridge", bridge: { name: BRIDGE }, uri: TEST_URI });
  defineOff((f) => virsh("define", f), `${RUN}-off`, `${DIR}/off-here.qcow2`);
  defineOff((f) => h.virsh("define", f), `${RUN}-off`, `${DIR}/off-there.qcow2`);
  const snap1 = await created(p.DomainSnapshot, { domain: `${RUN}-off`, name: "s", uri: TEST_URI });

  const pool2 = await onOtherHost(p.StoragePool, pool1);
  const vol2 = await onOtherHost(p.Volume, vol1);
  const seed2 = await onOtherHost(p.CloudInitDisk, seed1);
  const net2 = await onOtherHost(p.Network, net1);
  const snap2 = await onOtherHost(p.DomainSnapshot, snap1);
  // Both hosts hold each object until the old one is deleted.
  expect(await there("vol-list", pool)).toEqual([seed2.outs.volumeName, "vol.qcow2"].sort());
  expect(here("vol-list", pool)).toEqual([seed1.outs.volumeName, "vol.qcow2"].sort());
  expect(await there("snapshot-list", `${RUN}-off`, "--name")).toEqual(["s"]);
  expect(await h.virsh("net-info", `${RUN}-net`)).toMatch(/Active:\s+yes/);
  expect(pool2.outs.uuid).toBe((await h.virsh("pool-uuid", pool)).trim());

  await p.DomainSnapshot.delete(snap1.id, snap1.outs);
  await p.Network.delete(net1.id, net1.outs);
  await p.CloudInitDisk.delete(seed1.id, seed1.outs);
  await p.Volume.delete(vol1.id, vol1.outs);
  await p.StoragePool.delete(pool1.id, pool1.outs);
  expect(here("snapshot-list", `${RUN}-off`, "--name")).toEqual([]);
  expect([here("net-list", "--all", "--name"), here("pool-list", "--all", "--name")].flat().filter((n) => n.startsWith(RUN))).toEqual([]);
  // The other host's objects are untouched by the old ones' deletes.
  expect(await there("vol-list", pool)).toEqual([seed2.outs.volumeName, "vol.qcow2"].sort());
  expect(await there("snapshot-list", `${RUN}-off`, "--name")).toEqual(["s"]);
  expect(await h.virsh("net-info", `${RUN}-net`)).toMatch(/Active:\s+yes/);
  expect(await h.virsh("pool-info", pool)).toMatch(/State:\s+running/);

  await p.DomainSnapshot.delete(snap2.id, snap2.outs);
  await p.Network.delete(net2.id, net2.outs);
  await p.CloudInitDisk.delete(seed2.id, seed2.outs);
  await p.Volume.delete(vol2.id, vol2.outs);
  await p.StoragePool.delete(pool2.id, pool2.outs);
  expect((await there("pool-list", "--all", "--name")).filter((n) => n.startsWith(RUN))).toEqual([]);
}, 300_000);
