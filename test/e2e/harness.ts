/**
 * The end-to-end harness: the real Pulumi CLI (scripts/pulumi-cli.sh, offline settings from
 * scripts/pulumi-env.sh), a throwaway file:// backend and PULUMI_HOME per run, programs installed
 * from the packed package the way users install it, and libvirt checked for leftovers by prefix.
 *
 * Conventions (see test/e2e/README.md):
 *  - a program names every libvirt object (and directory) it creates `<prefix>-...`, where
 *    `prefix` is a stack config value the suite sets to a fresh uniqueName("e2e");
 *  - e2e.json beside a program declares its drift commands; step*\/ dirs hold edited versions.
 */
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { TEST_URI, virsh, virshQuiet } from "../util";

export const REPO = path.resolve(__dirname, "..", "..");
export const IMAGES = "/var/lib/libvirt/images";

/** Keep the temp dir (state, installs, logs) for debugging: PULUMI_LIBVIRT_E2E_KEEP=1. */
const KEEP = process.env.PULUMI_LIBVIRT_E2E_KEEP === "1";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export class CommandError extends Error {
  constructor(readonly cmd: string, readonly result: RunResult) {
    super(`\`${cmd}\` exited ${result.code} after ${(result.ms / 1000).toFixed(1)}s\n` +
      `--- stdout (tail) ---\n${tail(result.stdout)}\n--- stderr (tail) ---\n${tail(result.stderr)}`);
  }
}

function tail(s: string, n = 6000): string {
  return s.length > n ? `...${s.slice(-n)}` : s;
}

/** Every command the suite ran, for the timing report. */
export const timings: { what: string; ms: number }[] = [];

/** Run a command asynchronously (jest timeouts keep working); rejects on a non-zero exit unless allowFail. */
export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; allowFail?: boolean; label?: string } = {}): Promise<RunResult> {
  const started = Date.now();
  const line = [cmd, ...args].join(" ");
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d) => out.push(d));
    child.stderr.on("data", (d) => err.push(d));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const result = { code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), ms: Date.now() - started };
      timings.push({ what: opts.label ?? line.slice(0, 120), ms: result.ms });
      if (result.code !== 0 && !opts.allowFail) reject(new CommandError(line, result));
      else resolve(result);
    });
  });
}

/** Concatenated JSON values, as `pulumi up --json` prints them (a preview document, then one event per line). */
export function parseJsonStream(text: string): any[] {
  const values: any[] = [];
  let depth = 0, start = -1, inString = false, escaped = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (ch === "\\") escaped = true;
      else if (ch === "\"") inString = false;
      continue;
    }
    if (ch === "\"") inString = true;
    else if (ch === "{" || ch === "[") {
      if (depth++ === 0) start = i;
    } else if (ch === "}" || ch === "]") {
      if (--depth === 0) values.push(JSON.parse(text.slice(start, i + 1)));
    }
  }
  return values;
}

export type ChangeSummary = Partial<Record<"create" | "update" | "replace" | "delete" | "same" | "read" | "import" | "discard" | string, number>>;

/** What an operation did: the summary of the last engine run in the output (preview or update). */
export function summaryOf(values: any[]): ChangeSummary {
  for (let i = values.length - 1; i >= 0; i--) {
    const v = values[i];
    if (v?.summaryEvent) return v.summaryEvent.resourceChanges ?? {};
    if (v?.changeSummary) return v.changeSummary;
  }
  throw new Error("no summary in the JSON output");
}

/** op per URN: from preview's steps, or from the engine's resOutputsEvents (the final op of each resource). */
export function opsOf(values: any[]): Map<string, string> {
  const ops = new Map<string, string>();
  const events = values.filter((v) => v?.resOutputsEvent || v?.resourcePreEvent);
  if (events.length) {
    for (const e of events) {
      const m = (e.resOutputsEvent ?? e.resourcePreEvent).metadata;
      if (e.resOutputsEvent || !ops.has(m.urn)) ops.set(m.urn, m.op);
    }
    return ops;
  }
  for (const v of values) for (const s of v?.steps ?? []) ops.set(s.urn, s.op);
  return ops;
}

/** Changes other than "same" (and reads of read-only resources). */
export function changeCount(s: ChangeSummary): number {
  return Object.entries(s).filter(([op]) => op !== "same" && op !== "read").reduce((n, [, c]) => n + (c ?? 0), 0);
}

/** The engine's diagnostics: events of an update, or the `diagnostics` of a preview document. */
export function diagnosticsOf(values: any[]): { severity: string; message: string; urn?: string }[] {
  const out: { severity: string; message: string; urn?: string }[] = [];
  for (const v of values) {
    if (v?.diagnosticEvent) out.push(v.diagnosticEvent);
    for (const d of v?.diagnostics ?? []) out.push(d);
  }
  return out;
}

/** Errors the engine reported, as text. */
export function errorsOf(values: any[]): string[] {
  return diagnosticsOf(values).filter((d) => d.severity === "error").map((d) => (d.urn ? `${d.urn.split("::").slice(-2).join("::")}: ` : "") + d.message.trim());
}

/** A run's sandbox: temp dir, backend, PULUMI_HOME, and the CLI's environment. */
export class Sandbox {
  readonly root: string;
  env: NodeJS.ProcessEnv = {};
  tarball = "";

  constructor(label: string) {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), `plt-e2e-${label}-`));
  }

  /** The CLI (built once, then cached) and the settings of scripts/pulumi-env.sh, against a private backend. */
  async init(): Promise<void> {
    for (const d of ["state", "home", "work", "pkg"]) fs.mkdirSync(path.join(this.root, d), { recursive: true });
    const base: NodeJS.ProcessEnv = {
      ...process.env,
      PULUMI_BACKEND_URL: `file://${path.join(this.root, "state")}`,
      PULUMI_CONFIG_PASSPHRASE: "",
      PULUMI_HOME: path.join(this.root, "home"),
    };
    delete base.PULUMI_CONFIG_PASSPHRASE_FILE;
    delete base.PULUMI_ACCESS_TOKEN;
    // Source the same script developers use, and take the environment it leaves.
    const r = await run("bash", ["-c", `. "${REPO}/scripts/pulumi-env.sh" >&2 && env -0`], { env: base, label: "pulumi-env.sh" });
    const env: NodeJS.ProcessEnv = {};
    for (const kv of r.stdout.split("\0")) {
      const i = kv.indexOf("=");
      if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
    }
    env.PULUMI_BACKEND_URL = base.PULUMI_BACKEND_URL;
    env.LIBVIRT_DEFAULT_URI = TEST_URI;
    // No colors, no spinner; our own output stays readable in CI logs.
    env.NO_COLOR = "1";
    env.PULUMI_SUPPRESS_COPILOT_LINK = "true";
    this.env = env;
    await run("pulumi", ["version"], { env, label: "pulumi version" });
  }

  /**
   * The package as it would be published (`npm pack`: only "files", bin/ built by `npm run build`).
   * Installing the tarball dedupes @pulumi/pulumi: one copy, like a registry install.
   */
  async pack(): Promise<string> {
    if (!fs.existsSync(path.join(REPO, "bin", "sdk", "index.js")) || !fs.existsSync(path.join(REPO, "bin", "provider", "index.js"))) {
      throw new Error(`${REPO}/bin is not built: run \`npm run build\` first`);
    }
    const dest = path.join(this.root, "pkg");
    const r = await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dest], { cwd: REPO, env: this.env, label: "npm pack" });
    const [info] = parseJsonStream(r.stdout)[0];
    this.tarball = path.join(dest, info.filename);
    return this.tarball;
  }

  /**
   * Copy a program (without node_modules, bin, step dirs) and install its dependencies, with
   * pulumi-libvirt pointing at `linkTo` (default: the packed tarball).
   */
  async installCopy(src: string, name: string, linkTo = `file:${this.tarball}`): Promise<string> {
    const dest = path.join(this.root, "work", name);
    fs.cpSync(src, dest, { recursive: true, filter: (f) => !/^(node_modules|bin|venv|__pycache__|step\d+|Pulumi\..+\.yaml)$/.test(path.basename(f)) || f === src });
    const pkgFile = path.join(dest, "package.json");
    const pkg = JSON.parse(fs.readFileSync(pkgFile, "utf8"));
    for (const deps of [pkg.dependencies, pkg.devDependencies]) if (deps?.["pulumi-libvirt"]) deps["pulumi-libvirt"] = linkTo;
    fs.writeFileSync(pkgFile, JSON.stringify(pkg, null, 2));
    // --ignore-scripts: a `file:` link to the repo would run its `prepare` (a build into the shared checkout's bin/).
    await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--package-lock=false", "--loglevel=error", "--ignore-scripts"], { cwd: dest, env: this.env, label: `npm install (${name})` });
    return dest;
  }

  /**
   * A Python program's virtualenv: Debian's python3, requirements.txt from PyPI with the Pulumi SDK
   * pinned to the CLI's version. Returns the environment that puts it first on PATH (the Python
   * language host this CLI gets runs the python3 it finds there).
   */
  async venv(dir: string): Promise<NodeJS.ProcessEnv> {
    const venv = path.join(dir, "venv");
    await run("/usr/bin/python3", ["-m", "venv", venv], { cwd: dir, env: this.env, label: `python3 -m venv (${path.basename(dir)})` });
    const sdk = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")).devDependencies["@pulumi/pulumi"];
    await run(path.join(venv, "bin", "pip"), ["install", "-q", "--disable-pip-version-check", "-r", "requirements.txt", `pulumi==${sdk}`],
      { cwd: dir, env: this.env, label: `pip install (${path.basename(dir)})` });
    return { PATH: `${path.join(venv, "bin")}:${this.env.PATH}`, VIRTUAL_ENV: venv };
  }

  /** A fresh stack in dir with config (project-scoped keys); env is added to every pulumi command's. */
  async stack(dir: string, config: Record<string, string>, env: NodeJS.ProcessEnv = {}): Promise<Stack> {
    const name = `e2e-${randomBytes(4).toString("hex")}`;
    const s = new Stack(this, dir, name, env);
    await run("pulumi", ["stack", "init", name, "--non-interactive"], { cwd: dir, env: this.env, label: `pulumi stack init (${path.basename(dir)})` });
    for (const [k, v] of Object.entries(config)) await s.pulumi(["config", "set", k, v]);
    return s;
  }

  cleanup(): void {
    if (!KEEP) fs.rmSync(this.root, { recursive: true, force: true });
    else console.log(`e2e: kept ${this.root}`);
  }
}

export class Stack {
  destroyed = false;
  constructor(readonly sandbox: Sandbox, readonly dir: string, readonly name: string, readonly env: NodeJS.ProcessEnv = {}) {}

  pulumi(args: string[], opts: { allowFail?: boolean; env?: NodeJS.ProcessEnv; label?: string } = {}): Promise<RunResult> {
    return run("pulumi", [...args, "--stack", this.name, "--non-interactive"], {
      cwd: this.dir, env: { ...this.sandbox.env, ...this.env, ...opts.env }, allowFail: opts.allowFail,
      label: opts.label ?? `pulumi ${args.filter((a) => !a.startsWith("-") || a === "--expect-no-changes").join(" ")} (${path.basename(this.dir)})`,
    });
  }

  /** Runs a --json command and returns its values; a failure's engine errors are in the thrown message. */
  async json(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<any[]> {
    const r = await this.pulumi([...args, "--json"], { allowFail: true, env: opts.env });
    const values = parseJsonStream(r.stdout);
    if (r.code !== 0) {
      throw new Error(`pulumi ${args.join(" ")} failed (exit ${r.code}):\n${errorsOf(values).join("\n") || tail(r.stdout)}\n${tail(r.stderr)}`);
    }
    return values;
  }

  async outputs(): Promise<Record<string, any>> {
    return JSON.parse((await this.pulumi(["stack", "output", "--json"])).stdout);
  }

  async resources(): Promise<any[]> {
    const r = await this.pulumi(["stack", "export"]);
    return JSON.parse(r.stdout).deployment.resources ?? [];
  }

  /** Best effort: destroy whatever the stack still holds (cleanup after a failed run). */
  async tryDestroy(): Promise<void> {
    if (this.destroyed) return;
    await this.pulumi(["destroy", "--yes", "--skip-preview"], { allowFail: true, label: "cleanup destroy" });
  }
}

/** A fresh, collision-free prefix. It is checked before anything is deleted by it. */
export function e2ePrefix(): string {
  return `plt-e2e-${randomBytes(4).toString("hex")}`;
}
const PREFIX_RE = /^plt-e2e-[0-9a-f]{8}$/;

function names(...args: string[]): string[] {
  return virsh(...args).split("\n").map((s) => s.trim()).filter(Boolean);
}

/**
 * Everything in libvirt (and under IMAGES) whose name starts with prefix. Empty means nothing leaked.
 * `host` checks another daemon and its image directory instead (a program's second host).
 */
export function leftovers(prefix: string, host: { uri: string; dir: string } = { uri: TEST_URI, dir: IMAGES }): string[] {
  const list = (...args: string[]) => execFileSync("virsh", ["-q", "-c", host.uri, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
    .split("\n").map((s) => s.trim()).filter(Boolean);
  const found: string[] = [];
  for (const d of list("list", "--all", "--name")) if (d.startsWith(prefix)) found.push(`domain ${d}`);
  for (const n of list("net-list", "--all", "--name")) if (n.startsWith(prefix)) found.push(`network ${n}`);
  for (const p of list("pool-list", "--all", "--name")) {
    if (p.startsWith(prefix)) found.push(`pool ${p}`);
    let vols: string[] = [];
    try {
      vols = list("vol-list", "--pool", p).map((l) => l.split(/\s+/)[0]);
    } catch {
      // inactive pools cannot list volumes
    }
    for (const v of vols) if (v.startsWith(prefix)) found.push(`volume ${p}/${v}`);
  }
  for (const f of fs.readdirSync(host.dir)) if (f.startsWith(prefix)) found.push(`file ${host.dir}/${f}`);
  return found;
}

/** Remove what a failed run left behind: only objects named with this run's prefix. */
export async function purge(prefix: string): Promise<void> {
  if (!PREFIX_RE.test(prefix)) throw new Error(`refusing to purge with prefix ${JSON.stringify(prefix)}`);
  // A daemon restarted by a concurrent test gets a moment to come back.
  for (let i = 0; i < 30; i++) {
    try {
      virsh("version");
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  for (const d of names("list", "--all", "--name").filter((x) => x.startsWith(prefix))) {
    virshQuiet("destroy", d);
    virshQuiet("undefine", d, "--nvram");
    virshQuiet("undefine", d);
  }
  for (const n of names("net-list", "--all", "--name").filter((x) => x.startsWith(prefix))) {
    virshQuiet("net-destroy", n);
    virshQuiet("net-undefine", n);
  }
  for (const p of names("pool-list", "--all", "--name")) {
    let vols: string[] = [];
    try {
      vols = names("vol-list", "--pool", p).map((l) => l.split(/\s+/)[0]);
    } catch {
      // inactive
    }
    for (const v of vols.filter((x) => x.startsWith(prefix) || p.startsWith(prefix))) virshQuiet("vol-delete", "--pool", p, v);
    if (p.startsWith(prefix)) {
      virshQuiet("pool-destroy", p);
      virshQuiet("pool-undefine", p);
    }
  }
  for (const f of fs.readdirSync(IMAGES).filter((x) => x.startsWith(prefix))) fs.rmSync(path.join(IMAGES, f), { recursive: true, force: true });
}

/** Placeholders in e2e.json values: ${prefix}, ${uri}, ${octet}, ${prepare}. */
export function expand(s: string, vars: Record<string, string>): string {
  return s.replace(/\$\{(\w+)\}/g, (m, k) => {
    if (!(k in vars)) throw new Error(`unknown placeholder ${m} in ${JSON.stringify(s)}`);
    return vars[k];
  });
}

/** Print the timing report (jest shows console output of the test file). */
export function reportTimings(title: string, started: number): void {
  const lines = timings.map((t) => `${(t.ms / 1000).toFixed(1).padStart(7)}s  ${t.what}`);
  console.log(`${title}: ${((Date.now() - started) / 1000).toFixed(1)}s wall\n${lines.join("\n")}`);
}

/** A program the examples suite runs through the whole lifecycle. */
export interface Program {
  /** "examples/storage-pool", or "root" for the repository's own Pulumi.yaml. */
  name: string;
  kind: "example" | "root";
  /** The project directory (holds Pulumi.yaml). */
  dir: string;
  /** Where its e2e.json and step*\/ dirs live: the example itself; test/e2e/root for the root program. */
  meta: string;
}

const hasProject = (dir: string) => fs.existsSync(path.join(dir, "Pulumi.yaml")) || fs.existsSync(path.join(dir, "Pulumi.yml"));

/**
 * Every examples/<name>/ with a Pulumi.yaml, and the root program when the repository has one.
 * Evaluated when the test file loads, so programs added later are covered without editing the suite.
 */
export function discoverPrograms(): Program[] {
  const found: Program[] = [];
  const examples = path.join(REPO, "examples");
  if (fs.existsSync(examples)) {
    for (const d of fs.readdirSync(examples).sort()) {
      const dir = path.join(examples, d);
      if (fs.statSync(dir).isDirectory() && hasProject(dir)) found.push({ name: `examples/${d}`, kind: "example", dir, meta: dir });
    }
  }
  if (hasProject(REPO)) found.push({ name: "root", kind: "root", dir: REPO, meta: path.join(REPO, "test", "e2e", "root") });
  return found;
}

export interface DriftSpec {
  description?: string;
  /** argv; ${prefix} and ${uri} are replaced. */
  command: string[];
  /** Logical name of the Pulumi resource the command changes: refresh must report an update for it. */
  resource: string;
}

export interface StepSpec {
  /** Stack config to set before this step (values may use placeholders). */
  config?: Record<string, string>;
  /** Minimum count of each operation its preview and its update must show. Default {update: 1, replace: 1}. */
  expect?: Record<string, number>;
  /**
   * A known bug this step runs into: the step must fail with an error containing `error`, and the
   * test fails once it passes ("looks fixed: remove knownIssue"). Only the last step may have one.
   */
  knownIssue?: KnownIssue;
  /** Domains (names may use placeholders) whose `virsh domid` must be the same after the step: changed live, not restarted. */
  sameDomainId?: string[];
  /** Commands run before the step's edit (argv, placeholders replaced): e.g. data written into a volume that the step must keep. */
  before?: string[][];
  /** Commands whose stdout must be the same before and after the step (a dnsmasq pid: no network restart). */
  unchanged?: string[][];
  /** Commands whose stdout must come to match `match` (a regex) within 90 s after the step's up. */
  checks?: StepCheck[];
  /** Logical resource name -> outputs it must have after the step (a subset, compared as JSON). */
  outputs?: Record<string, Record<string, unknown>>;
  /** A substring the `preview --expect-no-changes` after the step must print (stdout or stderr). */
  previewSays?: string;
}

export interface StepCheck {
  /** argv; placeholders are replaced. */
  command: string[];
  match: string;
}

export interface KnownIssue {
  /** What is wrong and where, for the reader. */
  note: string;
  /** A substring of the error the step fails with today. */
  error: string;
}

export interface E2eSpec {
  /** argv run in the repository root before the stack is made; its last stdout line is ${prepare}. */
  prepare?: string[];
  /**
   * "tls": the program gets a second host, a libvirtd of its own reached over TLS
   * (test/remote/fixtures.ts): ${remoteUri} and ${remoteDir} (a directory it may write), checked
   * for leftovers like this host, stopped at the end.
   */
  remoteHost?: "tls";
  /** Extra stack config (values may use placeholders). `prefix` itself is always set. */
  config?: Record<string, string>;
  /** Edits after the first up, in order: step dirs (files copied over the program) and/or config changes. */
  steps?: Record<string, StepSpec>;
  drift: DriftSpec[];
}

export function readE2eSpec(p: Program): E2eSpec {
  const file = path.join(p.meta, "e2e.json");
  if (!fs.existsSync(file)) {
    throw new Error(`${p.name}: ${path.relative(REPO, file)} is missing: declare at least one drift command (see test/e2e/README.md)`);
  }
  const spec = JSON.parse(fs.readFileSync(file, "utf8")) as E2eSpec;
  if (!Array.isArray(spec.drift) || !spec.drift.length || spec.drift.some((d) => !Array.isArray(d.command) || !d.command.length || !d.resource)) {
    throw new Error(`${p.name}: ${path.relative(REPO, file)} needs "drift": [{"command": [...], "resource": "<logical name>"}]`);
  }
  for (const k of Object.keys(spec.steps ?? {})) {
    if (!/^step\d+$/.test(k)) throw new Error(`${p.name}: step names are step2, step3...; got ${JSON.stringify(k)}`);
  }
  const all = steps(p, spec);
  if (all.slice(0, -1).some((st) => st.knownIssue)) throw new Error(`${p.name}: only the last step may declare a knownIssue`);
  if (all.some((st) => st.knownIssue && (typeof st.knownIssue.note !== "string" || typeof st.knownIssue.error !== "string" || !st.knownIssue.error))) {
    throw new Error(`${p.name}: a knownIssue is {"note": "what and where", "error": "substring of today's error"}`);
  }
  return spec;
}

export interface Step {
  name: string;
  /** Files to copy over the program. */
  dir?: string;
  /** Config to set. */
  config?: Record<string, string>;
  expect: Record<string, number>;
  knownIssue?: KnownIssue;
  sameDomainId: string[];
  before: string[][];
  unchanged: string[][];
  checks: StepCheck[];
  outputs: Record<string, Record<string, unknown>>;
  previewSays?: string;
}

/**
 * The program's edits, in order: step2/, step3/... dirs beside the program (its meta dir) and the
 * steps e2e.json declares (config changes), merged by name.
 */
export function steps(p: Program, spec: E2eSpec): Step[] {
  const dirs = fs.existsSync(p.meta)
    ? fs.readdirSync(p.meta).filter((d) => /^step\d+$/.test(d) && fs.statSync(path.join(p.meta, d)).isDirectory())
    : [];
  const stepNames = [...new Set([...dirs, ...Object.keys(spec.steps ?? {})])].sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)));
  return stepNames.map((name) => {
    const st = spec.steps?.[name] ?? {};
    return {
      name,
      dir: dirs.includes(name) ? path.join(p.meta, name) : undefined,
      config: st.config,
      expect: st.expect ?? { update: 1, replace: 1 },
      knownIssue: st.knownIssue,
      sameDomainId: st.sameDomainId ?? [],
      before: st.before ?? [],
      unchanged: st.unchanged ?? [],
      checks: st.checks ?? [],
      outputs: st.outputs ?? {},
      previewSays: st.previewSays,
    };
  });
}

/** Polls a command until its stdout matches `re`; throws with the last output after `ms`. */
export async function eventually(cmd: string, args: string[], re: RegExp, ms = 90_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const r = await run(cmd, args, { allowFail: true, label: `check: ${[cmd, ...args].join(" ")}` });
    if (r.code === 0 && re.test(r.stdout)) return;
    if (Date.now() > until) {
      throw new Error(`${[cmd, ...args].join(" ")} did not come to match ${re} within ${ms / 1000} s; last output:\n${r.stdout}${r.stderr}`);
    }
    await new Promise((res) => setTimeout(res, 2000));
  }
}

/** count distinct /24s in 192.168.150-249 that no host interface and no libvirt network uses (${octet}, ${octet2}). */
export function freeOctets(count: number): string[] {
  const used = new Set<number>();
  const collect = (text: string) => {
    for (const m of text.matchAll(/192\.168\.(\d+)\./g)) used.add(Number(m[1]));
  };
  try {
    collect(execFileSync("ip", ["-o", "-4", "addr", "show"], { encoding: "utf8" }));
  } catch {
    // no iproute2: rely on libvirt's view
  }
  for (const n of names("net-list", "--all", "--name")) {
    try {
      collect(virsh("net-dumpxml", n));
    } catch {
      // vanished meanwhile
    }
  }
  const free = Array.from({ length: 100 }, (_, i) => 150 + i).filter((o) => !used.has(o));
  if (free.length < count) throw new Error(`no ${count} free 192.168.150-249.0/24 for test networks`);
  const picked: number[] = [];
  while (picked.length < count) {
    const o = free[randomBytes(1)[0] % free.length];
    if (!picked.includes(o)) picked.push(o);
  }
  return picked.map(String);
}

/** One free 192.168.X.0/24 (X of 150-249) for a test network. */
export function freeOctet(): string {
  return freeOctets(1)[0];
}

/**
 * The root program runs in the repository's own node_modules and bin/ (the shim's fallback for a
 * project named pulumi-libvirt), but from a temp dir of symlinks to the repository's entries, so
 * stack config files and step edits never touch the shared checkout.
 */
export function symlinkFarm(sandbox: Sandbox, src: string, name: string): string {
  const dest = path.join(sandbox.root, "work", name);
  fs.mkdirSync(dest, { recursive: true });
  for (const e of fs.readdirSync(src)) {
    if (e === ".git" || /^Pulumi\..+\.ya?ml$/.test(e)) continue;
    fs.symlinkSync(path.join(src, e), path.join(dest, e));
  }
  return dest;
}

/** Copy a step dir's files over the working copy; symlinks on the way are replaced, never written through. */
export function applyStep(stepDir: string, work: string): string[] {
  const copied: string[] = [];
  const walk = (rel: string) => {
    const from = path.join(stepDir, rel);
    for (const e of fs.readdirSync(from)) {
      const r = path.join(rel, e);
      const to = path.join(work, r);
      const st = fs.statSync(path.join(stepDir, r));
      const existing = fs.lstatSync(to, { throwIfNoEntry: false });
      if (st.isDirectory()) {
        if (existing?.isSymbolicLink()) {
          // Materialize the linked dir as real dir of links, so writes below it stay in the copy.
          const target = fs.realpathSync(to);
          fs.rmSync(to);
          fs.mkdirSync(to);
          for (const x of fs.readdirSync(target)) fs.symlinkSync(path.join(target, x), path.join(to, x));
        } else if (!existing) fs.mkdirSync(to);
        walk(r);
      } else {
        if (existing) fs.rmSync(to);
        fs.copyFileSync(path.join(stepDir, r), to);
        copied.push(r);
      }
    }
  };
  walk("");
  return copied;
}
