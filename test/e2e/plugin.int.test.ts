/**
 * The provider plugin (plugin/pulumi-resource-libvirt) through the real CLI, in Pulumi YAML:
 * adopting what virsh made. One object of each kind (pool, volume, network, running domain) is
 * made with virsh, `pulumi import` adopts all four and writes their program, whose preview is
 * then empty; the adopted domain takes a live change; the `import` resource option adopts a
 * fifth object; a DomainSnapshot of the domain is made, described anew in place and reverted;
 * destroy removes them all. (The dynamic resources cannot be imported at all:
 * engine.int.test.ts shows how they fail.)
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { TEST_URI, virsh } from "../util";
import { e2ePrefix, eventually, freeOctet, leftovers, opsOf, purge, REPO, reportTimings, run, Sandbox, Stack, summaryOf } from "./harness";

jest.setTimeout(10 * 60 * 1000);

const sandbox = new Sandbox("plugin");
const started = Date.now();
const prefix = e2ePrefix();
const IMAGES = "/var/lib/libvirt/images";
const PASSWORD = `p${prefix.slice(-7)}`; // 8 characters: the VNC maximum
let stack: Stack;
let work: string;
let header: string;
const ids: Record<string, string> = {};

function defineWithVirsh(guestDir: string, octet: string): void {
  const tmp = path.join(sandbox.root, "xml");
  fs.mkdirSync(tmp, { recursive: true });
  const write = (name: string, text: string) => {
    const f = path.join(tmp, name);
    fs.writeFileSync(f, text);
    return f;
  };
  virsh("pool-define-as", `${prefix}-pool`, "dir", "--target", `${IMAGES}/${prefix}-pool`);
  virsh("pool-build", `${prefix}-pool`);
  virsh("pool-start", `${prefix}-pool`);
  virsh("vol-create-as", `${prefix}-pool`, `${prefix}-disk.qcow2`, "32M", "--format", "qcow2");
  const net = (name: string, o: string, bridge: string) => `<network><name>${name}</name><bridge name='${bridge}'/>
  <ip address='192.168.${o}.1' netmask='255.255.255.0'><dhcp><range start='192.168.${o}.100' end='192.168.${o}.199'/></dhcp></ip></network>`;
  virsh("net-define", write("net.xml", net(`${prefix}-net`, octet, `pe${prefix.slice(-8)}`)));
  virsh("net-start", `${prefix}-net`);
  virsh("net-define", write("net2.xml", `<network><name>${prefix}-net2</name><bridge name='pf${prefix.slice(-8)}'/></network>`));
  virsh("define", write("dom.xml", `<domain type='qemu'><name>${prefix}-vm</name><memory unit='MiB'>192</memory><currentMemory unit='MiB'>160</currentMemory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>${guestDir}/vmlinuz</kernel><initrd>${guestDir}/initrd.img</initrd><cmdline>console=ttyS0 quiet</cmdline></os><features><acpi/></features>
  <devices><disk type='volume' device='disk'><driver name='qemu' type='qcow2'/><source pool='${prefix}-pool' volume='${prefix}-disk.qcow2'/><target dev='vda' bus='virtio'/></disk>
  <interface type='network'><source network='${prefix}-net'/><model type='virtio'/></interface>
  <serial type='pty'/><console type='pty'/><graphics type='vnc' passwd='${PASSWORD}'/></devices></domain>`));
  virsh("start", `${prefix}-vm`);
  ids.pool = virsh("pool-uuid", `${prefix}-pool`).trim();
  ids.vol = virsh("vol-key", "--pool", `${prefix}-pool`, `${prefix}-disk.qcow2`).trim();
  ids.net = virsh("net-uuid", `${prefix}-net`).trim();
  ids.net2 = virsh("net-uuid", `${prefix}-net2`).trim();
  ids.vm = virsh("domuuid", `${prefix}-vm`).trim();
}

beforeAll(async () => {
  await sandbox.init();
  await sandbox.pack();
  const guestDir = (await run("bash", ["test/guest/build.sh"], { cwd: REPO, env: sandbox.env, label: "guest build" })).stdout.trim().split("\n").pop()!;
  work = await sandbox.installCopy(path.join(__dirname, "programs-yaml", "import"), "plugin-import");
  header = fs.readFileSync(path.join(work, "Pulumi.yaml"), "utf8");
  stack = await sandbox.stack(work, {});
  defineWithVirsh(guestDir, freeOctet());
}, 40 * 60 * 1000);

afterAll(async () => {
  if (stack && !stack.destroyed) {
    await stack.pulumi(["state", "unprotect", "--all", "--yes"], { allowFail: true });
    await stack.tryDestroy();
  }
  await purge(prefix);
  reportTimings("e2e plugin", started);
  sandbox.cleanup();
});

test("`pulumi import` adopts a pool, a volume, a network and a running domain that virsh made", async () => {
  const spec = {
    resources: [
      { type: "libvirt:index:StoragePool", name: "pool", id: ids.pool },
      { type: "libvirt:index:Volume", name: "disk", id: ids.vol },
      { type: "libvirt:index:Network", name: "net", id: ids.net },
      { type: "libvirt:index:Domain", name: "vm", id: ids.vm },
    ],
  };
  fs.writeFileSync(path.join(work, "import.json"), JSON.stringify(spec));
  const r = await stack.pulumi(["import", "--file", "import.json", "--yes", "--out", "imported.yaml"]);
  expect(r.stdout).toMatch(/4 imported/);
  const byName = Object.fromEntries((await stack.resources()).filter((x) => x.custom && x.type.startsWith("libvirt:")).map((x) => [x.urn.split("::").pop(), x]));
  expect(Object.keys(byName).sort()).toEqual(["disk", "net", "pool", "vm"]);
  expect(byName.vm.outputs).toMatchObject({ name: `${prefix}-vm`, status: "running", memory: 160 * 2 ** 20 });
  expect(byName.disk.outputs).toMatchObject({ pool: `${prefix}-pool`, name: `${prefix}-disk.qcow2`, format: "qcow2" });
  // The VNC password comes back from libvirt, and goes into state only encrypted.
  expect(JSON.stringify((await stack.pulumi(["stack", "export"])).stdout)).not.toContain(PASSWORD);
  // The objects are untouched.
  expect(virsh("domstate", `${prefix}-vm`)).toMatch(/running/);
});

test("the program it wrote previews with no changes", async () => {
  const generated = fs.readFileSync(path.join(work, "imported.yaml"), "utf8");
  expect(generated).toMatch(/^resources:/m);
  fs.writeFileSync(path.join(work, "Pulumi.yaml"), `${header}${generated}`);
  await stack.pulumi(["preview", "--expect-no-changes", "--diff"]);
  expect(JSON.stringify((await stack.pulumi(["stack", "export"])).stdout)).not.toContain(PASSWORD);
});

test("the adopted domain takes a live change: memory ballooned down, same domain id", async () => {
  const id = virsh("domid", `${prefix}-vm`).trim();
  const program = fs.readFileSync(path.join(work, "Pulumi.yaml"), "utf8");
  const edited = program.replace(/^(\s+memory:) \S+$/m, "$1 128MiB");
  expect(edited).not.toBe(program);
  fs.writeFileSync(path.join(work, "Pulumi.yaml"), edited);
  const up = await stack.json(["up", "--yes", "--skip-preview"]);
  expect(summaryOf(up).update).toBe(1);
  expect(virsh("domid", `${prefix}-vm`).trim()).toBe(id);
  // The balloon reaches its target once the guest's driver answers (it may still be booting).
  await eventually("virsh", ["-c", TEST_URI, "dominfo", `${prefix}-vm`], /Used memory:\s+131072 KiB/);
  await stack.pulumi(["preview", "--expect-no-changes"]);
});

test("the `import` resource option adopts an object the program describes", async () => {
  const program = fs.readFileSync(path.join(work, "Pulumi.yaml"), "utf8");
  fs.writeFileSync(path.join(work, "Pulumi.yaml"), `${program}  net2:
    type: libvirt:index:Network
    properties:
      name: ${prefix}-net2
      mode: isolated
      start: false
      autostart: false
    options:
      import: ${ids.net2}
`);
  const up = await stack.json(["up", "--yes", "--skip-preview"]);
  // The program matches what virsh made: adopted as it is, nothing changed.
  expect(summaryOf(up)).toEqual({ import: 1, same: 5 });
  await stack.pulumi(["preview", "--expect-no-changes"]);
});

test("a DomainSnapshot of the adopted domain: made, its description changed in place, a new revertTrigger reverts (checked with virsh)", async () => {
  const program = fs.readFileSync(path.join(work, "Pulumi.yaml"), "utf8");
  const snapshot = (extra: string) => `${program}  snap:
    type: libvirt:index:DomainSnapshot
    properties:
      domain: ${ids.vm}
      name: s1
${extra}`;
  const xml = () => virsh("snapshot-dumpxml", `${prefix}-vm`, "s1");
  const created = () => /<creationTime>(\d+)<\/creationTime>/.exec(xml())![1];

  fs.writeFileSync(path.join(work, "Pulumi.yaml"), snapshot("      description: first\n"));
  expect(summaryOf(await stack.json(["up", "--yes", "--skip-preview"]))).toMatchObject({ create: 1 });
  expect(virsh("snapshot-list", `${prefix}-vm`, "--name").trim()).toBe("s1");
  expect(xml()).toContain("<description>first</description>");
  expect(xml()).toContain("<state>running</state>");
  const madeAt = created();
  await stack.pulumi(["preview", "--expect-no-changes"]);

  fs.writeFileSync(path.join(work, "Pulumi.yaml"), snapshot("      description: second\n"));
  expect(summaryOf(await stack.json(["up", "--yes", "--skip-preview"]))).toMatchObject({ update: 1 });
  expect(xml()).toContain("<description>second</description>");
  expect(created()).toBe(madeAt); // changed in place, not made again
  await stack.pulumi(["preview", "--expect-no-changes"]);

  // A revert of a running snapshot resumes the guest in a new QEMU process: same uuid, new domain id.
  const idBefore = virsh("domid", `${prefix}-vm`).trim();
  fs.writeFileSync(path.join(work, "Pulumi.yaml"), snapshot("      description: second\n      revertTrigger: r1\n"));
  expect(summaryOf(await stack.json(["up", "--yes", "--skip-preview"]))).toMatchObject({ update: 1 });
  expect(virsh("domstate", `${prefix}-vm`).trim()).toBe("running");
  expect(virsh("domid", `${prefix}-vm`).trim()).not.toBe(idBefore);
  expect(virsh("domuuid", `${prefix}-vm`).trim()).toBe(ids.vm);
  expect(virsh("snapshot-current", `${prefix}-vm`, "--name").trim()).toBe("s1");
  expect(created()).toBe(madeAt);
  await stack.pulumi(["preview", "--expect-no-changes"]);
});

test("destroy (after unprotecting what import protected) removes everything", async () => {
  await stack.pulumi(["state", "unprotect", "--all", "--yes"]);
  const destroy = await stack.json(["destroy", "--yes", "--skip-preview"]);
  stack.destroyed = true;
  const deleted = [...opsOf(destroy)].filter(([urn, op]) => op === "delete" && urn.includes("::libvirt:index:")).map(([urn]) => urn.split("::").pop());
  expect(deleted.sort()).toEqual(["disk", "net", "net2", "pool", "snap", "vm"]);
  // The pool's directory stays: virsh built it, not this stack (builtByProvider false), and a
  // provider removes only storage it made. It is empty, and the test removes it.
  const dir = `${IMAGES}/${prefix}-pool`;
  expect(leftovers(prefix)).toEqual([`file ${dir}`]);
  expect(fs.readdirSync(dir)).toEqual([]);
  fs.rmdirSync(dir);
});
