/**
 * A quickstart stack made with the dynamic classes moves to the provider plugin without
 * recreating anything, by the README's recipe: `pulumi stack export`, `pulumi-libvirt
 * migrate-state`, `pulumi stack import`, then the program imports `pulumi-libvirt/plugin` and
 * Pulumi.yaml points at the plugin. The next preview is empty, every object keeps its uuid, the
 * VM keeps running (same domain id), and a live change and destroy work through the plugin.
 * Also measures what the plugin costs: the quickstart's no-op preview, both ways, in this run.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { TEST_URI, virsh } from "../util";
import { e2ePrefix, eventually, freeOctet, leftovers, purge, REPO, reportTimings, run, Sandbox, Stack, summaryOf, symlinkFarm } from "./harness";

jest.setTimeout(20 * 60 * 1000);

const sandbox = new Sandbox("plugin-migration");
const started = Date.now();
const prefix = e2ePrefix();
const VM = `${prefix}-vm`;
const TRANSPILE_ONLY = { PULUMI_NODEJS_TRANSPILE_ONLY: "true" };
let stack: Stack;
let work: string;

/** Replace a symlink of the farm with a file of its own. */
function rewrite(file: string, edit: (text: string) => string): void {
  const to = path.join(work, file);
  const text = fs.readFileSync(to, "utf8");
  fs.rmSync(to);
  fs.writeFileSync(to, edit(text));
}

async function noOpPreviewSeconds(runs = 3): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) ms.push((await stack.pulumi(["preview", "--expect-no-changes"], { env: TRANSPILE_ONLY })).ms);
  return ms.sort((a, b) => a - b)[Math.floor(runs / 2)] / 1000;
}

const uuids = () => ({
  vm: virsh("domuuid", VM).trim(),
  net: virsh("net-uuid", `${prefix}-net`).trim(),
  pool: virsh("pool-uuid", prefix).trim(),
});

beforeAll(async () => {
  await sandbox.init();
  const guest = await run("bash", ["test/guest/build.sh"], { cwd: REPO, env: sandbox.env, label: "test/guest/build.sh" });
  work = symlinkFarm(sandbox, REPO, "plugin-migration");
  stack = await sandbox.stack(work, { prefix, subnet: `192.168.${freeOctet()}.1/24`, guestDir: guest.stdout.trim().split("\n").pop()! });
}, 20 * 60 * 1000);

afterAll(async () => {
  if (!stack?.destroyed) await stack?.tryDestroy();
  await purge(prefix);
  reportTimings("e2e plugin migration", started);
  sandbox.cleanup();
});

test("the dynamic quickstart moves to the plugin with no changes and nothing recreated; then it updates live and destroys through the plugin", async () => {
  await stack.pulumi(["up", "--yes", "--skip-preview"]);
  const before = uuids();
  const domid = virsh("domid", VM).trim();
  const dynamicPreview = await noOpPreviewSeconds();

  const exported = path.join(work, "before.json");
  const migrated = path.join(work, "after.json");
  await stack.pulumi(["stack", "export", "--file", exported]);
  const cli = await run("bash", ["-c", `node "${REPO}/bin/provider/cli.js" migrate-state < "${exported}" > "${migrated}"`], { env: sandbox.env, label: "pulumi-libvirt migrate-state" });
  expect(cli.stderr).toContain("5 resource(s) moved to the plugin");
  await stack.pulumi(["stack", "import", "--file", migrated]);
  rewrite("index.ts", (t) => t.replace(/from "pulumi-libvirt";/, 'from "pulumi-libvirt/plugin";'));
  rewrite("Pulumi.yaml", (t) => `${t}plugins:\n  providers:\n    - name: libvirt\n      path: plugin\n`);

  // Type-checked once (the program now uses the plugin's classes), then timed like the dynamic runs.
  await stack.pulumi(["preview", "--expect-no-changes"]);
  const pluginPreview = await noOpPreviewSeconds();
  console.log(`quickstart no-op preview, median of 3: dynamic ${dynamicPreview.toFixed(2)} s, plugin ${pluginPreview.toFixed(2)} s (plugin/dynamic ${(pluginPreview / dynamicPreview).toFixed(2)})`);

  const types = (await stack.resources()).filter((r) => r.custom).map((r) => r.type).sort();
  expect(types).toEqual([
    "libvirt:index:CloudInitDisk", "libvirt:index:Domain", "libvirt:index:Network", "libvirt:index:StoragePool", "libvirt:index:Volume",
    "pulumi:providers:libvirt",
  ]);
  expect(uuids()).toEqual(before);
  expect(virsh("domid", VM).trim()).toBe(domid);

  expect(summaryOf(await stack.json(["up", "--yes", "--skip-preview", "-c", "memory=384MiB"], { env: TRANSPILE_ONLY })).update).toBe(1);
  // The balloon driver gets there within seconds of the update (polled, as the examples' checks are).
  await eventually("virsh", ["-c", TEST_URI, "dominfo", VM], /Used memory:\s+393216 KiB/);
  expect(virsh("domid", VM).trim()).toBe(domid);
  await stack.pulumi(["preview", "--expect-no-changes"], { env: TRANSPILE_ONLY });

  await stack.pulumi(["destroy", "--yes", "--skip-preview"]);
  stack.destroyed = true;
  expect(leftovers(prefix)).toEqual([]);
});
