/**
 * Domain against the real daemon, with the test guest (test/guest/README.md): a stock kernel
 * booted directly, whose /init reports DHCP leases, disks, NICs and the cloud-init ISO on the
 * serial console. Every domain uses type "qemu" (CI machines may have no KVM), machine "pc" and
 * an isolated network with STP off on a random subnet. Everything is named after this run and
 * removed in afterAll, whatever failed.
 *
 * One booted guest (g1) carries the live checks one after another; the field-table matrix runs
 * on a second domain (r) that only runs SeaBIOS, so its restarts are cheap.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { buildIso } from "../cloudinit/iso9660";
import { projectOnto } from "../core/resource";
import { DomainDef, domainFromXml } from "../xml/domain";
import { domainFields } from "./domain";
import { checked, closeProviderConnections, revive, Revived } from "../../test/provider";
import { TEST_URI, uniqueName, virsh } from "../../test/util";
import { Console, poll } from "../../test/console";
import { rowTest } from "../../test/rows";
import { createNetwork } from "../../test/network";

const RUN = uniqueName("dom");
const DIR = `/var/lib/libvirt/images/${RUN}`;
const NET = `${RUN}-net`;
const NVRAM_DIR = "/var/lib/libvirt/qemu/nvram";
const MiB = 1024 ** 2;
let GUEST = "";
let p: Revived;
const domains = new Set<string>();
let netCreated = false;

// ---- helpers ---------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** virsh, riding out a daemon restart (other suites restart libvirtd). */
function vsh(...args: string[]): string {
  for (let attempt = 0; ; attempt++) {
    try {
      return virsh(...args);
    } catch (e: any) {
      const msg = String(e.stderr || e.message);
      if (attempt < 30 && /failed to connect|End of file|Cannot recv|Broken pipe|connection (reset|closed)/i.test(msg)) {
        sleepSync(1000);
        continue;
      }
      throw new Error(`virsh ${args.join(" ")}: ${msg.trim()}`);
    }
  }
}

const liveXml = (name: string) => vsh("dumpxml", "--security-info", name);
const inactiveXml = (name: string) => vsh("dumpxml", "--inactive", "--security-info", name);
const liveDef = async (name: string): Promise<DomainDef> => (await domainFromXml(liveXml(name))).def;
const inactiveDef = async (name: string): Promise<DomainDef> => (await domainFromXml(inactiveXml(name))).def;
/** "running (booted)", "shut off (shutdown)", "paused (user)"... */
const domState = (name: string) => vsh("domstate", "--reason", name).trim();
/** The running QEMU's pid and libvirt's domain id: both change when the guest restarts. */
function qemuPid(name: string): string {
  const file = `/run/libvirt/qemu/${name}.pid`;
  for (let i = 0; i < 20; i++) {
    // A daemon restart by another suite may rewrite the file under us: read until it has a pid.
    const pid = existsSync(file) ? readFileSync(file, "utf8").trim() : "";
    if (pid) return `${vsh("domid", name).trim()}/${pid}`;
    sleepSync(250);
  }
  return `${vsh("domid", name).trim()}/-`;
}
const exists = (name: string) => vsh("list", "--all", "--name").split("\n").map((s) => s.trim()).includes(name);

function leases(): { mac: string; ip: string }[] {
  return vsh("net-dhcp-leases", NET).split("\n")
    .map((l) => /([0-9a-f]{2}(?::[0-9a-f]{2}){5})\s+ipv4\s+([\d.]+)\//i.exec(l))
    .filter((m): m is RegExpExecArray => !!m)
    .map((m) => ({ mac: m[1].toLowerCase(), ip: m[2] }));
}

/** A domain driven through the revived provider as the engine would: check, diff, update. */
interface Managed { name: string; id: string; raw: Record<string, any>; inputs: any; outs: any }

function withoutUndefined(o: Record<string, any>): Record<string, any> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** The inputs whose recorded value differs from the desired one, for a readable failure. */
function differing(props: any, inputs: any): Record<string, unknown> {
  const keys = Object.keys(domainFields).filter((k) => JSON.stringify(props[k]) !== JSON.stringify(inputs[k]));
  return Object.fromEntries(keys.map((k) => [k, { recorded: props[k], desired: inputs[k] }]));
}

/** No diff right after a change, and none after a refresh. */
async function noDiff(m: Managed): Promise<any> {
  const d = await p.diff(m.id, m.outs, m.inputs);
  expect(d.changes ? { changes: true, after: "create/update", fields: differing(m.outs, m.inputs) } : d).toEqual({ changes: false });
  const r = await p.read(m.id, m.outs);
  expect(r.id).toBe(m.id);
  const d2 = await p.diff(m.id, r.props, m.inputs);
  expect(d2.changes ? { changes: true, after: "read", fields: differing(r.props, m.inputs) } : d2).toEqual({ changes: false });
  return r;
}

async function create(raw: Record<string, any>): Promise<Managed> {
  domains.add(raw.name);
  const inputs = await checked(p, raw);
  const { id, outs } = await p.create(inputs);
  const m = { name: raw.name, id, raw, inputs, outs };
  await noDiff(m);
  return m;
}

/** Apply a change as `pulumi up` does; the update must leave no diff behind. */
async function change(m: Managed, patch: Record<string, any>): Promise<{ changes?: boolean; replaces?: string[] }> {
  const raw = withoutUndefined({ ...m.raw, ...patch });
  const inputs = await checked(p, raw, m.inputs);
  const d = await p.diff(m.id, m.outs, inputs);
  expect(d.changes).toBe(true);
  const { outs } = await p.update(m.id, m.outs, inputs);
  Object.assign(m, { raw, inputs, outs });
  await noDiff(m);
  return d;
}

function cidataIso(path: string, instanceId: string, hostname: string): void {
  writeFileSync(path, buildIso([
    { name: "meta-data", data: Buffer.from(`instance-id: ${instanceId}\nlocal-hostname: ${hostname}\n`) },
    { name: "user-data", data: Buffer.from("#cloud-config\n") },
  ], { volumeId: "cidata" }));
}

function qemuImg(path: string, format: "raw" | "qcow2", size: string): void {
  execFileSync("qemu-img", ["create", "-q", "-f", format, path, size]);
}

beforeAll(async () => {
  // PULUMI_LIBVIRT_TEST_GUEST_DIR: a guest built elsewhere (e.g. with more kernel modules).
  GUEST = process.env.PULUMI_LIBVIRT_TEST_GUEST_DIR
    ?? execFileSync("bash", [`${__dirname}/../../test/guest/build.sh`], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim().split("\n").pop()!;
  mkdirSync(`${DIR}/share`, { recursive: true, mode: 0o755 });
  createNetwork(NET, `${DIR}/net.xml`, vsh);
  netCreated = true;
  p = await revive("Domain", { "libvirt:uri": TEST_URI });
}, 300_000);

afterAll(async () => {
  /** Cleanup that rides out a daemon restart, and ignores what is already gone. */
  const quiet = (...args: string[]) => {
    try {
      vsh(...args);
    } catch {
      // already gone
    }
  };
  for (const name of domains) {
    quiet("destroy", name);
    quiet("undefine", name, "--nvram");
    quiet("undefine", name);
  }
  if (netCreated) quiet("net-destroy", NET);
  // PULUMI_LIBVIRT_KEEP_LOGS=dir keeps the guests' console logs for a post-mortem.
  const keep = process.env.PULUMI_LIBVIRT_KEEP_LOGS;
  if (keep && existsSync(DIR)) execFileSync("sh", ["-c", `mkdir -p "$1" && cp "$2"/*.log "$1"/ 2>/dev/null || true`, "sh", keep, DIR]);
  rmSync(DIR, { recursive: true, force: true });
  // The variable stores libvirt made for efi rows that later went back to bios (no longer in the
  // definition, so undefine leaves them).
  for (const f of (existsSync(NVRAM_DIR) ? readdirSync(NVRAM_DIR) : []).filter((n) => n.startsWith(`${RUN}-`))) rmSync(`${NVRAM_DIR}/${f}`, { force: true });
  await closeProviderConnections();
}, 120_000);

// ---- g1: the booted guest ------------------------------------------------------------------

let g1: Managed;
let g1Console: Console;
const G1 = `${RUN}-g1`;

test("a created domain boots, gets a DHCP lease that shows in its outputs, and reads our cloud-init ISO", async () => {
  cidataIso(`${DIR}/g1-cidata.iso`, `${RUN}-g1-instance`, "g1");
  qemuImg(`${DIR}/g1-root.raw`, "raw", "16M");
  g1Console = new Console(`${DIR}/g1-console.log`);
  g1 = await create({
    name: G1, type: "qemu", machine: "pc", memory: "128MiB", maxMemory: "256MiB", vcpus: 1, maxVcpus: 2,
    kernel: { path: `${GUEST}/vmlinuz`, initrd: `${GUEST}/initrd.img`, cmdline: "console=ttyS0 quiet uptime=2" },
    disks: [{ file: `${DIR}/g1-root.raw`, format: "raw" }, { device: "cdrom", file: `${DIR}/g1-cidata.iso` }],
    interfaces: [{ network: NET }],
    console: { type: "file", path: g1Console.path },
    waitForIp: true, waitForIpTimeoutSeconds: 240, shutdownTimeoutSeconds: 90,
  });
  const mac = g1.inputs.interfaces[0].mac;
  expect(g1.outs.macs).toEqual([mac]);
  expect(g1.outs.status).toBe("running");
  expect(g1.outs.domainId).toBeGreaterThan(0);
  expect(g1.outs.ipAddress).toMatch(/^10\.\d+\.\d+\.\d+$/);
  expect(g1.outs.interfaceAddresses).toEqual([{ mac, addresses: [g1.outs.ipAddress] }]);
  // The same lease as libvirt's own client sees it.
  expect(leases()).toContainEqual({ mac, ip: g1.outs.ipAddress });
  // The guest saw the ISO and printed its meta-data.
  const cidata = await g1Console.wait(/GUEST-CIDATA-BEGIN\n([\s\S]*?)GUEST-CIDATA-END/);
  expect(cidata[1]).toContain(`instance-id: ${RUN}-g1-instance`);
  expect(cidata[1]).toContain("local-hostname: g1");
  await g1Console.wait(new RegExp(`GUEST-LEASE iface=eth0 ip=${g1.outs.ipAddress.replace(/\./g, "\\.")} .*mac=${mac}`));
}, 300_000);

test("a rich domain (many optional fields) shows no diff after create and after read", async () => {
  qemuImg(`${DIR}/rich.qcow2`, "qcow2", "32M");
  cidataIso(`${DIR}/rich-cidata.iso`, `${RUN}-rich`, "rich");
  const rich = await create({
    name: `${RUN}-rich`, type: "qemu", machine: "pc", description: "  a rich domain\nwith two lines <&> ",
    // Sizes that are no whole KiB: libvirt keeps KiB, the program keeps its numbers, no diff.
    memory: 100_000_000, maxMemory: 160 * MiB, vcpus: 2, cpu: { topology: { sockets: 1, cores: 2, threads: 1 } },
    cputune: { shares: 512 }, memtune: { softLimit: "500MB" },
    rng: true, video: { model: "virtio" }, graphics: { type: "vnc", listen: "127.0.0.1", password: "s3cret" },
    console: { type: "pty" }, guestAgent: true, autostart: true,
    kernel: { path: `${GUEST}/vmlinuz`, initrd: `${GUEST}/initrd.img`, cmdline: "console=ttyS0 quiet" },
    disks: [{ file: `${DIR}/rich.qcow2`, format: "qcow2", cache: "writeback", discard: "unmap", serial: "rich-1" }, { device: "cdrom", file: `${DIR}/rich-cidata.iso` }],
    interfaces: [{ network: NET, model: "e1000" }],
    shutdownTimeoutSeconds: 0,
  });
  expect(rich.outs.graphicsPort).toBeGreaterThanOrEqual(5900);
  expect(rich.outs.consolePath).toMatch(/^\/dev\/pts\//);
  const live = await liveDef(rich.name);
  expect(live.graphics?.password).toBe("s3cret");
  expect(live.cpu?.topology).toEqual({ sockets: 1, cores: 2, threads: 1 });
  // Still no diff once the guest is up and libvirt has filled in its runtime details.
  await sleep(3000);
  await noDiff(rich);
  await p.delete(rich.id, rich.outs);
  expect(exists(rich.name)).toBe(false);
  expect(existsSync(`${DIR}/rich.qcow2`)).toBe(true);
}, 300_000);

// ---- the field table, row by row, on r ------------------------------------------------------

let r: Managed;
const R = `${RUN}-r`;
const R_BASE = {
  name: R, type: "qemu", memory: "64MiB", maxMemory: "128MiB", vcpus: 1, maxVcpus: 2, arch: "x86_64", machine: "pc",
  cpu: { mode: "custom", model: "qemu64" }, boot: ["hd"], video: { model: "vga" }, console: { type: "pty" },
  securityLabel: { type: "dynamic" }, description: "matrix", shutdownTimeoutSeconds: 0,
};

/** A changed value for every row of the field table (several rows where one needs another). */
function alternatives(): Record<string, Record<string, any>> {
  const kernel = { path: `${GUEST}/vmlinuz`, initrd: `${GUEST}/initrd.img`, cmdline: "console=ttyS0 quiet cidata_wait=0" };
  return {
    name: { name: `${R}-renamed` },
    type: { type: "kvm" },
    description: { description: "changed" },
    memory: { memory: "96MiB" },
    maxMemory: { maxMemory: "192MiB" },
    vcpus: { vcpus: 2 },
    maxVcpus: { maxVcpus: 3 },
    cpu: { cpu: { mode: "custom", model: "kvm64" } },
    arch: { arch: "i686" },
    machine: { machine: "pc-i440fx-7.1" },
    firmware: { firmware: "efi" },
    secureBoot: { firmware: "efi", machine: "q35", secureBoot: true },
    nvram: { firmware: "efi", nvram: `${DIR}/r_VARS.fd` },
    boot: { boot: ["network", "hd"] },
    kernel: { kernel, boot: undefined },
    disks: { disks: [{ file: `${DIR}/r-data.qcow2`, format: "qcow2" }] },
    interfaces: { interfaces: [{ network: NET }] },
    graphics: { graphics: { type: "vnc", password: "pw" } },
    console: { console: { type: "file", path: `${DIR}/r-console.log` } },
    guestAgent: { guestAgent: true },
    video: { video: { model: "cirrus" } },
    rng: { rng: true },
    tpm: { tpm: { model: "tpm-crb", version: "2.0" } },
    filesystems: { filesystems: [{ driver: "9p", source: `${DIR}/share`, target: "share", readonly: true }] },
    cputune: { cputune: { shares: 1024, period: 100000, quota: 50000, vcpupin: [{ vcpu: 0, cpuset: "0" }] } },
    memtune: { memtune: { softLimit: "100MiB" } },
    blkioWeight: { blkioWeight: 300 },
    numatune: { numatune: { mode: "strict", nodeset: "0" } },
    hugepages: { hugepages: true },
    noSharePages: { noSharePages: true },
    // (dynamic, the base value, is stored as type none where the host has no SELinux/AppArmor)
    securityLabel: { securityLabel: { type: "static", model: "dac", label: "+64055:+64055", relabel: false } },
    xmlOverride: { xmlOverride: "<domain><on_crash>restart</on_crash></domain>" },
    autostart: { autostart: true },
    state: { state: "paused" },
    allowRestart: { allowRestart: true },
    shutdownTimeoutSeconds: { shutdownTimeoutSeconds: 5 },
    waitForIp: { waitForIp: true },
    waitForIpTimeoutSeconds: { waitForIpTimeoutSeconds: 60 },
    migration: { migration: { mode: "offline" } },
    uri: { uri: "qemu:///system?socket=/run/libvirt/libvirt-sock" },
    timeoutSeconds: { timeoutSeconds: 100 },
  };
}

test("every field-table row: diff replaces for name, type and uri only, and updates in place otherwise", async () => {
  qemuImg(`${DIR}/r-data.qcow2`, "qcow2", "16M");
  r = await create({ ...R_BASE });
  const alt = alternatives();
  expect(Object.keys(alt).sort()).toEqual(Object.keys(domainFields).sort());
  for (const [field, patch] of Object.entries(alt)) {
    const news = await checked(p, withoutUndefined({ ...r.raw, ...patch }), r.inputs);
    const d = await p.diff(r.id, r.outs, news);
    // Written out, not read from the table diff uses: a new name, type or host (without migration) replaces.
    const replaces = Object.keys(patch).filter((k) => ["name", "type", "uri"].includes(k));
    expect([field, d.changes, d.replaces]).toEqual([field, true, replaces]);
    // A new type keeps the name, so the old VM must go first; a new name or host lets both exist.
    if (field === "type") expect(d.deleteBeforeReplace).toBe(true);
    if (field === "name" || field === "uri") expect(d.deleteBeforeReplace).toBe(false);
  }
}, 120_000);

rowTest("provider-only rows (effect none) update without touching libvirt", { Domain: "none" }, async () => {
  const alt = alternatives();
  const before = inactiveXml(R);
  const id = vsh("domid", R).trim();
  for (const field of Object.keys(domainFields).filter((k) => (domainFields as any)[k].effect === "none")) {
    const d = await change(r, alt[field]);
    expect([field, d.replaces]).toEqual([field, []]);
  }
  expect(inactiveXml(R)).toBe(before);
  expect(vsh("domid", R).trim()).toBe(id);
  await change(r, { allowRestart: undefined, shutdownTimeoutSeconds: 0, waitForIp: undefined, waitForIpTimeoutSeconds: undefined, timeoutSeconds: undefined, migration: undefined });
}, 120_000);

/**
 * What this host offers the host-dependent rows, found independently of the provider's own
 * checks (virsh and /sys). Where a row's fact is missing the provider must refuse it, naming
 * the field, before anything changes; where it is present the row must be applied.
 */
const HOST_FACTS: Record<string, { has: () => boolean; refusal: RegExp }> = {
  firmware: { has: () => /<value>efi<\/value>/.test(vsh("domcapabilities", "--virttype", "qemu", "--machine", "pc")), refusal: /^.*firmware: efi needs UEFI firmware.*ovmf/ },
  tpm: { has: () => !!execFileSync("sh", ["-c", "command -v swtpm || true"], { encoding: "utf8" }).trim(), refusal: /tpm: an emulated TPM needs swtpm/ },
  hugepages: { has: () => /HugePages_Free:\s+[1-9]/.test(readFileSync("/proc/meminfo", "utf8")), refusal: /hugepages: the guest needs \d+ bytes of huge pages/ },
  blkioWeight: {
    has: () => ["blkio/blkio.weight", "blkio/blkio.bfq.weight", "machine/io.weight", "machine/io.bfq.weight", "machine.slice/io.weight", "machine.slice/io.bfq.weight"].some((f) => existsSync(`/sys/fs/cgroup/${f}`)),
    refusal: /blkioWeight: .* has no bfq or cfq I\/O scheduler.*modprobe bfq/,
  },
};
HOST_FACTS.secureBoot = { has: () => /<enum name='secure'>\s*<value>yes/.test(vsh("domcapabilities", "--virttype", "qemu", "--machine", "q35")), refusal: /secureBoot: .*secure-boot UEFI firmware|firmware: efi needs/ };
HOST_FACTS.nvram = HOST_FACTS.firmware;

/**
 * A memtune hard limit also caps the guest's locked memory, which libvirtd may set only with
 * CAP_SYS_RESOURCE (bit 24 of its effective capabilities; containers often drop it). libvirt
 * cannot report that before a start, so where it is missing the restart's start fails: the
 * provider must then start the guest again on its previous definition and name the field.
 */
const RESTART_FACTS: Record<string, { has: () => boolean; refusal: RegExp }> = {
  "memtune.hardLimit": {
    has: () => {
      const pid = execFileSync("pidof", ["libvirtd"], { encoding: "utf8" }).trim().split(/\s+/)[0];
      const capEff = /^CapEff:\s+([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1];
      return (BigInt(`0x${capEff}`) >> 24n) & 1n ? true : false;
    },
    refusal: /memtune\.hardLimit: libvirt could not cap the guest's locked memory.*CAP_SYS_RESOURCE.*started again with its previous definition/,
  },
};

/** How far a row can be taken on this host: refused before anything changes, refused at the restart's start, or all the way. */
function support(row: string): "run" | "refused" | "start refused" {
  if (RESTART_FACTS[row]) return RESTART_FACTS[row].has() ? "run" : "start refused";
  const fact = HOST_FACTS[row];
  return !fact || fact.has() ? "run" : "refused";
}

rowTest("restart rows: with allowRestart false only the definition changes; with allowRestart true the guest restarts into it", { Domain: "restart" }, async () => {
  const alt = alternatives();
  const rows = Object.keys(domainFields).filter((k) => (domainFields as any)[k].effect === "restart");
  rows.push("memtune.hardLimit");
  alt["memtune.hardLimit"] = { memtune: { hardLimit: "1GiB" } };
  const base = { ...r.raw };
  const refused: string[] = [];
  for (const row of rows) {
    const field = row.split(".")[0];
    const patch = alt[row];
    if (support(row) === "refused") {
      // The host cannot honour it: a clear refusal, and nothing changed on the host.
      const before = inactiveXml(R);
      const id = vsh("domid", R).trim();
      const news = await checked(p, withoutUndefined({ ...r.raw, ...patch, allowRestart: true }), r.inputs);
      await expect(p.update(r.id, r.outs, news)).rejects.toThrow(HOST_FACTS[row].refusal);
      expect([row, inactiveXml(R), vsh("domid", R).trim()]).toEqual([row, before, id]);
      refused.push(row);
      continue;
    }
    /** The row's value in def is what the inputs ask for (in the shape they ask it). */
    const has = (def: DomainDef, raw: string, inputs: any) => field === "xmlOverride"
      ? /<on_crash>restart<\/on_crash>/.test(raw)
      : isDeepEqual(projectOnto(inputs[field], (def as any)[field]), inputs[field]);

    // 1. allowRestart false: the definition changes, the running guest does not.
    const id0 = vsh("domid", R).trim();
    const pid0 = qemuPid(R);
    await change(r, { ...patch, allowRestart: false });
    const v1 = r.inputs;
    expect([row, has(await inactiveDef(R), inactiveXml(R), v1)]).toEqual([row, true]);
    expect([row, has(await liveDef(R), liveXml(R), v1)]).toEqual([row, false]);
    expect([row, vsh("domid", R).trim(), qemuPid(R)]).toEqual([row, id0, pid0]);
    expect(domState(R)).toMatch(/^running/);

    // 2. Back to the old value, still without a restart.
    await change(r, { ...Object.fromEntries(Object.keys(patch).map((k) => [k, (base as any)[k]])) });
    expect([row, vsh("domid", R).trim()]).toEqual([row, id0]);

    if (support(row) === "start refused") {
      // 3'. allowRestart true: the guest restarts, cannot start with the row, and runs again on
      // the definition it had; the update fails naming the row, so the next up tries again.
      const before = inactiveXml(R);
      const news = await checked(p, withoutUndefined({ ...r.raw, ...patch, allowRestart: true }), r.inputs);
      await expect(p.update(r.id, r.outs, news)).rejects.toThrow(RESTART_FACTS[row].refusal);
      expect([row, domState(R), inactiveXml(R)]).toEqual([row, expect.stringMatching(/^running/), before]);
      expect((await p.diff(r.id, (await p.read(r.id, r.outs)).props, news)).changes).toBe(true);
      refused.push(row);
      continue;
    }
    // 3. allowRestart true: restarted (a new QEMU), running the new definition.
    await change(r, { ...patch, allowRestart: true });
    expect(domState(R)).toMatch(/^running/);
    expect([row, vsh("domid", R).trim()]).not.toEqual([row, id0]);
    expect(qemuPid(R)).not.toBe(pid0);
    expect([row, has(await liveDef(R), liveXml(R), r.inputs)]).toEqual([row, true]);

    // 4. Reset the definition for the next row (applied by the next restart).
    await change(r, { ...Object.fromEntries(Object.keys(patch).map((k) => [k, (base as any)[k]])), allowRestart: false });
  }
  if (refused.length) console.log(`restart rows refused for missing host support (as they must be): ${refused.join(", ")}`);
  await p.delete(r.id, r.outs);
  expect(exists(R)).toBe(false);
}, 420_000);

function isDeepEqual(a: unknown, b: unknown): boolean {
  return require("node:util").isDeepStrictEqual(JSON.parse(JSON.stringify(a ?? null)), JSON.parse(JSON.stringify(b ?? null)));
}

// ---- live changes on g1 ---------------------------------------------------------------------

rowTest("memory and vCPUs change live, without a restart: seen by libvirt and inside the guest", { Domain: ["memory", "vcpus"] }, async () => {
  const pid = qemuPid(G1);
  const id = vsh("domid", G1).trim();
  const mark = g1Console.mark();
  const bootMem = Number([...g1Console.text().matchAll(/GUEST-MEM total=(\d+)/g)].pop()![1]);
  await change(g1, { memory: "192MiB", vcpus: 2 });
  expect((await liveDef(G1)).vcpus).toBe(2);
  expect((await inactiveDef(G1)).memory).toBe(192 * MiB);
  await poll("the balloon to reach 192 MiB", () => /Used memory:\s+196608 KiB/.test(vsh("dominfo", G1)) || undefined, 60_000);
  await g1Console.wait(/GUEST-CPUS online=2/, mark);
  const grown = Number((await g1Console.wait(/GUEST-MEM total=(\d+)/, mark))[1]);
  expect(grown).toBeGreaterThan(bootMem);
  // Down again, live: the balloon takes memory back from the guest.
  const mark2 = g1Console.mark();
  await change(g1, { memory: "160MiB" });
  await poll("the balloon to reach 160 MiB", () => /Used memory:\s+163840 KiB/.test(vsh("dominfo", G1)) || undefined, 60_000);
  expect(Number((await g1Console.wait(/GUEST-MEM total=(\d+)/, mark2))[1])).toBeLessThan(grown);
  // Fewer vCPUs needs the guest to release one, and libvirt gives up on an unplug after 5 s
  // (this TCG guest takes longer), after which it no longer knows the vCPU count: the
  // definition takes the new count and the running guest keeps its vCPU until its next restart
  // (the restart test below applies it), listed in pendingRestart until then.
  await change(g1, { vcpus: 1 });
  expect((await inactiveDef(G1)).vcpus).toBe(1);
  expect((await liveDef(G1)).vcpus).toBe(2);
  expect(g1.outs.pendingRestart).toEqual(["vcpus"]);
  expect([qemuPid(G1), vsh("domid", G1).trim()]).toEqual([pid, id]);
}, 180_000);

test("with no ceilings set, memory and vCPUs change live up to the ones resolved at create; past them they wait in pendingRestart", async () => {
  const name = `${RUN}-ceil`;
  const hostCpus = Number(/CPU\(s\):\s+(\d+)/.exec(vsh("nodeinfo"))![1]);
  const d = await create({
    name, type: "qemu", machine: "pc", memory: "128MiB", vcpus: 1,
    kernel: { path: `${GUEST}/vmlinuz`, initrd: `${GUEST}/initrd.img`, cmdline: "console=ttyS0 quiet cidata_wait=0" },
    shutdownTimeoutSeconds: 0,
  });
  // The resolved ceilings are in the definition, and no diff follows (create() checked that).
  const def = await inactiveDef(name);
  expect([def.maxMemory, def.maxVcpus]).toEqual([256 * MiB, Math.max(1, hostCpus)]);
  expect(vsh("dominfo", name)).toMatch(/Max memory:\s+262144 KiB/);
  const id = vsh("domid", name).trim();
  await sleep(4000); // the balloon driver loads early in boot
  await change(d, { memory: "256MiB", ...(hostCpus > 1 ? { vcpus: 2 } : {}) });
  await poll("the balloon to reach 256 MiB", () => /Used memory:\s+262144 KiB/.test(vsh("dominfo", name)) || undefined, 60_000);
  if (hostCpus > 1) expect(vsh("dominfo", name)).toMatch(/CPU\(s\):\s+2/);
  expect([vsh("domid", name).trim(), d.outs.pendingRestart]).toEqual([id, []]);
  await change(d, { memory: "96MiB" });
  await poll("the balloon to reach 96 MiB", () => /Used memory:\s+98304 KiB/.test(vsh("dominfo", name)) || undefined, 60_000);
  expect((await inactiveDef(name)).maxMemory).toBe(256 * MiB);
  // Past the ceiling: the definition gets a new one (twice the memory), the guest keeps
  // running, and the change is listed until a restart; the next diff says so without a change.
  await change(d, { memory: "384MiB" });
  expect([vsh("domid", name).trim(), d.outs.pendingRestart]).toEqual([id, ["memory", "maxMemory"]]);
  expect((await inactiveDef(name)).maxMemory).toBe(768 * MiB);
  expect((await p.diff(d.id, d.outs, d.inputs)).changes).toBe(false);
  await change(d, { allowRestart: true });
  expect(vsh("domid", name).trim()).not.toBe(id);
  expect(vsh("dominfo", name)).toMatch(/Max memory:\s+786432 KiB/);
  expect(d.outs.pendingRestart).toEqual([]);
  await p.delete(d.id, d.outs);
  expect(exists(name)).toBe(false);
}, 240_000);

test("host-dependent inputs at create: applied where the host can, refused before anything is defined where it cannot", async () => {
  const kernel = { path: `${GUEST}/vmlinuz`, initrd: `${GUEST}/initrd.img`, cmdline: "console=ttyS0 quiet cidata_wait=0" };
  const cases: [string, Record<string, any>, (def: DomainDef) => unknown][] = [
    ["firmware", { firmware: "efi" }, (def) => def.firmware],
    ["tpm", { tpm: { model: "tpm-crb", version: "2.0" } }, (def) => def.tpm?.model],
    ["hugepages", { hugepages: true }, (def) => def.hugepages],
    ["blkioWeight", { blkioWeight: 300 }, (def) => def.blkioWeight],
  ];
  for (const [field, extra, applied] of cases) {
    const name = `${RUN}-host-${field.toLowerCase()}`;
    const raw = { name, type: "qemu", machine: "pc", memory: "64MiB", kernel, shutdownTimeoutSeconds: 0, ...extra };
    if (HOST_FACTS[field].has()) {
      const m = await create(raw);
      expect([field, domState(name)]).toEqual([field, expect.stringMatching(/^running/)]);
      expect([field, !!applied(await liveDef(name))]).toEqual([field, true]);
      await p.delete(m.id, m.outs);
    } else {
      domains.add(name);
      const inputs = await checked(p, raw);
      await expect(p.create(inputs)).rejects.toThrow(HOST_FACTS[field].refusal);
      expect([field, exists(name)]).toEqual([field, false]);
    }
  }
}, 300_000);

rowTest("description and autostart change live", { Domain: ["description", "autostart"] }, async () => {
  const pid = qemuPid(G1);
  await change(g1, { description: "web server, live", autostart: true });
  expect((await liveDef(G1)).description).toBe("web server, live");
  expect((await inactiveDef(G1)).description).toBe("web server, live");
  expect(vsh("dominfo", G1)).toMatch(/Autostart:\s+enable/);
  await change(g1, { description: undefined, autostart: false });
  expect((await liveDef(G1)).description).toBeUndefined();
  expect(vsh("dominfo", G1)).toMatch(/Autostart:\s+disable/);
  expect(qemuPid(G1)).toBe(pid);
}, 120_000);

rowTest("disk hotplug: a virtio disk is attached live (the guest sees it) and detached live", { Domain: ["disks"] }, async () => {
  const pid = qemuPid(G1);
  qemuImg(`${DIR}/g1-hot.qcow2`, "qcow2", "32M");
  const mark = g1Console.mark();
  await change(g1, { disks: [...g1.raw.disks, { file: `${DIR}/g1-hot.qcow2`, format: "qcow2" }] });
  const disk = g1.inputs.disks[2];
  expect(disk).toMatchObject({ target: "vdb", bus: "virtio" });
  expect((await liveDef(G1)).disks.map((d) => d.target)).toContain("vdb");
  const seen = await g1Console.wait(/GUEST-DISK (vd[a-z]+) 65536\n/, mark);
  const mark2 = g1Console.mark();
  await change(g1, { disks: g1.raw.disks.slice(0, 2) });
  expect((await liveDef(G1)).disks.map((d) => d.target)).not.toContain("vdb");
  expect((await inactiveDef(G1)).disks.map((d) => d.target)).not.toContain("vdb");
  await g1Console.wait(new RegExp(`GUEST-DISK-GONE ${seen[1]}\\n`), mark2);
  expect(qemuPid(G1)).toBe(pid);
  expect(existsSync(`${DIR}/g1-hot.qcow2`)).toBe(true);
}, 240_000);

rowTest("NIC hotplug: a second interface is attached live, gets a lease, and is detached live", { Domain: ["interfaces"] }, async () => {
  const pid = qemuPid(G1);
  const mark = g1Console.mark();
  await change(g1, { interfaces: [{ network: NET }, { network: NET }] });
  const [first, second] = g1.inputs.interfaces.map((i: any) => i.mac);
  expect(first).toBe(g1.outs.macs[0]); // the existing interface kept its MAC
  expect(g1.outs.macs).toEqual([first, second]);
  expect((await liveDef(G1)).interfaces.map((i) => i.mac)).toEqual([first, second]);
  const nic = await g1Console.wait(new RegExp(`GUEST-NIC (eth\\d+) ${second}\\n`), mark);
  const lease = await poll("a lease for the new NIC", () => leases().find((l) => l.mac === second), 120_000, 1000);
  await g1Console.wait(new RegExp(`GUEST-LEASE iface=${nic[1]} ip=${lease.ip.replace(/\./g, "\\.")} `), mark);
  // The provider reports it too once refreshed.
  const read = await poll("the new address in read()", async () => {
    const rd = await p.read(g1.id, g1.outs);
    return rd.props.interfaceAddresses.find((a: any) => a.mac === second && a.addresses.includes(lease.ip)) ? rd : undefined;
  }, 60_000, 1000);
  expect(read.props.interfaceAddresses).toHaveLength(2);
  const mark2 = g1Console.mark();
  await change(g1, { interfaces: [{ network: NET }] });
  expect(g1.inputs.interfaces[0].mac).toBe(first);
  expect((await liveDef(G1)).interfaces.map((i) => i.mac)).toEqual([first]);
  await g1Console.wait(new RegExp(`GUEST-NIC-GONE ${nic[1]}\\n`), mark2);
  expect(qemuPid(G1)).toBe(pid);
}, 300_000);

test("cdrom media swap happens live", async () => {
  const pid = qemuPid(G1);
  cidataIso(`${DIR}/g1-other.iso`, `${RUN}-other`, "other");
  const disks = g1.raw.disks.map((d: any) => (d.device === "cdrom" ? { ...d, file: `${DIR}/g1-other.iso` } : d));
  await change(g1, { disks });
  const cdrom = (await liveDef(G1)).disks.find((d) => d.device === "cdrom")!;
  expect(cdrom.file).toBe(`${DIR}/g1-other.iso`);
  // Ejected, then the first ISO back.
  await change(g1, { disks: g1.raw.disks.map((d: any) => (d.device === "cdrom" ? { device: "cdrom" } : d)) });
  expect((await liveDef(G1)).disks.find((d) => d.device === "cdrom")!.file).toBeUndefined();
  await change(g1, { disks: g1.raw.disks.map((d: any) => (d.device === "cdrom" ? { device: "cdrom", file: `${DIR}/g1-cidata.iso` } : d)) });
  expect((await liveDef(G1)).disks.find((d) => d.device === "cdrom")!.file).toBe(`${DIR}/g1-cidata.iso`);
  expect(qemuPid(G1)).toBe(pid);
}, 120_000);

test("restart changes on a booted guest wait for allowRestart, then it shuts down gracefully and boots the new definition", async () => {
  const pid = qemuPid(G1);
  const booted = g1.raw.kernel.cmdline;
  const cmdline = `${booted} hostname=g1-restarted`;
  await change(g1, { kernel: { ...g1.raw.kernel, cmdline } });
  expect((await inactiveDef(G1)).kernel?.cmdline).toBe(cmdline);
  expect((await liveDef(G1)).kernel?.cmdline).toBe(booted);
  expect(qemuPid(G1)).toBe(pid);
  // Another restart field with allowRestart: one restart applies both.
  const mark = g1Console.mark();
  await change(g1, { rng: true, allowRestart: true });
  expect(qemuPid(G1)).not.toBe(pid);
  const live = await liveDef(G1);
  expect(live.kernel?.cmdline).toBe(cmdline);
  expect(live.rng).toBe(true);
  expect(live.vcpus).toBe(1); // the pending vCPU removal from the memory/vCPU test
  await g1Console.wait(/GUEST-POWEROFF\n[\s\S]*GUEST-BOOT/, mark); // graceful: the guest powered itself off
  expect(g1.outs.ipAddress).toMatch(/^10\./);
  await change(g1, { allowRestart: undefined });
}, 300_000);

rowTest("state: running -> paused -> running -> shutoff (graceful) -> running", { Domain: ["state"] }, async () => {
  await change(g1, { state: "paused" });
  expect(domState(G1)).toMatch(/^paused/);
  expect(g1.outs.status).toBe("paused");
  await change(g1, { state: "running" });
  expect(domState(G1)).toMatch(/^running/);
  const mark = g1Console.mark();
  await change(g1, { state: "shutoff" });
  expect(domState(G1)).toBe("shut off (shutdown)"); // not "destroyed": the guest powered off on ACPI
  await g1Console.wait(/GUEST-POWEROFF/, mark, 5000);
  expect(g1.outs).toMatchObject({ status: "shutoff", domainId: -1, ipAddress: "" });
  await change(g1, { state: undefined });
  expect(domState(G1)).toMatch(/^running/);
  expect(g1.outs.ipAddress).toMatch(/^10\./);
}, 300_000);

test("state saved: the guest's memory goes to the host; running restores it where it was (its clock continues, new domain id, same uuid); shutoff discards it", async () => {
  const managedSave = () => /Managed save:\s+(\w+)/.exec(vsh("dominfo", G1))![1];
  const uptime = async (from: number) => Number((await g1Console.wait(/GUEST-UPTIME s=(\d+)/, from))[1]);
  const idBefore = g1.outs.domainId;
  const upBefore = await uptime(g1Console.mark());
  await change(g1, { state: "saved" });
  expect(domState(G1)).toBe("shut off (saved)");
  expect(managedSave()).toBe("yes");
  expect(g1.outs).toMatchObject({ status: "saved", domainId: -1, ipAddress: "", pendingRestart: [] });

  let mark = g1Console.mark();
  await change(g1, { state: "running" });
  expect(domState(G1)).toBe("running (restored)");
  expect(managedSave()).toBe("no");
  expect(g1.outs.domainId).toBeGreaterThan(0);
  expect(g1.outs.domainId).not.toBe(idBefore);
  expect(g1.outs.uuid).toBe(g1.id);
  // Restored, not rebooted: the guest's own clock goes on from where it was.
  const upAfter = await uptime(mark);
  expect(upAfter).toBeGreaterThanOrEqual(upBefore);
  expect(g1Console.text().slice(mark)).not.toMatch(/GUEST-BOOT/);

  await change(g1, { state: "saved" });
  expect(managedSave()).toBe("yes");
  await change(g1, { state: "shutoff" });
  expect(managedSave()).toBe("no");
  expect(domState(G1)).toMatch(/^shut off/);
  expect(g1.outs.status).toBe("shutoff");
  mark = g1Console.mark();
  await change(g1, { state: undefined });
  await g1Console.wait(/GUEST-BOOT/, mark); // the memory was discarded: a fresh boot
  expect(g1.outs.ipAddress).toMatch(/^10\./);
}, 300_000);

test("a domain created with state saved boots, waits for its address, and is saved; running restores it", async () => {
  const name = `${RUN}-saved`;
  const con = new Console(`${DIR}/saved-console.log`);
  const m = await create({
    name, type: "qemu", machine: "pc", memory: "96MiB", vcpus: 1, state: "saved",
    kernel: { path: `${GUEST}/vmlinuz`, initrd: `${GUEST}/initrd.img`, cmdline: "console=ttyS0 quiet cidata_wait=0" },
    interfaces: [{ network: NET }], console: { type: "file", path: con.path }, waitForIp: true, waitForIpTimeoutSeconds: 240,
  });
  expect(domState(name)).toBe("shut off (saved)");
  expect(m.outs.status).toBe("saved");
  expect(con.text()).toMatch(/GUEST-LEASE iface=eth0/); // saved only once it had its lease
  const mark = con.mark();
  await change(m, { state: "running" });
  expect(domState(name)).toBe("running (restored)");
  expect(m.outs.ipAddress).toMatch(/^10\./);
  expect(con.text().slice(mark)).not.toMatch(/GUEST-BOOT/);
  await p.delete(m.id, m.outs);
  expect(exists(name)).toBe(false);
}, 300_000);

test("drift made with virsh (setmaxmem, define, destroy) is caught by refresh and converged by update", async () => {
  vsh("setmaxmem", G1, "300M", "--config");
  const drifted = inactiveXml(G1).replace(/<cmdline>[^<]*<\/cmdline>/, "<cmdline>console=ttyS0 drifted</cmdline>");
  writeFileSync(`${DIR}/g1-drift.xml`, drifted);
  vsh("define", `${DIR}/g1-drift.xml`);
  vsh("destroy", G1);
  const read = await p.read(g1.id, g1.outs);
  expect(read.props).toMatchObject({ state: "shutoff", status: "shutoff", maxMemory: 300 * MiB, kernel: { cmdline: "console=ttyS0 drifted" } });
  const d = await p.diff(g1.id, read.props, g1.inputs);
  expect(d).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
  const { outs } = await p.update(g1.id, read.props, g1.inputs);
  g1.outs = outs;
  expect(domState(G1)).toMatch(/^running/);
  const def = await inactiveDef(G1);
  expect(def.maxMemory).toBe(256 * MiB);
  expect(def.kernel?.cmdline).toBe(g1.inputs.kernel.cmdline);
  await noDiff(g1);
}, 300_000);

test("delete shuts the guest down gracefully, then undefines it; its files stay", async () => {
  const mark = g1Console.mark();
  const before = statSync(`${DIR}/g1-root.raw`).size;
  // The guest may still be booting from the drift test's start: the power button is pressed
  // again until it listens.
  await p.delete(g1.id, g1.outs);
  expect(exists(G1)).toBe(false);
  await g1Console.wait(/GUEST-POWEROFF/, mark, 5000);
  expect(statSync(`${DIR}/g1-root.raw`).size).toBe(before);
  for (const f of ["g1-cidata.iso", "g1-hot.qcow2", "g1-other.iso", "g1-console.log"]) expect(existsSync(`${DIR}/${f}`)).toBe(true);
  // Deleting what is gone is fine.
  await p.delete(g1.id, g1.outs);
}, 180_000);

rowTest("replacements: a new name makes a second VM before the first goes; a new type deletes the VM first and makes it again, or is refused, naming type, where the host has no KVM", { Domain: ["name", "type"] }, async () => {
  const base = { name: `${RUN}-rep`, type: "qemu", machine: "pc", memory: "64MiB", boot: ["hd"], shutdownTimeoutSeconds: 0 };
  const first = await create(base);
  const renamed = await checked(p, { ...base, name: `${RUN}-rep2` }, first.inputs);
  expect(await p.diff(first.id, first.outs, renamed)).toMatchObject({ changes: true, replaces: ["name"], deleteBeforeReplace: false });
  domains.add(renamed.name);
  // The engine's order for a create-before-delete replacement: both exist for a moment.
  const second = await p.create(renamed);
  expect([exists(base.name), exists(renamed.name)]).toEqual([true, true]);
  await p.delete(first.id, first.outs);
  expect([exists(base.name), vsh("domuuid", renamed.name).trim()]).toEqual([false, second.id]);
  expect(second.id).not.toBe(first.id);

  const retyped = await checked(p, { ...base, name: renamed.name, type: "kvm" }, renamed);
  expect(await p.diff(second.id, second.outs, retyped)).toMatchObject({ changes: true, replaces: ["type"], deleteBeforeReplace: true });
  await p.delete(second.id, second.outs);
  expect(exists(renamed.name)).toBe(false);
  if (/<domain type='kvm'/.test(vsh("capabilities"))) {
    const third = await p.create(retyped);
    expect(inactiveXml(renamed.name)).toMatch(/^<domain type='kvm'/);
    expect(third.id).not.toBe(second.id);
    await p.delete(third.id, third.outs);
  } else {
    await expect(p.create(retyped)).rejects.toThrow(/^.*type: kvm needs KVM acceleration.*use type: "qemu"/);
  }
  expect(exists(renamed.name)).toBe(false);
}, 180_000);

test("delete removes what libvirt keeps beside the definition: its UEFI variable store, snapshot metadata and managed-save image", async () => {
  const name = `${RUN}-keep`;
  qemuImg(`${DIR}/keep.qcow2`, "qcow2", "16M");
  const efi = HOST_FACTS.firmware.has();
  const m = await create({
    name, type: "qemu", machine: "pc", memory: "64MiB", firmware: efi ? "efi" : "bios", shutdownTimeoutSeconds: 0,
    disks: [{ file: `${DIR}/keep.qcow2`, format: "qcow2" }],
  });
  const nvram = (await liveDef(name)).nvram; // (with firmware autoselection only the running definition names it)
  expect(efi ? existsSync(nvram!) : nvram).toBe(efi ? true : undefined);
  // A disk-only snapshot: internal ones are refused next to a UEFI variable store.
  vsh("snapshot-create-as", name, "s1", "--disk-only", "--diskspec", `vda,file=${DIR}/keep-s1.qcow2`);
  vsh("managedsave", name);
  const image = `/var/lib/libvirt/qemu/save/${name}.save`;
  expect([vsh("snapshot-list", name, "--name").trim(), existsSync(image)]).toEqual(["s1", true]);
  await p.delete(m.id, m.outs);
  expect([exists(name), existsSync(image), efi && existsSync(nvram!)]).toEqual([false, false, false]);
  // Its disks stay, the snapshot's overlay too: they are volumes or files the user owns.
  expect([existsSync(`${DIR}/keep.qcow2`), existsSync(`${DIR}/keep-s1.qcow2`)]).toEqual([true, true]);
}, 180_000);

// ---- many at once, and a failed start --------------------------------------------------------

test("ten domains created concurrently", async () => {
  const raws = Array.from({ length: 10 }, (_, i) => ({
    name: `${RUN}-c${i}`, type: "qemu", memory: "64MiB", boot: ["hd"], state: i < 4 ? "running" : "shutoff", shutdownTimeoutSeconds: 0,
  }));
  raws.forEach((x) => domains.add(x.name));
  const made = await Promise.all(raws.map(async (raw) => {
    const inputs = await checked(p, raw);
    const { id, outs } = await p.create(inputs);
    return { name: raw.name, id, raw, inputs, outs } as Managed;
  }));
  expect(new Set(made.map((m) => m.id)).size).toBe(10);
  for (const m of made) {
    expect(domState(m.name)).toMatch(m.raw.state === "running" ? /^running/ : /^shut off/);
    expect(m.outs.status).toBe(m.raw.state);
  }
  await Promise.all(made.map((m) => noDiff(m)));
  await Promise.all(made.map((m) => p.delete(m.id, m.outs)));
  for (const m of made) expect(exists(m.name)).toBe(false);
}, 300_000);

test("a domain defined but failing to start: the error carries id and properties; a later update with a fixed input starts it", async () => {
  const raw = { name: `${RUN}-bad`, type: "qemu", machine: "pc", memory: "64MiB", kernel: { path: `${DIR}/no-such-vmlinuz` }, shutdownTimeoutSeconds: 0 };
  domains.add(raw.name);
  const inputs = await checked(p, raw);
  const err: any = await p.create(inputs).then(() => undefined, (e) => e);
  expect(typeof err?.message).toBe("string"); // (an Error of the provider's realm, not jest's)
  expect(err.message).toContain(`domain "${raw.name}"`);
  expect(err.message).toContain("no-such-vmlinuz");
  expect(err.id).toMatch(/^[0-9a-f-]{36}$/);
  expect(err.properties).toMatchObject({ name: raw.name, state: "shutoff", status: "shutoff", uuid: err.id, domainId: -1 });
  expect(err.reasons).toEqual([err.message]);
  expect(domState(raw.name)).toMatch(/^shut off/);
  expect(vsh("dominfo", raw.name)).toMatch(/Persistent:\s+yes/);
  // The next `pulumi up`: the recorded properties against the fixed program.
  const fixed = await checked(p, { ...raw, kernel: { path: `${GUEST}/vmlinuz`, initrd: `${GUEST}/initrd.img`, cmdline: "console=ttyS0 quiet cidata_wait=0" } }, inputs);
  const d = await p.diff(err.id, err.properties, fixed);
  expect(d).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
  const { outs } = await p.update(err.id, err.properties, fixed);
  expect(outs.status).toBe("running");
  expect(domState(raw.name)).toMatch(/^running/);
  const m = { name: raw.name, id: err.id, raw, inputs: fixed, outs };
  await noDiff(m);
  await p.delete(m.id, m.outs);
  expect(exists(raw.name)).toBe(false);
}, 180_000);
