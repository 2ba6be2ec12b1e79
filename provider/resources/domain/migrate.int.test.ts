/**
 * Domain migration between two libvirt hosts on this machine: the system daemon and a second
 * libvirtd in its own namespaces (test/migration/README.md). The test guest (test/guest) boots
 * from its kernel, prints its uptime every second and renews its DHCP lease every 2 s on its
 * serial log (shared by both hosts), so continuity is judged from the guest's own clock and
 * from the lease, never by connecting to it. Through the revived provider, as the engine calls it.
 * Everything is named after this run and removed in afterAll, on both hosts, whatever failed.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { checked, closeProviderConnections, expectNoDiff, expectUpdate, failureFor, Managed, revive, Revived } from "../../../test/provider";
import { Console, poll } from "../../../test/console";
import { createNetwork } from "../../../test/network";
import { SecondHost, startSecondHost } from "../../../test/migration/host";
import { TEST_URI, uniqueName, virsh, virshQuiet } from "../../../test/util";
import { rowTest } from "../../../test/rows";

const RUN = uniqueName("mig");
const DIR = `/var/lib/libvirt/images/${RUN}`;
const NET = `${RUN}-net`;
let p: Revived;
let h: SecondHost;
let guest = "";
const con = new Console(`${DIR}/console.log`);

const onSystem = (name: string) => virsh("list", "--all", "--name").split("\n").map((s) => s.trim()).includes(name);
const onSecond = async (name: string) => (await h.virsh("list", "--all", "--name")).split("\n").map((s) => s.trim()).includes(name);
const uptimes = (text: string) => [...text.matchAll(/GUEST-UPTIME s=(\d+)/g)].map((m) => Number(m[1]));
/** The newest uptime the guest printed after `from` characters of its log. */
const uptimeAfter = async (from: number) => Number((await con.wait(/GUEST-UPTIME s=(\d+)\n(?![\s\S]*GUEST-UPTIME)/, from, 60_000))[1]);

/** libvirt's record of the last finished migration job on the destination (virsh domjobinfo --completed). */
async function completedJob(name: string): Promise<{ totalMs: number; downtimeMs: number }> {
  const text = await h.virsh("domjobinfo", name, "--completed", "--keep-completed");
  const ms = (label: string) => Number(new RegExp(`${label}:\\s+(\\d+)\\s+ms`).exec(text)?.[1]);
  return { totalMs: ms("Time elapsed"), downtimeMs: ms("Total downtime") };
}

const MIB = 1024 ** 2;
const base = () => ({
  name: `${RUN}-vm`, type: "qemu", machine: "pc", memory: 96 * MIB, vcpus: 1,
  kernel: { path: `${guest}/vmlinuz`, initrd: `${guest}/initrd.img`, cmdline: "console=ttyS0 quiet uptime=1 renew=2 cidata_wait=0" },
  interfaces: [{ network: NET }], console: { type: "file", path: con.path }, waitForIp: true, waitForIpTimeoutSeconds: 180,
});

beforeAll(async () => {
  guest = execFileSync("bash", [`${__dirname}/../../../test/guest/build.sh`], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim().split("\n").pop()!;
  mkdirSync(DIR, { recursive: true, mode: 0o755 });
  createNetwork(NET, `${DIR}/net.xml`, virsh);
  h = await startSecondHost();
  // The guest stays on the system network's segment on either host (both share the net namespace).
  const bridge = /<bridge name='([^']+)'/.exec(virsh("net-dumpxml", NET))![1];
  await h.aliasNetwork(NET, bridge);
  p = await revive("Domain", { "libvirt:uri": TEST_URI });
}, 300_000);

afterAll(async () => {
  virshQuiet("destroy", `${RUN}-vm`);
  virshQuiet("undefine", "--managed-save", `${RUN}-vm`);
  virshQuiet("pool-destroy", `${RUN}-local`);
  await h?.stop();
  virshQuiet("net-destroy", NET);
  rmSync(DIR, { recursive: true, force: true });
  await closeProviderConnections();
}, 120_000);

test("check names the field and the accepted values; without migration a new uri replaces, with it the diff is an update", async () => {
  expect(await failureFor(p, { ...base(), migration: {} }, "migration.mode")).toMatch(/required: live or offline/);
  expect(await failureFor(p, { ...base(), migration: { mode: "fast" } }, "migration.mode")).toMatch(/accepted values: live, offline/);
  expect(await failureFor(p, { ...base(), migration: { mode: "offline", storage: "copy" } }, "migration.storage")).toMatch(/only with mode live/);
  expect(await failureFor(p, { ...base(), migration: { mode: "live", peer: "x" } }, "migration.peer")).toMatch(/accepted are mode, storage, peerUri, bandwidthMiBs/);
  expect(await failureFor(p, { ...base(), migration: { mode: "live", peerUri: "host2" } }, "migration.peerUri")).toMatch(/libvirt URI/);
  const olds = await checked(p, { ...base(), uri: TEST_URI });
  expect(await p.diff("x", olds, await checked(p, { ...base(), uri: h.uri }))).toMatchObject({ changes: true, replaces: ["uri"] });
  expect(await p.diff("x", olds, await checked(p, { ...base(), uri: h.uri, migration: { mode: "live" } }))).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
});

let vm: Managed;

rowTest("live: the guest moves to the other host while it runs: its clock keeps counting, its lease renews there, the old host forgets it", { Domain: ["uri"] }, async () => {
  const inputs = await checked(p, { ...base(), uri: TEST_URI, migration: { mode: "live" } });
  const { id, outs } = await p.create(inputs);
  vm = { id, inputs, outs };
  await expectNoDiff(p, vm);
  await con.wait(/GUEST-LEASE .*event=bound/);
  // The second host's network is an alias of the system one (a bridge, no DHCP server of its
  // own), so it has no leases to wait for: the lease is checked on the system network below.
  await expectUpdate(p, vm, { waitForIp: false });
  const before = await uptimeAfter(con.mark());
  const mark = con.mark();
  const t0 = Date.now();
  // As the host sees it: when each of the guest's once-a-second lines reaches the console file.
  const arrivals: number[] = [];
  let seenTicks = uptimes(con.text().slice(mark)).length;
  const watch = setInterval(() => {
    const n = uptimes(con.text().slice(mark)).length;
    if (n > seenTicks) arrivals.push(Date.now());
    seenTicks = n;
  }, 20);
  await expectUpdate(p, vm, { uri: h.uri });
  const wallMs = Date.now() - t0;
  await uptimeAfter(con.mark());
  await uptimeAfter(con.mark());
  clearInterval(watch);
  const consoleGapMs = Math.max(...arrivals.slice(1).map((t, i) => t - arrivals[i]));

  expect(onSystem(`${RUN}-vm`)).toBe(false);
  expect(await onSecond(`${RUN}-vm`)).toBe(true);
  expect((await h.virsh("domstate", `${RUN}-vm`)).trim()).toBe("running");
  expect((await h.virsh("dominfo", `${RUN}-vm`))).toMatch(/Persistent:\s+yes/);
  expect((await h.virsh("domuuid", `${RUN}-vm`)).trim()).toBe(id);
  expect(vm.outs).toMatchObject({ uri: h.uri, uuid: id, status: "running" });
  // The same boot: uptime goes on from where it was (a new boot would start again near 0).
  const after = await uptimeAfter(con.mark());
  expect(after).toBeGreaterThan(before);
  expect(con.text().slice(mark)).not.toMatch(/GUEST-BOOT/);
  // The lease is renewed from the destination, with the same MAC.
  await con.wait(/GUEST-LEASE .*event=renew/, con.mark(), 30_000);
  const mac = vm.outs.macs[0];
  expect(virsh("net-dhcp-leases", NET).toLowerCase()).toContain(mac);
  // The largest gap between the guest's once-a-second lines across the move.
  const ticks = uptimes(con.text().slice(mark));
  const gap = Math.max(...ticks.slice(1).map((u, i) => u - ticks[i]));
  const job = await completedJob(`${RUN}-vm`);
  console.log(`live migration: update ${wallMs} ms; libvirt job ${job.totalMs} ms, downtime ${job.downtimeMs} ms; ` +
    `largest gap between the guest's console ticks as the host saw them ${consoleGapMs} ms (1000 without a migration); largest step in the guest's uptime ${gap} s`);
  expect(job.downtimeMs).toBeLessThan(5000);
  expect(gap).toBeLessThanOrEqual(3);
  expect(consoleGapMs).toBeLessThan(6000);
}, 300_000);

test("live back, peer-to-peer through peerUri (the destination as the source daemon reaches it)", async () => {
  const before = await uptimeAfter(con.mark());
  await expectUpdate(p, vm, { uri: TEST_URI, migration: { mode: "live", peerUri: h.backUri } });
  expect(onSystem(`${RUN}-vm`)).toBe(true);
  expect(await onSecond(`${RUN}-vm`)).toBe(false);
  expect(virsh("domstate", `${RUN}-vm`).trim()).toBe("running");
  expect(await uptimeAfter(con.mark())).toBeGreaterThan(before);
}, 300_000);

test("past timeoutSeconds the migration is aborted and the guest keeps running where it was", async () => {
  const inputs = await checked(p, { ...vm.inputs, uri: h.uri, timeoutSeconds: 2, migration: { mode: "live", bandwidthMiBs: 1 } }, vm.inputs);
  const e = await p.update(vm.id, vm.outs, inputs).then(() => undefined, (x: Error) => x);
  expect(e?.message).toMatch(/did not finish within timeoutSeconds \(2 s\) and was aborted; the guest stays on qemu:\/\/\/system/);
  expect(onSystem(`${RUN}-vm`)).toBe(true);
  expect(await onSecond(`${RUN}-vm`)).toBe(false);
  expect(virsh("domstate", `${RUN}-vm`).trim()).toBe("running");
  await expectNoDiff(p, vm); // nothing changed: the recorded state still holds
}, 120_000);

test("a migration whose result was not recorded (pulumi killed meanwhile) converges: the next update finds the guest there", async () => {
  virsh("migrate", "--live", "--p2p", "--persistent", "--undefinesource", `${RUN}-vm`, h.uri);
  await expectUpdate(p, vm, { uri: h.uri, migration: { mode: "live" } });
  expect(await onSecond(`${RUN}-vm`)).toBe(true);
  expect(vm.outs).toMatchObject({ uri: h.uri, status: "running" });
}, 300_000);

test("offline: the guest is shut down, moved and started on the other host (a new boot)", async () => {
  const mark = con.mark();
  await expectUpdate(p, vm, { uri: TEST_URI, migration: { mode: "offline", peerUri: h.backUri } });
  expect(onSystem(`${RUN}-vm`)).toBe(true);
  expect(await onSecond(`${RUN}-vm`)).toBe(false);
  expect(virsh("domstate", `${RUN}-vm`).trim()).toBe("running");
  await con.wait(/GUEST-POWEROFF[\s\S]*GUEST-BOOT/, mark);
}, 300_000);

test("storage copy: a live guest's disk is copied to the other host's own directory (same path, other file) and back", async () => {
  // localDir is a real directory for the system daemon and a private one, at the same path, for
  // the second host (its ${h.dir}/local): non-shared storage. Each side has a pool there, so the
  // destination can create the disk file before libvirt copies into it.
  const disk = `${h.localDir}/data.qcow2`;
  execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", disk, "16M"]);
  execFileSync("qemu-io", ["-f", "qcow2", "-c", "write -P 0xa5 0 1M", disk], { stdio: "ignore" });
  virsh("pool-create-as", `${RUN}-local`, "dir", "--target", h.localDir);
  await h.virsh("pool-create-as", `${RUN}-local`, "dir", "--target", h.localDir);
  let mark = con.mark();
  await expectUpdate(p, vm, { disks: [{ file: disk, format: "qcow2" }] });
  await con.wait(/GUEST-DISK vda \d+/, mark);

  mark = con.mark();
  const before = await uptimeAfter(mark);
  await expectUpdate(p, vm, { uri: h.uri, migration: { mode: "live", storage: "copy" } });
  expect(await onSecond(`${RUN}-vm`)).toBe(true);
  expect(onSystem(`${RUN}-vm`)).toBe(false);
  expect(await uptimeAfter(con.mark())).toBeGreaterThan(before);
  expect(con.text().slice(mark)).not.toMatch(/GUEST-BOOT|GUEST-DISK-GONE/);
  // The second host's own file holds the data; the system's file is still there, untouched.
  const copied = `${h.dir}/local/data.qcow2`;
  expect(execFileSync("qemu-io", ["-U", "-r", "-f", "qcow2", "-c", "read -P 0xa5 0 1M", copied], { encoding: "utf8" })).not.toMatch(/Pattern verification failed/);
  expect(execFileSync("qemu-img", ["info", "-U", disk], { encoding: "utf8" })).toMatch(/file format: qcow2/);

  await expectUpdate(p, vm, { uri: TEST_URI, migration: { mode: "live", storage: "copy", peerUri: h.backUri } });
  expect(onSystem(`${RUN}-vm`)).toBe(true);
  expect(virsh("domstate", `${RUN}-vm`).trim()).toBe("running");
  expect(execFileSync("qemu-io", ["-U", "-r", "-f", "qcow2", "-c", "read -P 0xa5 0 1M", disk], { encoding: "utf8" })).not.toMatch(/Pattern verification failed/);
}, 300_000);

test("a saved guest is not moved (its memory image is a file on the old host); the error says what to do and nothing changes", async () => {
  await expectUpdate(p, vm, { state: "saved" });
  const inputs = await checked(p, { ...vm.inputs, uri: h.uri, migration: { mode: "live" } }, vm.inputs);
  const e = await p.update(vm.id, vm.outs, inputs).then(() => undefined, (x: Error) => x);
  expect(e?.message).toMatch(/it is saved .*set state to running, or shutoff/);
  expect(onSystem(`${RUN}-vm`)).toBe(true);
  expect(await onSecond(`${RUN}-vm`)).toBe(false);
  await poll("the saved state", () => /Managed save:\s+yes/.test(virsh("dominfo", `${RUN}-vm`)) || undefined, 10_000);
}, 300_000);
