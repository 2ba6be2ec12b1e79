/**
 * DomainSnapshot against the real daemon, with the test guest (test/guest/README.md) booted
 * from its kernel on a qcow2 disk and printing its uptime on a serial log: every outcome is
 * checked with virsh (snapshot-list, -parent, -current, -dumpxml) or the guest's own clock.
 * Everything is named after this run and removed in afterAll, whatever failed.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { checked, closeProviderConnections, created, expectUpdate, failureFor, Managed, revive, Revived } from "../../test/provider";
import { rowTest } from "../../test/rows";
import { TEST_URI, uniqueName, virsh, virshQuiet, waitFor } from "../../test/util";

const RUN = uniqueName("snap");
const DIR = `/var/lib/libvirt/images/${RUN}`;
const VM = `${RUN}-vm`;
const OFF = `${RUN}-off`;
const RAW = `${RUN}-raw`;
const OFF2 = `${RUN}-off2`;
const CONSOLE = `${DIR}/vm-console.log`;
let p: Revived;
let guest = "";

const console_ = () => { try { return readFileSync(CONSOLE, "utf8").replace(/\r/g, ""); } catch { return ""; } };
/** The guest's uptime from the first GUEST-UPTIME line printed after `from` characters of its log. */
async function uptimeAfter(from: number): Promise<number> {
  let m: RegExpMatchArray | null = null;
  await waitFor(() => !!(m = console_().slice(from).match(/GUEST-UPTIME s=(\d+)/)), "the guest's uptime line", 120_000);
  return Number(m![1]);
}
const uptimes = (text: string) => [...text.matchAll(/GUEST-UPTIME s=(\d+)/g)].map((m) => Number(m[1]));
const snapshots = (dom: string) => virsh("snapshot-list", dom, "--name").split("\n").map((s) => s.trim()).filter(Boolean).sort();
const parentOf = (dom: string, snap: string) => virsh("snapshot-parent", dom, snap).trim();
const currentOf = (dom: string) => virsh("snapshot-current", dom, "--name").trim();
const dumpxml = (dom: string, snap: string) => virsh("snapshot-dumpxml", dom, snap);

function defineDomain(name: string, disk: string, format: "qcow2" | "raw", boot: boolean): void {
  execFileSync("qemu-img", ["create", "-q", "-f", format, disk, "16M"]);
  const os = boot
    ? `<type arch='x86_64' machine='pc'>hvm</type><kernel>${guest}/vmlinuz</kernel><initrd>${guest}/initrd.img</initrd><cmdline>console=ttyS0 quiet uptime=1</cmdline>`
    : `<type arch='x86_64' machine='pc'>hvm</type>`;
  const serial = boot ? `<serial type='file'><source path='${CONSOLE}' append='on'/><target port='0'/></serial>` : "";
  const file = `${DIR}/${name}.xml`;
  writeFileSync(file, `<domain type='qemu'><name>${name}</name><memory unit='MiB'>96</memory><vcpu>1</vcpu><os>${os}</os>
    <devices><disk type='file' device='disk'><driver name='qemu' type='${format}'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk>${serial}</devices></domain>`);
  virsh("define", file);
}

const create = (raw: Record<string, unknown>) => created(p, raw);

beforeAll(async () => {
  guest = execFileSync("bash", [`${__dirname}/../../test/guest/build.sh`], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim().split("\n").pop()!;
  mkdirSync(DIR, { recursive: true, mode: 0o755 });
  defineDomain(VM, `${DIR}/vm.qcow2`, "qcow2", true);
  defineDomain(OFF, `${DIR}/off.qcow2`, "qcow2", false);
  defineDomain(RAW, `${DIR}/raw.img`, "raw", false);
  defineDomain(OFF2, `${DIR}/off2.qcow2`, "qcow2", false);
  virsh("start", VM);
  await uptimeAfter(0);
  p = await revive("DomainSnapshot", { "libvirt:uri": TEST_URI });
}, 300_000);

afterAll(async () => {
  for (const name of [VM, OFF, RAW, OFF2]) {
    virshQuiet("destroy", name);
    virshQuiet("undefine", name, "--snapshots-metadata");
  }
  rmSync(DIR, { recursive: true, force: true });
  await closeProviderConnections();
}, 120_000);

test("check names the field and the accepted values, before libvirt is asked anything", async () => {
  expect(await failureFor(p, { name: "s" }, "domain")).toMatch(/required/);
  expect(await failureFor(p, { domain: VM, name: "../x" }, "name")).toMatch(/letters, digits/);
  expect(await failureFor(p, { domain: VM, name: "s", memory: "yes" }, "memory")).toMatch(/true or false/);
  expect(await failureFor(p, { domain: VM, name: "s", revertTrigger: { at: 1 } }, "revertTrigger")).toMatch(/string or a number/);
  expect(await failureFor(p, { domain: VM, name: "s", location: "external" }, "location")).toMatch(/accepted are .*deleteChildren/);
  expect(snapshots(VM)).toEqual([]);
});

let s1: Managed;
let s2: Managed;
let uptimeAtS1 = 0;

test("a snapshot of the running guest holds its memory; outputs agree with virsh; no diff after create or refresh", async () => {
  uptimeAtS1 = await uptimeAfter(console_().length);
  const uuid = virsh("domuuid", VM).trim();
  s1 = await create({ domain: uuid, name: "s1", description: "before the change" });
  expect(s1.id).toBe(`${uuid}/s1`);
  expect(snapshots(VM)).toEqual(["s1"]);
  const xml = dumpxml(VM, "s1");
  expect(xml).toContain("<state>running</state>");
  expect(xml).toMatch(/<memory snapshot='internal'\/>/);
  expect(xml).toContain("<description>before the change</description>");
  const created = Number(/<creationTime>(\d+)<\/creationTime>/.exec(xml)![1]);
  expect(s1.outs).toMatchObject({ domain: uuid, name: "s1", memory: true, state: "running", domainUuid: uuid, current: true, creationTime: new Date(created * 1000).toISOString() });
  expect(s1.outs.parent).toBeUndefined();
}, 180_000);

test("a second snapshot has the first as its parent and becomes current", async () => {
  s2 = await create({ domain: VM, name: "s2" });
  expect(parentOf(VM, "s2")).toBe("s1");
  expect(currentOf(VM)).toBe("s2");
  expect(s2.outs).toMatchObject({ parent: "s1", current: true, memory: true });
  expect((await p.read(s1.id, s1.outs)).props.current).toBe(false);
}, 180_000);

rowTest("a new description is redefined in place: same creation time, s2 still current", { DomainSnapshot: ["description"] }, async () => {
  const before = /<creationTime>\d+<\/creationTime>/.exec(dumpxml(VM, "s1"))![0];
  await expectUpdate(p, s1, { description: "a <new> & better text" });
  const xml = dumpxml(VM, "s1");
  expect(xml).toContain("<description>a &lt;new&gt; &amp; better text</description>");
  expect(xml).toContain(before);
  expect(currentOf(VM)).toBe("s2");
  await expectUpdate(p, s1, { description: undefined });
  expect(dumpxml(VM, "s1")).not.toContain("<description>");
}, 120_000);

rowTest("a new revertTrigger reverts the running guest: its clock goes back to the snapshot's, the domain runs on, same uuid", { DomainSnapshot: ["revertTrigger"] }, async () => {
  await waitFor(async () => (await uptimeAfter(console_().length)) >= uptimeAtS1 + 20, "the guest to run on past the snapshot", 120_000);
  const uuidBefore = virsh("domuuid", VM).trim();
  const mark = console_().length;
  const before = Math.max(...uptimes(console_()));
  await expectUpdate(p, s1, { revertTrigger: 1 });
  // The serial log (append='on') may still receive lines written before the revert; a guest's clock
  // only goes back when its memory is s1's again. (Under TCG its seconds run faster than the
  // host's on a busy machine, so there is no bound in host seconds.)
  let rewound: number | undefined;
  await waitFor(() => (rewound = uptimes(console_().slice(mark)).find((u) => u < before)) !== undefined, `the guest's uptime to go back below ${before}`, 120_000);
  expect(rewound).toBeGreaterThanOrEqual(uptimeAtS1);
  expect(virsh("domstate", VM).trim()).toBe("running");
  // libvirt 9.0 loads the snapshot into a new QEMU process: the domain id changes, the uuid stays.
  expect(virsh("domuuid", VM).trim()).toBe(uuidBefore);
  expect(currentOf(VM)).toBe("s1");
  expect(s1.outs.current).toBe(true);
  // The same trigger again is no change, so no second revert.
  expect(await p.diff(s1.id, s1.outs, s1.inputs)).toEqual({ changes: false });
}, 240_000);

test("deleting a snapshot keeps its child (libvirt reparents it); deleting behind Pulumi's back reads as gone", async () => {
  await p.delete(s1.id, s1.outs);
  expect(snapshots(VM)).toEqual(["s2"]);
  expect(virsh("snapshot-info", VM, "s2")).toMatch(/Parent:\s+-/);
  const r = await p.read(s2.id, s2.outs);
  expect(r.props.parent).toBeUndefined();
  virsh("snapshot-delete", VM, "s2");
  expect(await p.read(s2.id, s2.outs)).toEqual({});
  // Deleting what is already gone succeeds, so a destroy after the drift converges.
  await p.delete(s2.id, s2.outs);
}, 180_000);

rowTest("deleteChildren and timeoutSeconds change nothing in libvirt; deleteChildren then deletes the snapshots taken after it too", { DomainSnapshot: ["deleteChildren", "timeoutSeconds"] }, async () => {
  const a = await create({ domain: VM, name: "a" });
  const before = dumpxml(VM, "a");
  await expectUpdate(p, a, { deleteChildren: true, timeoutSeconds: 200 });
  expect(dumpxml(VM, "a")).toBe(before);
  await create({ domain: VM, name: "b" });
  expect(snapshots(VM)).toEqual(["a", "b"]);
  await p.delete(a.id, a.outs);
  expect(snapshots(VM)).toEqual([]);
}, 240_000);

rowTest("replacements: a new name or domain makes the new snapshot before the old one goes; memory: true on a shut-off domain is refused, naming memory", { DomainSnapshot: ["name", "domain", "memory"] }, async () => {
  let cur = await create({ domain: OFF, name: "n1" });
  const replace = async (patch: Record<string, unknown>, field: string) => {
    const next = await checked(p, { ...cur.inputs, ...patch }, cur.inputs);
    expect(await p.diff(cur.id, cur.outs, next)).toEqual({ changes: true, replaces: [field], deleteBeforeReplace: false });
    const made = await p.create(next);
    await p.delete(cur.id, cur.outs);
    cur = { id: made.id, inputs: next, outs: made.outs };
  };
  await replace({ name: "n2" }, "name");
  expect(snapshots(OFF)).toEqual(["n2"]);
  await replace({ domain: OFF2 }, "domain");
  expect([snapshots(OFF), snapshots(OFF2), cur.id]).toEqual([[], ["n2"], `${virsh("domuuid", OFF2).trim()}/n2`]);
  const next = await checked(p, { ...cur.inputs, name: "n3", memory: true }, cur.inputs);
  expect((await p.diff(cur.id, cur.outs, next)).replaces).toEqual(["name", "memory"]);
  await expect(p.create(next)).rejects.toThrow(/memory: true needs the domain running/);
  expect(snapshots(OFF2)).toEqual(["n2"]);
  await p.delete(cur.id, cur.outs);
  expect(snapshots(OFF2)).toEqual([]);
}, 180_000);

test("import: a snapshot virsh made, read by '<domain name>/<snapshot>', previews empty", async () => {
  virsh("snapshot-create-as", VM, "made-by-virsh", "--description", "from virsh");
  const r = await p.read(`${VM}/made-by-virsh`);
  expect(r.inputs).toEqual({ domain: VM, name: "made-by-virsh", description: "from virsh", memory: true, deleteChildren: false });
  const inputs = await checked(p, r.inputs);
  expect(await p.diff(r.id!, r.props, inputs)).toEqual({ changes: false });
  await p.delete(r.id!, r.props);
  expect(snapshots(VM)).toEqual([]);
}, 180_000);

test("a shut-off domain's snapshot has no memory; asking for memory there, or for a raw disk, fails clearly and makes nothing", async () => {
  const off = await create({ domain: OFF, name: "cold" });
  expect(off.outs).toMatchObject({ state: "shutoff", memory: false });
  expect(dumpxml(OFF, "cold")).toMatch(/<memory snapshot='no'\/>/);
  await expect(p.create(await checked(p, { domain: OFF, name: "warm", memory: true }))).rejects.toThrow(/memory: true needs the domain running/);
  await expect(p.create(await checked(p, { domain: VM, name: "nomem", memory: false }))).rejects.toThrow(/memory: false needs the domain shut off/);
  await expect(p.create(await checked(p, { domain: RAW, name: "r" }))).rejects.toThrow(/qcow2/);
  await expect(p.create(await checked(p, { domain: `${RUN}-absent`, name: "x" }))).rejects.toThrow(/does not exist/);
  expect(snapshots(OFF)).toEqual(["cold"]);
  expect(snapshots(VM)).toEqual([]);
  expect(snapshots(RAW)).toEqual([]);
  await p.delete(off.id, off.outs);
  expect(snapshots(OFF)).toEqual([]);
}, 180_000);
