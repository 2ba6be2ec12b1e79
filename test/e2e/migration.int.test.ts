/**
 * Migration through the real CLI and the provider plugin (Pulumi YAML): a running VM whose
 * `uri` comes from stack config. Changing the config to a second libvirt host
 * (test/migration/host.ts) previews as an update, `pulumi up` live-migrates the guest (same
 * uuid, running there, gone here), the next preview is empty, and destroy removes it from the
 * host it is on now.
 */
import * as path from "node:path";
import { TEST_URI, virsh } from "../util";
import { SecondHost, startSecondHost } from "../migration/host";
import { e2ePrefix, opsOf, purge, reportTimings, Sandbox, Stack } from "./harness";

jest.setTimeout(20 * 60 * 1000);

const sandbox = new Sandbox("migration");
const started = Date.now();
const prefix = e2ePrefix();
let stack: Stack;
let h: SecondHost;
const VM = `${prefix}-vm`;
const onSystem = () => virsh("list", "--all", "--name").split("\n").map((s) => s.trim()).includes(VM);

beforeAll(async () => {
  await sandbox.init();
  await sandbox.pack();
  const work = await sandbox.installCopy(path.join(__dirname, "programs-yaml", "migration"), "migration");
  stack = await sandbox.stack(work, { prefix, host: TEST_URI });
  h = await startSecondHost();
}, 20 * 60 * 1000);

afterAll(async () => {
  await stack?.tryDestroy();
  await h?.stop();
  await purge(prefix);
  reportTimings("e2e migration", started);
  sandbox.cleanup();
});

test("a new host in config previews as an update and moves the running VM there live; nothing left behind", async () => {
  await stack.pulumi(["up", "--yes", "--skip-preview"]);
  const { uuid } = await stack.outputs();
  expect(virsh("domstate", VM).trim()).toBe("running");

  await stack.pulumi(["config", "set", "host", h.uri]);
  const preview = opsOf(await stack.json(["preview"]));
  expect([...preview.values()].filter((op) => op !== "same")).toEqual(["update"]);

  await stack.pulumi(["up", "--yes", "--skip-preview"]);
  expect(onSystem()).toBe(false);
  expect((await h.virsh("domstate", VM)).trim()).toBe("running");
  expect((await h.virsh("domuuid", VM)).trim()).toBe(uuid);
  expect(await stack.outputs()).toEqual({ uuid, status: "running" });
  await stack.pulumi(["preview", "--expect-no-changes"]);

  await stack.pulumi(["destroy", "--yes", "--skip-preview"]);
  stack.destroyed = true;
  expect((await h.virsh("list", "--all", "--name")).trim()).toBe("");
  expect(onSystem()).toBe(false);
});
