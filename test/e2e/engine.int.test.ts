/**
 * Engine behaviours the provider relies on (or cannot rely on), pinned against the real Pulumi CLI
 * with the small programs in test/e2e/programs/ (installed once, from the packed package):
 *
 *  - unknown inputs in preview (an input computed from another resource's output);
 *  - `pulumi up --parallel 10` over 10 resources;
 *  - the `id` resource option (a read-only "external" resource): what it reads, that destroy keeps the object;
 *  - adoption: the `import` resource option and `pulumi import` both fail for dynamic resources (pinned);
 *  - a symlinked `file:` install (two copies of @pulumi/pulumi in one program) still registers correctly;
 *  - a VM whose start failed, finished by the next `pulumi up`;
 *  - a TypeScript program on @pulumi/pulumi 3.139.0, the floor of the dependency range (floor/);
 *  - the Automation API, inline and local programs (automation/).
 *
 * Needs `npm run build` first. Findings and exact messages: test/e2e/README.md.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { TEST_URI, virsh, virshQuiet } from "../util";
import {
  diagnosticsOf, e2ePrefix, IMAGES, leftovers, opsOf, parseJsonStream, purge, REPO, reportTimings, run, Sandbox, Stack, summaryOf,
} from "./harness";

jest.setTimeout(10 * 60 * 1000);

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"; // how the engine's JSON shows a value unknown in preview
const POOL = "pulumi-nodejs:dynamic/libvirt:StoragePool";

const sandbox = new Sandbox("engine");
const started = Date.now();
const prefixes: string[] = [];
const stacks: Stack[] = [];
let programs: string;

beforeAll(async () => {
  await sandbox.init();
  await sandbox.pack();
  // One install for all programs: each subdir is a project resolving packages from ../node_modules.
  programs = await sandbox.installCopy(path.join(__dirname, "programs"), "programs");
}, 40 * 60 * 1000);

afterAll(async () => {
  for (const s of stacks) await s.tryDestroy();
  for (const p of prefixes) await purge(p);
  reportTimings("e2e engine", started);
  sandbox.cleanup();
});

async function newStack(program: string, config: Record<string, string> = {}, dir = programs): Promise<{ stack: Stack; prefix: string }> {
  const prefix = e2ePrefix();
  prefixes.push(prefix);
  const stack = await sandbox.stack(path.join(dir, program), { prefix, ...config });
  stacks.push(stack);
  return { stack, prefix };
}

async function destroyClean(stack: Stack, prefix: string): Promise<void> {
  await stack.json(["destroy", "--yes", "--skip-preview"]);
  stack.destroyed = true;
  expect(leftovers(prefix)).toEqual([]);
}

/** A running dir pool made with virsh, as if by someone else. Returns its uuid. */
function virshPool(name: string): string {
  virsh("pool-define-as", name, "dir", "--target", `${IMAGES}/${name}`);
  virsh("pool-build", name);
  virsh("pool-start", name);
  return virsh("pool-uuid", name).trim();
}

test("preview with an input that is unknown until another resource exists", async () => {
  const { stack, prefix } = await newStack("unknown-input");
  const preview = await stack.json(["preview"]);
  expect(summaryOf(preview)).toMatchObject({ create: 3 });
  const second = preview[0].steps.find((s: any) => s.urn.endsWith("::second"));
  // The engine carried the unknowns through check and diff instead of failing or inventing values.
  expect(second.newState.inputs.name).toBe(UNKNOWN);
  expect(second.newState.inputs.target).toEqual({ path: UNKNOWN });

  await stack.json(["up", "--yes", "--skip-preview"]);
  const out = await stack.outputs();
  const suffix = out.firstUuid.slice(0, 8);
  expect(out.secondName).toBe(`${prefix}-second-${suffix}`);
  expect(out.secondPath).toBe(`${IMAGES}/${prefix}-second-${suffix}`);
  expect(virsh("pool-list", "--all", "--name")).toContain(`${prefix}-second-${suffix}`);
  await stack.pulumi(["preview", "--expect-no-changes", "--diff"]);
  await destroyClean(stack, prefix);
});

test("up --parallel 10 over 10 pools", async () => {
  const { stack, prefix } = await newStack("parallel", { count: "10" });
  const t0 = Date.now();
  const up = await stack.json(["up", "--yes", "--skip-preview", "--parallel", "10"]);
  const upMs = Date.now() - t0;
  expect(summaryOf(up)).toMatchObject({ create: 11 });
  const pools = virsh("pool-list", "--all", "--name").split("\n").map((s) => s.trim()).filter((n) => n.startsWith(prefix));
  expect(pools.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `${prefix}-p${i}`).sort());
  // The creates overlapped: more than one was in flight at some point (resourcePreEvent before the first resOutputsEvent).
  const order = up.filter((v) => (v.resourcePreEvent || v.resOutputsEvent) && (v.resourcePreEvent ?? v.resOutputsEvent).metadata.type === POOL)
    .map((v) => (v.resourcePreEvent ? "pre" : "out"));
  expect(order.indexOf("out")).toBeGreaterThan(1);
  console.log(`up --parallel 10 (10 pools): ${upMs} ms`);
  await stack.pulumi(["preview", "--expect-no-changes"]);
  const d = await stack.json(["destroy", "--yes", "--skip-preview", "--parallel", "10"]);
  stack.destroyed = true;
  expect(summaryOf(d)).toMatchObject({ delete: 11 });
  expect(leftovers(prefix)).toEqual([]);
});

describe("the `id` resource option: a read-only resource", () => {
  let stack: Stack;
  let prefix: string;
  let uuid: string;
  let up: any[];

  beforeAll(async () => {
    ({ stack, prefix } = await newStack("read-by-id"));
    uuid = virshPool(`${prefix}-existing`);
    await stack.pulumi(["config", "set", "poolUuid", uuid]);
    up = await stack.json(["up", "--yes", "--skip-preview"]);
  });

  afterAll(() => {
    virshQuiet("pool-destroy", `${prefix}-existing`);
    virshQuiet("pool-delete", `${prefix}-existing`);
    virshQuiet("pool-undefine", `${prefix}-existing`);
  });

  test("up reads the live pool into state, marked external, without changing it", async () => {
    const urn = [...opsOf(up).keys()].find((u) => u.endsWith("::existing"))!;
    expect(opsOf(up).get(urn)).toBe("read");
    const res = (await stack.resources()).find((r) => r.urn === urn);
    expect(res).toMatchObject({ id: uuid, external: true });
    expect(res.outputs).toMatchObject({ uuid, name: `${prefix}-existing`, type: "dir", state: "running", start: true, autostart: false, builtByProvider: false, target: { path: `${IMAGES}/${prefix}-existing` } });
    expect(await stack.outputs()).toMatchObject({ uuid, name: `${prefix}-existing`, state: "running", path: `${IMAGES}/${prefix}-existing` });
    // Reading again changes nothing.
    await stack.pulumi(["preview", "--expect-no-changes"]);
  });

  // KNOWN BUG (sdk/storagePool.ts): the SDK only declares outputs for keys present in the args (and
  // the output-only ones), so an input the program did not pass (autostart, start...) is undefined
  // on the resource object even though the provider returned it; Pulumi warns "Undefined value
  // (autostart) will not show as a stack output". Affects created resources too. Flip to test()
  // once the SDK declares every input key.
  test("inputs the program did not pass still resolve as outputs (autostart)", async () => {
    const out = await stack.outputs();
    expect(out.autostart).toBe(false);
  });

  test("destroy drops it from state and leaves the pool alone", async () => {
    const d = await stack.json(["destroy", "--yes", "--skip-preview"]);
    stack.destroyed = true;
    const urn = [...opsOf(d).keys()].find((u) => u.endsWith("::existing"))!;
    // The engine forgets a read resource ("read-discard"/"discard"), never calls the provider's delete.
    expect(opsOf(d).get(urn)).toMatch(/discard/);
    console.log(`destroy of a read resource: op ${opsOf(d).get(urn)}, summary ${JSON.stringify(summaryOf(d))}`);
    expect(virsh("pool-info", `${prefix}-existing`)).toMatch(/State:\s+running/);
    expect(fs.existsSync(`${IMAGES}/${prefix}-existing`)).toBe(true);
  });
});

describe("adopting an existing pool (limitation, pinned)", () => {
  // The engine sends an import's Read no properties, and a dynamic provider's code lives in the
  // `__provider` property of the resource's state: the dynamic-provider host cannot even start.
  const HOST_FAILURE = "Cannot read properties of undefined (reading 'toJavaScript')";
  let prefix: string;
  afterEach(() => {
    for (const n of [`${prefix}-adopted`, `${prefix}-imported`]) {
      virshQuiet("pool-destroy", n);
      virshQuiet("pool-delete", n);
      virshQuiet("pool-undefine", n);
    }
  });

  test("the `import` resource option fails in the dynamic-provider host", async () => {
    let stack: Stack;
    ({ stack, prefix } = await newStack("import-option"));
    const uuid = virshPool(`${prefix}-adopted`);
    await stack.pulumi(["config", "set", "poolUuid", uuid]);
    const r = await stack.pulumi(["preview", "--json"], { allowFail: true });
    expect(r.code).not.toBe(0);
    const diags = diagnosticsOf(parseJsonStream(r.stdout));
    expect(diags.find((d) => d.severity === "error" && d.urn?.endsWith("::adopted"))?.message).toContain(HOST_FAILURE);
    console.log(`import option (exit ${r.code}):\n${diags.map((d) => `[${d.severity}] ${d.message.trim()}`).join("\n")}`);
    expect(virsh("pool-info", `${prefix}-adopted`)).toMatch(/State:\s+running/);
  });

  test("`pulumi import` fails the same way", async () => {
    let stack: Stack;
    ({ stack, prefix } = await newStack("empty"));
    const uuid = virshPool(`${prefix}-imported`);
    const r = await stack.pulumi(["import", POOL, "imported", uuid, "--yes", "--generate-code=false"], { allowFail: true });
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain(HOST_FAILURE);
    console.log(`pulumi import, output:\n${(r.stdout + r.stderr).split("\n").filter((l) => /error|TypeError/.test(l)).join("\n")}`);
    expect((await stack.resources()).filter((x) => x.type === POOL)).toEqual([]);
    expect(virsh("pool-info", `${prefix}-imported`)).toMatch(/State:\s+running/);
  });
});

test("a symlinked file: install (two @pulumi/pulumi copies in one program) registers correctly", async () => {
  // examples/*/package.json say "file:../..": plain `npm install` symlinks the repo, whose own
  // node_modules then provides pulumi-libvirt's @pulumi/pulumi: a second copy next to the program's.
  const linked = await sandbox.installCopy(path.join(__dirname, "programs"), "programs-linked", `file:${REPO}`);
  const resolveFrom = (dir: string) => require.resolve("@pulumi/pulumi", { paths: [dir] });
  expect(fs.lstatSync(path.join(linked, "node_modules", "pulumi-libvirt")).isSymbolicLink()).toBe(true);
  expect(resolveFrom(fs.realpathSync(path.join(linked, "node_modules", "pulumi-libvirt")))).not.toBe(resolveFrom(linked));

  const { stack, prefix } = await newStack("two-copies", {}, linked);
  const up = await stack.json(["up", "--yes", "--skip-preview"]);
  expect(summaryOf(up)).toMatchObject({ create: 3 });
  const resources = await stack.resources();
  const component = resources.find((r) => r.type === "e2e:index:Group");
  const pool = resources.find((r) => r.type === POOL);
  // A parent and an Output input from the program's copy, taken by pulumi-libvirt's copy.
  expect(pool.parent).toBe(component.urn);
  expect(pool.outputs.name).toBe(`${prefix}-linked`);
  expect(await stack.outputs()).toMatchObject({ state: "running", label: `${prefix}-linked` });
  await stack.pulumi(["preview", "--expect-no-changes"]);
  await destroyClean(stack, prefix);
});

test("a TypeScript program on @pulumi/pulumi 3.139.0 (the range's floor): one copy, and config libvirt:uri reaches the provider", async () => {
  const dir = await sandbox.installCopy(path.join(__dirname, "floor"), "floor");
  const pulumiFrom = (d: string) => fs.realpathSync(require.resolve("@pulumi/pulumi/package.json", { paths: [d] }));
  expect(JSON.parse(fs.readFileSync(pulumiFrom(dir), "utf8")).version).toBe("3.139.0");
  expect(pulumiFrom(path.join(dir, "node_modules", "pulumi-libvirt"))).toBe(pulumiFrom(dir));

  const { stack, prefix } = await newStack("", { "libvirt:uri": TEST_URI }, dir);
  // Only the provider's configure (called by the 3.139+ host) can bring the right URI: the default is unreachable.
  const env = { LIBVIRT_DEFAULT_URI: "qemu+tcp://127.0.0.1:9/system" };
  const up = await stack.json(["up", "--yes"], { env }); // with the preview: type-checked by ts-node
  expect(summaryOf(up)).toMatchObject({ create: 2 });
  expect(await stack.outputs()).toMatchObject({ state: "running" });
  await stack.pulumi(["preview", "--expect-no-changes"], { env });
  await stack.json(["destroy", "--yes", "--skip-preview"], { env });
  stack.destroyed = true;
  expect(leftovers(prefix)).toEqual([]);
});

test("a VM whose start failed is in the state as created; the next up with the input fixed starts that same VM", async () => {
  const guest = (await run("bash", [path.join(REPO, "test", "guest", "build.sh")], { label: "test guest" })).stdout.trim().split("\n").pop()!;
  const { stack, prefix } = await newStack("failed-start", { guestDir: guest });
  await stack.pulumi(["config", "set", "kernel", `${IMAGES}/${prefix}-no-such-vmlinuz`]);
  const failed = await stack.pulumi(["up", "--yes", "--skip-preview"], { allowFail: true });
  expect([failed.code, (failed.stdout + failed.stderr).includes(`${prefix}-no-such-vmlinuz`)]).toEqual([1, true]);
  expect(virsh("domstate", `${prefix}-vm`).trim()).toBe("shut off");
  const uuid = virsh("domuuid", `${prefix}-vm`).trim();
  const recorded = (await stack.resources()).find((r) => r.urn.endsWith("::vm"));
  expect({ id: recorded.id, initErrors: recorded.initErrors?.length }).toEqual({ id: uuid, initErrors: 1 });

  await stack.pulumi(["config", "set", "kernel", `${guest}/vmlinuz`]);
  expect(summaryOf(await stack.json(["up", "--yes", "--skip-preview"]))).toMatchObject({ update: 1 });
  expect([virsh("domuuid", `${prefix}-vm`).trim(), virsh("domstate", `${prefix}-vm`).trim()]).toEqual([uuid, "running"]);
  expect(await stack.outputs()).toMatchObject({ status: "running" });
  await stack.pulumi(["preview", "--expect-no-changes"]);
  await destroyClean(stack, prefix);
});

describe("the Automation API (LocalWorkspace)", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await sandbox.installCopy(path.join(__dirname, "automation"), "automation");
  });

  for (const mode of ["inline", "local"]) {
    test(`${mode} program: up, no changes, destroy`, async () => {
      const prefix = e2ePrefix();
      prefixes.push(prefix);
      const r = await run("node", [path.join(dir, "run.js"), mode, `e2e-${prefix.slice(-8)}`, prefix], { cwd: dir, env: sandbox.env, label: `automation (${mode})` });
      const result = JSON.parse(r.stdout.trim().split("\n").pop()!);
      expect(result).toMatchObject({ up: { create: 2 }, state: "running", destroy: { delete: 2 } });
      expect(Object.keys(result.preview).filter((op) => op !== "same")).toEqual([]);
      expect(leftovers(prefix)).toEqual([]);
    });
  }
});
