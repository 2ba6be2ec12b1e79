/**
 * CloudInitDisk against the real daemon, through the provider revived as the Pulumi host does.
 * The seed's bytes are read back with isoinfo (genisoimage, an independent ISO reader) from the
 * file libvirt reports, volumes are listed with virsh, and the test guest reads the seed at boot
 * and prints its user-data on the serial console. Everything is named after this run and removed
 * in afterAll, whatever failed.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { Console } from "../../test/console";
import { checked, closeProviderConnections, created, expectNoDiff, failureFor, Managed, revive, Revived } from "../../test/provider";
import { rowTest } from "../../test/rows";
import { TEST_URI, uniqueName, virsh, virshQuiet } from "../../test/util";

const RUN = uniqueName("seed");
const DIR = `/var/lib/libvirt/images/${RUN}`;
const POOL = `${RUN}-a`;
const POOL_B = `${RUN}-b`;
const VM = `${RUN}-vm`;
let seeds: Revived;
let domains: Revived;

const volumes = (pool: string) => virsh("vol-list", pool).split("\n").map((l) => l.trim().split(/\s+/)[0]).filter(Boolean).sort();
/** A document of the seed as an independent reader sees it (Rock Ridge names), or undefined. */
function fileOf(path: string, name: string): string | undefined {
  const names = execFileSync("isoinfo", ["-R", "-f", "-i", path], { encoding: "utf8" }).split("\n").map((s) => s.trim());
  if (!names.includes(`/${name}`)) return undefined;
  return execFileSync("isoinfo", ["-R", "-x", `/${name}`, "-i", path], { encoding: "utf8" });
}
const labelOf = (path: string) => /Volume id: (\S+)/.exec(execFileSync("isoinfo", ["-d", "-i", path], { encoding: "utf8" }))![1];

beforeAll(async () => {
  mkdirSync(DIR, { recursive: true });
  for (const pool of [POOL, POOL_B]) virsh("pool-create-as", pool, "dir", "--target", `${DIR}/${pool}`, "--build");
  seeds = await revive("CloudInitDisk", { "libvirt:uri": TEST_URI });
  domains = await revive("Domain", { "libvirt:uri": TEST_URI });
});

afterAll(async () => {
  virshQuiet("destroy", VM);
  virshQuiet("undefine", VM);
  for (const pool of [POOL, POOL_B]) virshQuiet("pool-destroy", pool);
  rmSync(DIR, { recursive: true, force: true });
  await closeProviderConnections();
}, 120_000);

const create = (raw: Record<string, unknown>) => created(seeds, raw);

/** A replacement as the engine runs one here (create before delete): both seeds exist for a moment. */
async function replaced(cur: Managed, patch: Record<string, unknown>, field: string): Promise<Managed> {
  const next = await checked(seeds, { ...cur.inputs, ...patch }, cur.inputs);
  expect([field, await seeds.diff(cur.id, cur.outs, next)]).toEqual([field, { changes: true, replaces: [field], deleteBeforeReplace: false }]);
  const { id, outs } = await seeds.create(next);
  expect([field, volumes(cur.inputs.pool)]).toEqual([field, expect.arrayContaining([cur.outs.volumeName])]);
  expect([field, volumes(next.pool)]).toEqual([field, expect.arrayContaining([outs.volumeName])]);
  await seeds.delete(cur.id, cur.outs);
  expect([field, volumes(cur.inputs.pool).includes(cur.outs.volumeName)]).toEqual([field, false]);
  const m = { id, inputs: next, outs };
  await expectNoDiff(seeds, m);
  return m;
}

test("check names the field and the limit, before libvirt is asked anything", async () => {
  expect(await failureFor(seeds, { name: "s" }, "pool")).toMatch(/required/);
  expect(await failureFor(seeds, { pool: POOL, name: "a/b" }, "name")).toMatch(/letters, digits/);
  expect(await failureFor(seeds, { pool: POOL, name: "s", userData: "x".repeat(1024 * 1024 + 1) }, "userData")).toMatch(/more than the 1 MiB/);
  expect(volumes(POOL)).toEqual([]);
});

rowTest("each document: new content makes a new seed volume beside the old one, holding exactly the new documents; the old one goes when the replacement is done", {
  CloudInitDisk: ["userData", "metaData", "networkConfig", "vendorData"],
}, async () => {
  let seed = await create({ pool: POOL, name: "docs", userData: "#cloud-config\nhostname: one\n" });
  expect(seed.outs).toMatchObject({ volumeName: expect.stringMatching(/^docs-[0-9a-f]{12}\.iso$/), path: virsh("vol-path", "--pool", POOL, seed.outs.volumeName).trim() });
  expect(labelOf(seed.outs.path)).toBe("cidata");
  expect(seed.outs.sha256).toBe(createHash("sha256").update(readFileSync(seed.outs.path)).digest("hex"));
  // meta-data defaults to the name as instance-id and hostname.
  expect(fileOf(seed.outs.path, "meta-data")).toBe("instance-id: docs\nlocal-hostname: docs\n");
  const steps: [string, string, string][] = [
    ["userData", "user-data", "#cloud-config\nhostname: two\n"],
    ["metaData", "meta-data", "instance-id: docs-2\n"],
    ["networkConfig", "network-config", "version: 2\nethernets: {}\n"],
    ["vendorData", "vendor-data", "#cloud-config\npackages: []\n"],
  ];
  for (const [field, file, value] of steps) {
    seed = await replaced(seed, { [field]: value }, field);
    expect([field, fileOf(seed.outs.path, file)]).toEqual([field, value]);
  }
  // Everything set before is still there.
  expect(fileOf(seed.outs.path, "user-data")).toBe("#cloud-config\nhostname: two\n");
  expect(fileOf(seed.outs.path, "meta-data")).toBe("instance-id: docs-2\n");
  await seeds.delete(seed.id, seed.outs);
  expect(volumes(POOL)).toEqual([]);
});

rowTest("a new name or pool makes the seed there before the old one goes", { CloudInitDisk: ["name", "pool"] }, async () => {
  let seed = await create({ pool: POOL, name: "where", userData: "#cloud-config\n" });
  seed = await replaced(seed, { name: "moved" }, "name");
  expect(seed.outs.volumeName).toMatch(/^moved-/);
  seed = await replaced(seed, { pool: POOL_B }, "pool");
  expect([volumes(POOL), volumes(POOL_B)]).toEqual([[], [seed.outs.volumeName]]);
  expect(fileOf(seed.outs.path, "user-data")).toBe("#cloud-config\n");
  await seeds.delete(seed.id, seed.outs);
  expect(volumes(POOL_B)).toEqual([]);
});

rowTest("timeoutSeconds is the provider's own: the volume and its bytes stay as they were", { CloudInitDisk: ["timeoutSeconds"] }, async () => {
  const seed = await create({ pool: POOL, name: "same", userData: "#cloud-config\n" });
  const [xml, bytes] = [virsh("vol-dumpxml", seed.outs.path), readFileSync(seed.outs.path)];
  const next = await checked(seeds, { ...seed.inputs, timeoutSeconds: 30 }, seed.inputs);
  expect(await seeds.diff(seed.id, seed.outs, next)).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
  const { outs } = await seeds.update(seed.id, seed.outs, next);
  expect([virsh("vol-dumpxml", seed.outs.path), readFileSync(seed.outs.path).equals(bytes)]).toEqual([xml, true]);
  await seeds.delete(seed.id, outs);
});

rowTest("a running guest boots from the seed (it prints the user-data); a new seed is swapped into its cdrom live, and then the old seed is deleted", {
  CloudInitDisk: ["userData"], Domain: ["disks"],
}, async () => {
  const guest = execFileSync("bash", [`${__dirname}/../../test/guest/build.sh`], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim().split("\n").pop()!;
  const con = new Console(`${DIR}/vm-console.log`);
  const seed = await create({ pool: POOL, name: "boot", userData: "#cloud-config first\n" });
  const cdrom = (volume: string) => ({ device: "cdrom", volume: { pool: POOL, name: volume } });
  const raw = {
    name: VM, type: "qemu", machine: "pc", memory: "96MiB",
    kernel: { path: `${guest}/vmlinuz`, initrd: `${guest}/initrd.img`, cmdline: "console=ttyS0 quiet" },
    disks: [cdrom(seed.outs.volumeName)], console: { type: "file", path: con.path }, shutdownTimeoutSeconds: 0,
  };
  const inputs = await checked(domains, raw);
  const vm = await domains.create(inputs);
  expect((await con.wait(/GUEST-USERDATA-LINE1 (.*)/))[1]).toBe("#cloud-config first");
  const id = virsh("domid", VM).trim();

  // The engine's order: the new seed, then the domain's update, then the old seed's delete.
  const next = await checked(seeds, { ...seed.inputs, userData: "#cloud-config second\n" }, seed.inputs);
  expect((await seeds.diff(seed.id, seed.outs, next)).replaces).toEqual(["userData"]);
  const made = await seeds.create(next);
  const swapped = await checked(domains, { ...raw, disks: [cdrom(made.outs.volumeName)] }, inputs);
  expect(await domains.diff(vm.id, vm.outs, swapped)).toMatchObject({ changes: true, replaces: [] });
  const updated = await domains.update(vm.id, vm.outs, swapped);
  expect(virsh("domblklist", VM)).toMatch(new RegExp(`hda\\s+${made.outs.volumeName}\\n`));
  // The running QEMU has the new image in its drive, not only the definition.
  const block = virsh("qemu-monitor-command", VM, "--hmp", "info block");
  expect([block.includes(made.outs.path), block.includes(seed.outs.path)]).toEqual([true, false]);
  expect(virsh("domid", VM).trim()).toBe(id);
  expect(updated.outs.pendingRestart ?? []).toEqual([]);
  await seeds.delete(seed.id, seed.outs);
  expect(volumes(POOL)).toEqual([made.outs.volumeName]);
  await domains.delete(vm.id, updated.outs);
  await seeds.delete(made.id, made.outs);
  expect(volumes(POOL)).toEqual([]);
}, 240_000);
