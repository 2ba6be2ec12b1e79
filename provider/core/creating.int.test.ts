/**
 * The create journal against the real daemon, through the compiled provider the plugin server
 * calls (bin/): a create that returned but was never recorded (pulumi killed before the engine
 * wrote its state) leaves its object and its note; the next create of the same URN removes that
 * leftover and creates again. Objects nobody noted are never touched.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeProviderConnections } from "../../test/provider";
import { TEST_URI, uniqueName, virsh, virshQuiet } from "../../test/util";

// The module instance the plugin server uses (Node's own require, outside jest's registry).
const nativeRequire = Object.getPrototypeOf(require("node:module")).createRequire(__filename);
const { resourceProvider } = nativeRequire("../../bin/provider/index.js");
const { settled } = nativeRequire("../../bin/provider/core/creating.js");
const { setConfiguredUri } = nativeRequire("../../bin/provider/core/connections.js");
const nodeEnv: NodeJS.ProcessEnv = nativeRequire("node:process").env; // jest's process.env is a copy

const journal = mkdtempSync(join(tmpdir(), "plt-journal-"));
const pool = uniqueName("jrn");
const net = uniqueName("jrn");
const urn = (kind: string, name: string) => `urn:pulumi:test::creating::libvirt:index:${kind}::${name}`;
const volNames = () => virsh("vol-list", pool).split("\n").map((l) => l.trim().split(/\s+/)[0]).filter(Boolean);

beforeAll(() => {
  // That module instance outlives test files (jest runs them in one process): a provider another
  // file configured must not decide where these creates go.
  setConfiguredUri(TEST_URI);
  nodeEnv.PULUMI_LIBVIRT_JOURNAL_DIR = journal;
  virsh("pool-create-as", pool, "dir", "--target", `/var/lib/libvirt/images/${pool}`, "--build");
});

afterAll(async () => {
  virshQuiet("net-destroy", net);
  virshQuiet("net-undefine", net);
  for (const v of (() => { try { return volNames(); } catch { return []; } })()) virshQuiet("vol-delete", "--pool", pool, v);
  virshQuiet("pool-destroy", pool); // transient (pool-create-as): destroying it removes it
  rmSync(`/var/lib/libvirt/images/${pool}`, { recursive: true, force: true });
  rmSync(journal, { recursive: true, force: true });
  delete nodeEnv.PULUMI_LIBVIRT_JOURNAL_DIR;
  await closeProviderConnections();
});

async function create(kind: string, inputs: object, owner?: string) {
  const p = resourceProvider(kind);
  const { inputs: checkedInputs, failures } = await p.check({}, inputs);
  if (failures?.length) throw new Error(JSON.stringify(failures));
  return p.create(checkedInputs, undefined, owner);
}

test("a volume whose create was never recorded is removed and made again by the same URN's next create", async () => {
  const owner = urn("Volume", "disk");
  const inputs = { pool, name: `${pool}-a.qcow2`, capacity: "1MiB", format: "qcow2" };
  const first = await create("Volume", inputs, owner);
  // pulumi died here: libvirt has the volume, the state does not, the note stays.
  expect(readdirSync(journal)).toHaveLength(1);
  const second = await create("Volume", inputs, owner);
  expect(volNames()).toEqual([inputs.name]);
  expect(second.id).toBe(first.id); // a dir pool's key is the path: same name, same key
  expect(second.outs.capacity).toBe(1024 ** 2);

  // Once the engine shows the state holds it (diff, read...), the note goes; a create then fails as before.
  settled(owner);
  expect(readdirSync(journal)).toHaveLength(0);
  await expect(create("Volume", inputs, owner)).rejects.toThrow(/already exists/);
  expect(volNames()).toEqual([inputs.name]);
});

test("an object nobody noted is never touched: another URN's create, or one without a URN, fails as before", async () => {
  const name = `${pool}-b.qcow2`;
  virsh("vol-create-as", pool, name, "1M", "--format", "raw");
  await expect(create("Volume", { pool, name, capacity: "2MiB" }, urn("Volume", "other"))).rejects.toThrow(/already exists/);
  await expect(create("Volume", { pool, name, capacity: "2MiB" })).rejects.toThrow(/already exists/);
  expect(virsh("vol-info", "--bytes", "--pool", pool, name)).toMatch(/Capacity:\s+1048576 bytes/);
  // The name was taken before the create began, so nothing was noted for it.
  expect(readdirSync(journal)).toHaveLength(0);
});

test("a network left by an interrupted create gets a new definition (a new uuid) on the next create", async () => {
  const owner = urn("Network", "lab");
  const inputs = { name: net, mode: "isolated", start: true };
  const first = await create("Network", inputs, owner);
  const second = await create("Network", inputs, owner);
  expect(second.id).not.toBe(first.id);
  expect(virsh("net-uuid", net).trim()).toBe(second.id);
  expect(virsh("net-info", net)).toMatch(/Active:\s+yes/);
  settled(owner);
});

test("a pool left by an interrupted create goes with the directory it built (noted before the build), so a later destroy removes it", async () => {
  const owner = urn("StoragePool", "images");
  const name = `${pool}-p`;
  const dir = `/var/lib/libvirt/images/${name}`;
  const inputs = { name, type: "dir", target: { path: dir } };
  try {
    await create("StoragePool", inputs, owner);
    // pulumi died here; the note says the create built the directory.
    const second = await create("StoragePool", inputs, owner);
    expect(virsh("pool-uuid", name).trim()).toBe(second.id);
    expect(second.outs.builtByProvider).toBe(true); // the directory was removed with the leftover and built again
    settled(owner);
    await resourceProvider("StoragePool").delete(second.id, second.outs);
    expect(existsSync(dir)).toBe(false);
  } finally {
    virshQuiet("pool-destroy", name);
    virshQuiet("pool-undefine", name);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a pool on a directory that existed before is removed without it", async () => {
  const owner = urn("StoragePool", "existing");
  const name = `${pool}-e`;
  const dir = `/var/lib/libvirt/images/${name}`;
  mkdirSync(dir);
  const inputs = { name, type: "dir", target: { path: dir } };
  try {
    await create("StoragePool", inputs, owner);
    const second = await create("StoragePool", inputs, owner);
    expect(second.outs.builtByProvider).toBe(false);
    expect(existsSync(dir)).toBe(true);
    settled(owner);
  } finally {
    virshQuiet("pool-destroy", name);
    virshQuiet("pool-undefine", name);
    rmSync(dir, { recursive: true, force: true });
  }
});
