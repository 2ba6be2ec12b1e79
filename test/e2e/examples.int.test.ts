/**
 * Every program under examples/*\/ (and the repository's root Pulumi.yaml program, when there is
 * one) through the real Pulumi engine, each in a throwaway stack with a fresh `prefix`:
 *
 *   preview -> up -> preview --expect-no-changes
 *   -> drift (e2e.json: virsh behind Pulumi's back): refresh reports an update for exactly the
 *      drifted resources, preview shows changes, up converges, preview --expect-no-changes
 *   -> each step (step2/ files copied over the program and/or e2e.json config changes): preview
 *      and up show at least the expected operations (default >= 1 update and >= 1 replace), then
 *      preview --expect-no-changes
 *   -> destroy -> libvirt holds nothing named with the prefix.
 *
 * Conventions: test/e2e/README.md. Needs `npm run build` first (examples get the package packed from bin/).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { TEST_URI, virsh } from "../util";
import { startTlsDaemon, TlsDaemon } from "../remote/fixtures";
import {
  applyStep, ChangeSummary, changeCount, discoverPrograms, E2eSpec, e2ePrefix, eventually, expand, freeOctets, leftovers, opsOf, Program,
  purge, readE2eSpec, REPO, reportTimings, run, Sandbox, Stack, Step, steps, summaryOf, symlinkFarm,
} from "./harness";

jest.setTimeout(15 * 60 * 1000);

const programs = discoverPrograms();
const sandbox = new Sandbox("examples");
const started = Date.now();

/** Type-check only the first run of each version of a program; later runs only transpile (seconds each). */
const TRANSPILE_ONLY = { PULUMI_NODEJS_TRANSPILE_ONLY: "true" };

beforeAll(async () => {
  await sandbox.init();
  if (programs.some((p) => p.kind === "example")) await sandbox.pack();
}, 40 * 60 * 1000); // a cold pulumi-cli.sh builds the CLI (~5 min)

afterAll(() => {
  reportTimings("e2e examples", started);
  sandbox.cleanup();
});

test("discovery finds the examples, and the root program exactly when there is one", () => {
  // A broken glob must not turn the suite into a silent pass.
  expect(programs.filter((p) => p.kind === "example").map((p) => p.name)).toContain("examples/storage-pool");
  const rootProject = ["Pulumi.yaml", "Pulumi.yml"].some((f) => fs.existsSync(path.join(REPO, f)));
  expect(programs.some((p) => p.kind === "root")).toBe(rootProject);
});

function atLeast(what: string, summary: ChangeSummary, expected: Record<string, number>): void {
  const short = Object.entries(expected).filter(([op, min]) => (summary[op] ?? 0) < min);
  if (short.length) {
    throw new Error(`${what}: expected at least ${JSON.stringify(expected)}, got ${JSON.stringify(summary)}`);
  }
}

describe.each(programs.map((p) => [p.name, p] as [string, Program]))("%s", (_name, program) => {
  // e2e.json is read now, to make one test per step; a broken one fails the prepare phase.
  let spec: E2eSpec | undefined;
  let specError: unknown;
  try {
    spec = readE2eSpec(program);
  } catch (e) {
    specError = e;
  }
  const edits: Step[] = spec ? steps(program, spec) : [];

  const prefix = e2ePrefix();
  let stack: Stack | undefined;
  let work: string;
  let remote: TlsDaemon | undefined;
  const remoteHost = () => ({ uri: vars.remoteUri, dir: vars.remoteDir });
  /** Placeholder values for e2e.json: ${prefix}, ${uri}, ${octet}, ${octet2}, ${prepare}, ${remoteUri}, ${remoteDir}. */
  const vars: Record<string, string> = { prefix, uri: TEST_URI };
  const configOf = (c: Record<string, string> | undefined) =>
    Object.fromEntries(Object.entries(c ?? {}).map(([k, v]) => [k, expand(v, vars)]));
  /** The first phase that failed; later phases report it instead of piling up unrelated errors. */
  let broken: string | undefined;

  const phase = (name: string, fn: (s: Stack) => Promise<void>, opts: { always?: boolean } = {}) =>
    test(name, async () => {
      if (broken && !opts.always) throw new Error(`not run: phase "${broken}" failed`);
      if (!stack && name !== "prepare") throw new Error(`not run: phase "${broken ?? "prepare"}" failed`);
      try {
        await fn(stack!);
      } catch (e) {
        broken ??= name;
        throw e;
      }
    });

  const noChanges = async (s: Stack): Promise<string> => {
    const r = await s.pulumi(["preview", "--expect-no-changes", "--diff"], { env: TRANSPILE_ONLY });
    return r.stdout + r.stderr;
  };

  phase("prepare", async () => {
    if (specError) throw specError;
    if (!edits.length) {
      throw new Error(`${program.name}: no edit step: add ${path.relative(REPO, program.meta)}/step2/ with replacement files, or ` +
        '"steps": {"step2": {"config": {...}}} to e2e.json, making an in-place update and a replacement (see test/e2e/README.md)');
    }
    if (spec!.prepare) {
      const [cmd, ...args] = spec!.prepare.map((a) => expand(a, vars));
      const r = await run(cmd, args, { cwd: REPO, env: sandbox.env, label: `prepare: ${spec!.prepare.join(" ")}` });
      vars.prepare = r.stdout.trim().split("\n").pop() ?? "";
    }
    if (JSON.stringify(spec).includes("${octet")) [vars.octet, vars.octet2] = freeOctets(2);
    if (spec!.remoteHost === "tls") {
      remote = await startTlsDaemon();
      Object.assign(vars, { remoteUri: remote.tlsUri(), remoteDir: remote.home });
    }
    const slug = program.name.replace(/[^A-Za-z0-9-]/g, "_");
    work = program.kind === "root" ? symlinkFarm(sandbox, program.dir, slug) : await sandbox.installCopy(program.dir, slug);
    const env = fs.existsSync(path.join(work, "requirements.txt")) ? await sandbox.venv(work) : {};
    stack = await sandbox.stack(work, { prefix, ...configOf(spec!.config) }, env);
  });

  phase("preview", async (s) => {
    expect(summaryOf(await s.json(["preview"])).create ?? 0).toBeGreaterThan(0);
  });

  phase("up", async (s) => {
    expect(summaryOf(await s.json(["up", "--yes", "--skip-preview"], { env: TRANSPILE_ONLY })).create ?? 0).toBeGreaterThan(1);
    // The prefix convention: every named libvirt object the program made carries it (a volume
    // may instead live in a pool that does)...
    const named = (await s.resources()).filter((r) => r.custom && r.type.includes("libvirt") && typeof r.outputs?.name === "string");
    const outside = named.filter((r) => ![r.outputs.name, r.outputs.pool].some((n) => typeof n === "string" && n.startsWith(prefix)));
    expect(outside.map((r) => `${r.urn}: ${r.outputs.name}`)).toEqual([]);
    // ...and libvirt shows them, so the leak check at the end means something.
    expect(leftovers(prefix).length).toBeGreaterThan(0);
  });

  phase("preview --expect-no-changes after up", async (s) => { await noChanges(s); });

  phase("drift (e2e.json): refresh reports it, preview shows it, up converges", async (s) => {
    const drifted = new Set<string>();
    const resources = await s.resources();
    for (const d of spec!.drift) {
      const r = resources.find((x) => x.custom && x.urn.endsWith(`::${d.resource}`));
      if (!r) throw new Error(`${program.name}: no resource named "${d.resource}" in the stack (e2e.json drift[].resource)`);
      drifted.add(r.urn);
      const [cmd, ...args] = d.command.map((a) => expand(a, vars));
      await run(cmd, args, { env: sandbox.env, label: `drift: ${[cmd, ...args].join(" ")}` });
    }
    const refresh = await s.json(["refresh", "--yes", "--skip-preview"]);
    // Exactly the drifted resources changed: updated, or deleted when the drift removed the object.
    const changed = [...opsOf(refresh)].filter(([, op]) => op !== "same");
    expect(changed.map(([urn]) => urn).sort()).toEqual([...drifted].sort());
    for (const [urn, op] of changed) expect(`${op} ${urn}`).toMatch(/^(update|delete) /);

    const preview = await s.json(["preview"], { env: TRANSPILE_ONLY });
    expect(changeCount(summaryOf(preview))).toBeGreaterThan(0);
    for (const urn of drifted) expect(opsOf(preview).get(urn)).not.toBe("same");

    expect(changeCount(summaryOf(await s.json(["up", "--yes", "--skip-preview"], { env: TRANSPILE_ONLY })))).toBeGreaterThan(0);
    await noChanges(s);
  });

  for (const step of edits) {
    const what = [step.dir && `${path.relative(REPO, step.dir)}/`, step.config && `config ${JSON.stringify(step.config)}`].filter(Boolean).join(" + ");
    const apply = async (s: Stack) => {
      const argv = (c: string[]) => c.map((a) => expand(a, vars));
      for (const c of step.before) await run(argv(c)[0], argv(c).slice(1), { env: sandbox.env, label: `before ${step.name}: ${c.join(" ")}` });
      const output = async (c: string[]) => (await run(argv(c)[0], argv(c).slice(1), { env: sandbox.env, label: c.join(" ") })).stdout;
      const unchangedBefore = await Promise.all(step.unchanged.map(output));
      if (step.dir) expect(applyStep(step.dir, work).length).toBeGreaterThan(0);
      for (const [k, v] of Object.entries(configOf(step.config))) await s.pulumi(["config", "set", k, v]);
      atLeast(`${step.name} preview`, summaryOf(await s.json(["preview"])), step.expect);
      const domains = step.sameDomainId.map((d) => expand(d, vars));
      const idsBefore = domains.map((d) => virsh("domid", d).trim());
      atLeast(`${step.name} up`, summaryOf(await s.json(["up", "--yes", "--skip-preview"], { env: TRANSPILE_ONLY })), step.expect);
      expect(domains.map((d) => `${d}: ${virsh("domid", d).trim()}`)).toEqual(domains.map((d, i) => `${d}: ${idsBefore[i]}`));
      expect(await Promise.all(step.unchanged.map(output))).toEqual(unchangedBefore);
      for (const c of step.checks) {
        const [cmd, ...args] = c.command.map((a) => expand(a, vars));
        await eventually(cmd, args, new RegExp(expand(c.match, vars)));
      }
      const resources = await s.resources();
      for (const [logical, want] of Object.entries(step.outputs)) {
        const r = resources.find((x) => x.custom && x.urn.endsWith(`::${logical}`));
        if (!r) throw new Error(`${program.name} ${step.name}: no resource named "${logical}" (e2e.json steps.${step.name}.outputs)`);
        expect(Object.fromEntries(Object.keys(want).map((k) => [k, r.outputs[k]]))).toEqual(want);
      }
      const said = await noChanges(s);
      if (step.previewSays) expect(said).toContain(step.previewSays);
    };
    const known = step.knownIssue;
    const title = `${step.name} (${what}): at least ${JSON.stringify(step.expect)}, then no changes`;
    if (!known) phase(title, apply);
    else {
      // The last step; destroy and the leak check still follow.
      phase(`${title} -- KNOWN ISSUE, must fail with "${known.error}"`, async (s) => {
        const failure = await apply(s).then(() => undefined, (e: unknown) => e);
        if (!failure) throw new Error(`${program.name} ${step.name} passes now: the known issue looks fixed; remove its "knownIssue" from e2e.json`);
        const message = failure instanceof Error ? failure.message : String(failure);
        if (!message.includes(known.error)) throw failure;
        console.log(`${program.name} ${step.name}: known issue (${known.note}) reproduced:\n${message}`);
      });
    }
  }

  phase("destroy", async (s) => {
    const summary = summaryOf(await s.json(["destroy", "--yes", "--skip-preview"]));
    s.destroyed = true;
    expect(summary.delete ?? 0).toBeGreaterThan(1);
    await s.pulumi(["stack", "rm", "--yes"]);
  }, { always: true });

  phase("libvirt holds nothing the stack created", async () => {
    expect(leftovers(prefix)).toEqual([]);
    if (remote) expect(leftovers(prefix, remoteHost())).toEqual([]);
  }, { always: true });

  afterAll(async () => {
    // After a failure: let Pulumi delete what it can, then remove the rest by prefix.
    if (stack && !stack.destroyed) await stack.tryDestroy();
    await purge(prefix);
    if (remote) {
      // Its qemu processes would outlive the daemon; its objects and files go with its directory.
      for (const d of leftovers(prefix, remoteHost()).filter((l) => l.startsWith("domain "))) {
        await run("virsh", ["-c", vars.remoteUri, "destroy", d.slice("domain ".length)], { allowFail: true });
      }
      await remote.stop();
    }
  });
});
