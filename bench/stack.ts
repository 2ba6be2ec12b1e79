/**
 * Stack benchmark (issue 14): the Pulumi CLI driving generated programs of N VMs (each with a
 * qcow2 overlay of one base, a CloudInitDisk seed and a NIC, on one pool and one network, booting
 * the test guest), against the same work as a parallel virsh script, and Ansible's
 * community.libvirt (Debian's `ansible` package ships it) on the topology pool + network + 3
 * running domains. Prints medians and ratios; never fails on slowness.
 *
 * Run: `npm run bench:stack` (many minutes: every size runs RUNS times on each side).
 * Environment: BENCH_STACK_SIZES (default "1,5,20"), BENCH_STACK_RUNS (default 3),
 * BENCH_STACK_PARALLEL (pulumi's --parallel for up and destroy), BENCH_STACK_VARIANTS (default "dynamic,plugin,yaml": TypeScript with the default classes, with
 * pulumi-libvirt/plugin, and Pulumi YAML).
 */
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import type { ProfileLine } from "../provider/core/profile";

const exec = promisify(execFile);
const REPO = resolve(__dirname, "..", ".."); // run from bin/bench/
const SIZES = (process.env.BENCH_STACK_SIZES ?? "1,5,20").split(",").map(Number);
const RUNS = Number(process.env.BENCH_STACK_RUNS ?? 3);
const VARIANTS = (process.env.BENCH_STACK_VARIANTS ?? "dynamic,plugin,yaml").split(",") as Variant[];
/** `--parallel` for up and destroy; unset: the CLI's default (8 on 2 cores). */
const PARALLEL = process.env.BENCH_STACK_PARALLEL ? ["--parallel", process.env.BENCH_STACK_PARALLEL] : [];
const ANSIBLE_VMS = 3;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs a command, returns its wall seconds; throws with its output tail on failure. */
function timed(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<number> {
  const t0 = process.hrtime.bigint();
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { ...opts, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", rej);
    child.on("close", (code) => {
      if (code === 0) res(Number(process.hrtime.bigint() - t0) / 1e9);
      else rej(new Error(`${cmd} ${args.join(" ")} exited ${code}:\n${out.slice(-4000)}`));
    });
  });
}

async function virshQuiet(...args: string[]): Promise<void> {
  await exec("virsh", ["-q", "-c", "qemu:///system", ...args]).catch(() => undefined);
}

/** Removes every libvirt object and directory whose name starts with prefix, whatever made it. */
async function sweep(prefix: string): Promise<void> {
  const names = async (...a: string[]) => (await exec("virsh", ["-q", ...a]).catch(() => ({ stdout: "" }))).stdout
    .split("\n").map((l) => l.trim()).filter((n) => n.startsWith(prefix));
  for (const d of await names("list", "--all", "--name")) {
    await virshQuiet("destroy", d);
    await virshQuiet("undefine", d);
  }
  for (const n of await names("net-list", "--all", "--name")) {
    await virshQuiet("net-destroy", n);
    await virshQuiet("net-undefine", n);
  }
  for (const p of await names("pool-list", "--all", "--name")) {
    await virshQuiet("pool-destroy", p);
    await virshQuiet("pool-undefine", p);
  }
  rmSync(`/var/lib/libvirt/images/${prefix}`, { recursive: true, force: true });
}

interface Topology { vms: number; volumes: boolean }
/**
 * The program: TypeScript with the dynamic classes (the default), TypeScript with the plugin's
 * classes, or the same resources in Pulumi YAML (the plugin, and no language runtime to start).
 */
type Variant = "dynamic" | "plugin" | "yaml";

/** The generated Pulumi program. */
function program(t: Topology, guest: string, variant: Variant): string {
  return `import * as libvirt from "pulumi-libvirt${variant === "plugin" ? "/plugin" : ""}";
import * as pulumi from "@pulumi/pulumi";
const prefix = new pulumi.Config().require("prefix");
const subnet = new pulumi.Config().require("subnet");
const pool = new libvirt.StoragePool("pool", { name: prefix, type: "dir", target: { path: "/var/lib/libvirt/images/" + prefix } });
const net = new libvirt.Network("net", { name: prefix + "-net", mode: "nat",
  ipv4: { address: subnet + ".1/24", dhcpRanges: [{ start: subnet + ".100", end: subnet + ".199" }] } });
${t.volumes ? `const base = new libvirt.Volume("base", { pool: pool.name, name: prefix + "-base.qcow2", format: "qcow2", capacity: "64MiB" });` : ""}
for (let i = 0; i < ${t.vms}; i++) {
  const name = prefix + "-vm" + i;
  ${t.volumes ? `const disk = new libvirt.Volume("disk" + i, { pool: pool.name, name: name + ".qcow2", backingStore: { volume: base.key } });
  const seed = new libvirt.CloudInitDisk("seed" + i, { pool: pool.name, name: name + "-seed", metaData: "instance-id: " + name + "\\n", userData: "#cloud-config\\n" });` : ""}
  new libvirt.Domain("vm" + i, { name, memory: "256MiB", vcpus: 1, machine: "pc",
    kernel: { path: "${guest}/vmlinuz", initrd: "${guest}/initrd.img", cmdline: "console=ttyS0 quiet" },
    disks: [${t.volumes ? `{ volume: { pool: pool.name, name: disk.name } }, { device: "cdrom", volume: { pool: pool.name, name: seed.volumeName } }` : ""}],
    interfaces: [{ network: net.name }] });
}
`;
}

/** The same resources as program() in Pulumi YAML, written as JSON (which YAML parsers read). */
function yamlProgram(t: Topology, guest: string): object {
  const r: Record<string, { type: string; properties: object }> = {};
  const add = (name: string, kind: string, properties: object) => (r[name] = { type: `libvirt:index:${kind}`, properties });
  add("pool", "StoragePool", { name: "${prefix}", type: "dir", target: { path: "/var/lib/libvirt/images/${prefix}" } });
  add("net", "Network", { name: "${prefix}-net", mode: "nat", ipv4: { address: "${subnet}.1/24", dhcpRanges: [{ start: "${subnet}.100", end: "${subnet}.199" }] } });
  if (t.volumes) add("base", "Volume", { pool: "${pool.name}", name: "${prefix}-base.qcow2", format: "qcow2", capacity: "64MiB" });
  for (let i = 0; i < t.vms; i++) {
    const name = `\${prefix}-vm${i}`;
    if (t.volumes) {
      add(`disk${i}`, "Volume", { pool: "${pool.name}", name: `${name}.qcow2`, backingStore: { volume: "${base.key}" } });
      add(`seed${i}`, "CloudInitDisk", { pool: "${pool.name}", name: `${name}-seed`, metaData: `instance-id: ${name}\n`, userData: "#cloud-config\n" });
    }
    add(`vm${i}`, "Domain", {
      name, memory: "256MiB", vcpus: 1, machine: "pc",
      kernel: { path: `${guest}/vmlinuz`, initrd: `${guest}/initrd.img`, cmdline: "console=ttyS0 quiet" },
      disks: t.volumes ? [{ volume: { pool: "${pool.name}", name: `\${disk${i}.name}` } }, { device: "cdrom", volume: { pool: "${pool.name}", name: `\${seed${i}.volumeName}` } }] : [],
      interfaces: [{ network: "${net.name}" }],
    });
  }
  return { config: { prefix: { type: "string" }, subnet: { type: "string" } }, resources: r };
}

/** A stack in a temp dir: its own file backend, pulumi-libvirt and @pulumi linked from the repo. */
function makeProject(dir: string, t: Topology | undefined, guest: string, variant: Variant): void {
  mkdirSync(join(dir, "node_modules"), { recursive: true });
  symlinkSync(REPO, join(dir, "node_modules", "pulumi-libvirt"));
  symlinkSync(join(REPO, "node_modules", "@pulumi"), join(dir, "node_modules", "@pulumi"));
  const plugins = { providers: [{ name: "libvirt", path: join(REPO, "plugin") }] };
  if (variant === "yaml") {
    writeFileSync(join(dir, "Pulumi.yaml"), JSON.stringify({ name: "bench-stack", runtime: "yaml", plugins, ...(t ? yamlProgram(t, guest) : {}) }, null, 1));
    return;
  }
  const plugin = variant === "plugin" ? { plugins } : {};
  writeFileSync(join(dir, "Pulumi.yaml"), JSON.stringify({ name: "bench-stack", runtime: "nodejs", main: "index.ts", ...plugin }, null, 1));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "bench-stack", version: "0.0.0" }));
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { strict: true, target: "ES2022", module: "commonjs", moduleResolution: "node", esModuleInterop: true, skipLibCheck: true } }));
  // No topology: an empty program, what every preview pays before the first resource.
  writeFileSync(join(dir, "index.ts"), t ? program(t, guest, variant) : "export {};\n");
}

async function pulumiEnv(dir: string): Promise<NodeJS.ProcessEnv> {
  const { stdout } = await exec("bash", ["-c", `source ${REPO}/scripts/pulumi-env.sh >/dev/null && env -0`], { maxBuffer: 1 << 20 });
  const env: NodeJS.ProcessEnv = {};
  for (const kv of stdout.split("\0")) if (kv.includes("=")) env[kv.slice(0, kv.indexOf("="))] = kv.slice(kv.indexOf("=") + 1);
  mkdirSync(join(dir, "state"), { recursive: true });
  return { ...env, PULUMI_BACKEND_URL: `file://${join(dir, "state")}`, PULUMI_HOME: join(dir, "home") };
}

type Phases = { up: number; preview: number; noopUp: number; destroy: number };

/** Where one pulumi command spends its time, from the provider's own profile (provider/core/profile.ts). */
interface Timeline {
  seconds: number;
  /** From the command's start to the provider's first call, and from its last call to the exit. */
  beforeFirstCall: number;
  afterLastCall: number;
  /** First call's start to last call's end; and the sum of all calls (they overlap). */
  callSpan: number;
  callSum: number;
  processes: number;
  calls: Record<string, { count: number; medianMs: number; maxMs: number; rpcsPerCall: number }>;
  /** Per process: when it started and when it had loaded pulumi-libvirt, from the command's start. */
  loads: { what: string; started: number; loaded: number }[];
}

type Pulumi = (env: NodeJS.ProcessEnv, ...a: string[]) => Promise<number>;

async function profiledRun(p: Pulumi, file: string, ...args: string[]): Promise<Timeline> {
  rmSync(file, { force: true });
  const t0 = Date.now();
  const seconds = await p({ PULUMI_LIBVIRT_PROFILE: file }, ...args);
  const t1 = t0 + seconds * 1000;
  const all: ProfileLine[] = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const lines = all.filter((l) => l.method !== "load");
  const loads = all.filter((l) => l.method === "load")
    .map((l) => ({ what: l.kind, started: (l.start - t0) / 1000, loaded: (l.start + l.ms - t0) / 1000 }));
  const first = Math.min(...lines.map((l) => l.start));
  const last = Math.max(...lines.map((l) => l.start + l.ms));
  const groups = new Map<string, ProfileLine[]>();
  for (const l of lines) groups.set(`${l.kind}.${l.method}`, [...(groups.get(`${l.kind}.${l.method}`) ?? []), l]);
  const calls: Timeline["calls"] = {};
  for (const [k, ls] of [...groups].sort()) {
    const ms = ls.map((l) => l.ms);
    calls[k] = { count: ls.length, medianMs: median(ms), maxMs: Math.max(...ms), rpcsPerCall: ls.reduce((a, l) => a + l.rpcs, 0) / ls.length };
  }
  return {
    seconds,
    beforeFirstCall: (first - t0) / 1000, afterLastCall: (t1 - last) / 1000,
    callSpan: (last - first) / 1000, callSum: lines.reduce((a, l) => a + l.ms, 0) / 1000,
    processes: new Set(lines.map((l) => l.pid)).size, calls, loads,
  };
}

/** The first up and a no-op preview, profiled; and the preview's time without type-checking. */
interface Breakdown { up: Timeline; preview: Timeline; transpileOnly: number }

/**
 * One stack's life: first up, no-op preview, no-op up, destroy. With withBreakdown, the first up
 * is profiled, and a profiled no-op preview (and one without type-checking) run before the destroy.
 */
async function pulumiRun(t: Topology | undefined, guest: string, prefix: string, subnet: string, variant: Variant, withBreakdown = false): Promise<Phases & { breakdown?: Breakdown }> {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  try {
    makeProject(dir, t, guest, variant);
    const env = await pulumiEnv(dir);
    const p = (extra: NodeJS.ProcessEnv, ...a: string[]) => timed("pulumi", [...a, "--non-interactive", "--cwd", dir], { env: { ...env, ...extra } });
    await p({}, "stack", "init", "bench");
    await p({}, "config", "set", "prefix", prefix);
    await p({}, "config", "set", "subnet", subnet);
    try {
      // Profiling appends one line per provider call: no measurable cost, so the profiled up is timed as any other.
      const profiledUp = withBreakdown && t ? await profiledRun(p, join(dir, "up.jsonl"), "up", "--yes", "--skip-preview", ...PARALLEL) : undefined;
      const up = profiledUp?.seconds ?? await p({}, "up", "--yes", "--skip-preview", ...PARALLEL);
      const preview = await p({}, "preview", "--expect-no-changes");
      const noopUp = await p({}, "up", "--yes", "--skip-preview", "--expect-no-changes");
      const breakdown: Breakdown | undefined = profiledUp && {
        up: profiledUp,
        preview: await profiledRun(p, join(dir, "preview.jsonl"), "preview", "--expect-no-changes"),
        transpileOnly: await p({ PULUMI_NODEJS_TRANSPILE_ONLY: "true" }, "preview", "--expect-no-changes"),
      };
      const destroy = await p({}, "destroy", "--yes", "--skip-preview", ...PARALLEL);
      return { up, preview, noopUp, destroy, ...(breakdown ? { breakdown } : {}) };
    } finally {
      await sweep(prefix);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The same objects with virsh, as a script an operator would write: independent steps in parallel. */
function virshScript(t: Topology, guest: string, prefix: string, subnet: string, dir: string): string {
  const v = "virsh -q";
  const lines = [
    "set -e",
    `${v} pool-define-as ${prefix} dir --target /var/lib/libvirt/images/${prefix} >/dev/null && ${v} pool-build ${prefix} >/dev/null && ${v} pool-start ${prefix} >/dev/null &`,
    `cat > ${dir}/net.xml <<'X'\n<network><name>${prefix}-net</name><forward mode='nat'/><ip address='${subnet}.1' netmask='255.255.255.0'><dhcp><range start='${subnet}.100' end='${subnet}.199'/></dhcp></ip></network>\nX`,
    `${v} net-define ${dir}/net.xml >/dev/null && ${v} net-start ${prefix}-net >/dev/null &`,
    "wait",
  ];
  if (t.volumes) lines.push(`${v} vol-create-as ${prefix} ${prefix}-base.qcow2 64M --format qcow2 >/dev/null`);
  for (let i = 0; i < t.vms; i++) {
    const name = `${prefix}-vm${i}`;
    const img = `/var/lib/libvirt/images/${prefix}`;
    const disks = t.volumes
      ? `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${img}/${name}.qcow2'/><target dev='vda' bus='virtio'/></disk>` +
        `<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='${img}/${name}-seed.iso'/><target dev='hdc' bus='ide'/><readonly/></disk>`
      : "";
    const xml = `<domain type='qemu'><name>${name}</name><memory unit='MiB'>256</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type><kernel>${guest}/vmlinuz</kernel><initrd>${guest}/initrd.img</initrd><cmdline>console=ttyS0 quiet</cmdline></os><devices>${disks}<interface type='network'><source network='${prefix}-net'/><model type='virtio'/></interface><serial type='pty'/></devices></domain>`;
    lines.push(`cat > ${dir}/${name}.xml <<'X'\n${xml}\nX`);
    const steps = t.volumes
      ? [
          `${v} vol-create-as ${prefix} ${name}.qcow2 64M --format qcow2 --backing-vol ${prefix}-base.qcow2 --backing-vol-format qcow2 >/dev/null`,
          `printf 'instance-id: ${name}\\n' > ${dir}/${name}-meta-data && printf '#cloud-config\\n' > ${dir}/${name}-user-data` +
            ` && genisoimage -quiet -V cidata -J -r -o ${dir}/${name}-seed.iso ${dir}/${name}-meta-data ${dir}/${name}-user-data` +
            ` && ${v} vol-create-as ${prefix} ${name}-seed.iso $(stat -c %s ${dir}/${name}-seed.iso) --format raw >/dev/null` +
            ` && ${v} vol-upload --pool ${prefix} ${name}-seed.iso ${dir}/${name}-seed.iso`,
        ]
      : [];
    lines.push(`( ${[...steps, `${v} define ${dir}/${name}.xml >/dev/null`, `${v} start ${name} >/dev/null`].join(" && ")} ) &`);
  }
  lines.push("wait");
  return lines.join("\n") + "\n";
}

async function virshRun(t: Topology, guest: string, prefix: string, subnet: string): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  try {
    writeFileSync(join(dir, "create.sh"), virshScript(t, guest, prefix, subnet, dir));
    return await timed("bash", [join(dir, "create.sh")]);
  } finally {
    await sweep(prefix);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Ansible: community.libvirt's virt_pool, virt_net and virt, run twice (create, idempotent re-run).
 * The pool's directory comes from the file module: virt_pool's build fails on an active pool, so it
 * is not idempotent.
 */
function playbook(t: Topology, guest: string, prefix: string, subnet: string): string {
  const doms = Array.from({ length: t.vms }, (_, i) => `${prefix}-vm${i}`);
  const xml = (name: string) => `<domain type='qemu'><name>${name}</name><memory unit='MiB'>256</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type><kernel>${guest}/vmlinuz</kernel><initrd>${guest}/initrd.img</initrd><cmdline>console=ttyS0 quiet</cmdline></os><devices><interface type='network'><source network='${prefix}-net'/><model type='virtio'/></interface><serial type='pty'/></devices></domain>`;
  return `- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - community.libvirt.virt_pool: { command: define, name: ${prefix}, xml: "<pool type='dir'><name>${prefix}</name><target><path>/var/lib/libvirt/images/${prefix}</path></target></pool>" }
    - ansible.builtin.file: { path: /var/lib/libvirt/images/${prefix}, state: directory, mode: "0711" }
    - community.libvirt.virt_pool: { state: active, name: ${prefix} }
    - community.libvirt.virt_net: { command: define, name: ${prefix}-net, xml: "<network><name>${prefix}-net</name><forward mode='nat'/><ip address='${subnet}.1' netmask='255.255.255.0'><dhcp><range start='${subnet}.100' end='${subnet}.199'/></dhcp></ip></network>" }
    - community.libvirt.virt_net: { state: active, name: ${prefix}-net }
${doms.map((d) => `    - community.libvirt.virt: { command: define, xml: "${xml(d)}" }\n    - community.libvirt.virt: { state: running, name: ${d} }`).join("\n")}
`;
}

async function ansibleRun(t: Topology, guest: string, prefix: string, subnet: string): Promise<{ create: number; rerun: number }> {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  try {
    writeFileSync(join(dir, "site.yml"), playbook(t, guest, prefix, subnet));
    // Debian's ansible runs under /usr/bin/python3, where python3-libvirt is installed.
    const env = { ...process.env, ANSIBLE_PYTHON_INTERPRETER: "/usr/bin/python3", ANSIBLE_LOCALHOST_WARNING: "false", ANSIBLE_INVENTORY_UNPARSED_WARNING: "false" };
    const play = () => timed("/usr/bin/ansible-playbook", ["-i", "localhost,", join(dir, "site.yml")], { env });
    return { create: await play(), rerun: await play() };
  } finally {
    await sweep(prefix);
    rmSync(dir, { recursive: true, force: true });
  }
}

const f = (x: number) => x.toFixed(1).padStart(7);
const r = (a: number, b: number) => (a / b).toFixed(2).padStart(6);

export async function stackBench(): Promise<void> {
  for (const [cmd, fix] of [["/usr/bin/ansible-playbook", "apt-get install ansible"], ["genisoimage", "apt-get install genisoimage"]]) {
    try {
      await exec(cmd, ["--version"]);
    } catch {
      throw new Error(`stack bench: \`${cmd}\` is missing (a reference): ${fix} (scripts/setup-host.sh)`);
    }
  }
  const guest = (await exec("bash", [join(REPO, "test", "guest", "build.sh")], { maxBuffer: 16 << 20 })).stdout.trim().split("\n").pop()!;
  const id = randomBytes(3).toString("hex");
  const subnet = `192.168.${200 + (parseInt(id.slice(0, 2), 16) % 50)}`;
  const started = Date.now();
  const results: Record<string, unknown> = {};
  console.log(`\nstack bench: sizes ${SIZES.join(",")}, ${VARIANTS.join(" and ")} classes, ${RUNS} runs each (medians, seconds)`);
  // What every preview pays with no resource at all: the CLI, the language host, node, ts-node.
  const byVariant = () => ({ dynamic: [] as Phases[], plugin: [] as Phases[], yaml: [] as Phases[] });
  const empty = byVariant();
  for (let k = 0; k < RUNS; k++) for (const v of VARIANTS) empty[v].push(await pulumiRun(undefined, guest, `bench-st-${id}-e${k}`, subnet, v));
  for (const v of VARIANTS) console.log(`  empty program (${v}): preview ${f(median(empty[v].map((x) => x.preview)))}  no-op up ${f(median(empty[v].map((x) => x.noopUp)))}`);
  results.empty = empty;
  console.log("  VMs  classes       up  preview  no-op up  destroy | virsh create  up/virsh | preview/1-VM preview");
  const preview1: Partial<Record<Variant, number>> = {};
  const breakdowns: [string, Breakdown][] = [];
  for (const vms of SIZES) {
    const virshTimes: number[] = [];
    const runs = byVariant();
    for (let k = 0; k < RUNS; k++) {
      const prefix = `bench-st-${id}-${vms}-${k}`;
      for (const v of VARIANTS) {
        const run = await pulumiRun({ vms, volumes: true }, guest, `${prefix}${v[0]}`, subnet, v, k === 0);
        if (run.breakdown) breakdowns.push([`${vms} VMs, ${v}`, run.breakdown]);
        runs[v].push(run);
      }
      virshTimes.push(await virshRun({ vms, volumes: true }, guest, `${prefix}v`, subnet));
    }
    const vt = median(virshTimes);
    for (const v of VARIANTS) {
      const m = (key: keyof Phases) => median(runs[v].map((x) => x[key]));
      preview1[v] ??= m("preview");
      console.log(`  ${String(vms).padStart(3)}  ${v.padEnd(8)} ${f(m("up"))} ${f(m("preview"))} ${f(m("noopUp"))} ${f(m("destroy"))}  | ${f(vt)}      ${r(m("up"), vt)}  | ${r(m("preview"), preview1[v]!)}`);
    }
    results[`vms${vms}`] = { ...runs, virshCreate: virshTimes };
  }
  // Ansible's topology: pool, network, 3 running domains (no volumes), against Pulumi on the same.
  const ans: { create: number; rerun: number }[] = [];
  const pul = byVariant();
  for (let k = 0; k < RUNS; k++) {
    ans.push(await ansibleRun({ vms: ANSIBLE_VMS, volumes: false }, guest, `bench-st-${id}-a${k}`, subnet));
    for (const v of VARIANTS) pul[v].push(await pulumiRun({ vms: ANSIBLE_VMS, volumes: false }, guest, `bench-st-${id}-p${k}${v[0]}`, subnet, v));
  }
  const aC = median(ans.map((x) => x.create)), aR = median(ans.map((x) => x.rerun));
  console.log(`  Ansible topology (pool, network, ${ANSIBLE_VMS} running domains): ansible create ${f(aC)}, idempotent re-run ${f(aR)}`);
  for (const v of VARIANTS) {
    const pC = median(pul[v].map((x) => x.up)), pR = median(pul[v].map((x) => x.noopUp)), pP = median(pul[v].map((x) => x.preview));
    console.log(`    pulumi ${v.padEnd(8)} up ${f(pC)} (${r(pC, aC)}x ansible)  no-op up ${f(pR)} (${r(pR, aR)}x ansible re-run)  no-op preview ${f(pP)} (${r(pP, aR)}x)`);
  }
  results.ansible = { ansible: ans, ...pul };
  console.log("\n  where the time goes (first run of each size; seconds)");
  console.log("  stack               command   total  to 1st call  calls span  after last  | calls    sum  processes");
  const row = (name: string, cmd: string, t: Timeline) => {
    const n = Object.values(t.calls).reduce((a, c) => a + c.count, 0);
    console.log(`  ${name.padEnd(18)}  ${cmd.padEnd(7)} ${f(t.seconds)}  ${f(t.beforeFirstCall)}     ${f(t.callSpan)}  ${f(t.afterLastCall)}   | ${String(n).padStart(5)} ${f(t.callSum)} ${String(t.processes).padStart(4)}`);
    console.log(`      ${t.loads.map((l) => `${l.what} process started at ${l.started.toFixed(2)} s, loaded pulumi-libvirt at ${l.loaded.toFixed(2)} s`).join("; ")}`);
    console.log(`      ${Object.entries(t.calls).map(([k, c]) => `${k} ${c.count}x ${c.medianMs.toFixed(1)} ms (max ${c.maxMs.toFixed(0)}) ${c.rpcsPerCall.toFixed(1)} rpc`).join("; ")}`);
  };
  for (const [name, b] of breakdowns) {
    row(name, "up", b.up);
    row(name, "preview", b.preview);
    console.log(`      preview without type-checking (PULUMI_NODEJS_TRANSPILE_ONLY=true): ${f(b.transpileOnly)}`);
  }
  results.breakdowns = Object.fromEntries(breakdowns);
  console.log(JSON.stringify({ stack: results, totalSeconds: (Date.now() - started) / 1000 }));
}

if (require.main === module) {
  stackBench().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
