/**
 * The README's main command itself: `bash scripts/quickstart.sh` (up, then the stack's outputs),
 * on a private backend, with its own stack, prefix and free subnet so it never meets a user's
 * quickstart. The VM's exported address must be the one libvirt's DHCP server leased to it
 * (virsh net-dhcp-leases), and `scripts/quickstart.sh destroy` must leave nothing behind.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { virsh } from "../util";
import { e2ePrefix, freeOctet, leftovers, purge, REPO, run, Sandbox } from "./harness";

jest.setTimeout(15 * 60 * 1000);

const sandbox = new Sandbox("quickstart");
const prefix = e2ePrefix();
const stack = `e2e-${prefix.slice(-8)}`;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  await sandbox.init();
  env = { ...sandbox.env, QUICKSTART_STACK: stack };
}, 10 * 60 * 1000);

afterAll(async () => {
  await run("bash", ["scripts/quickstart.sh", "destroy"], { cwd: REPO, env, allowFail: true });
  await purge(prefix);
  // The stack's config file lives beside Pulumi.yaml (ignored by git); the stack itself in the sandbox.
  fs.rmSync(path.join(REPO, `Pulumi.${stack}.yaml`), { force: true });
  sandbox.cleanup();
});

test("scripts/quickstart.sh boots the VM, and the address it prints is the one libvirt leased to it", async () => {
  const octet = freeOctet();
  const up = await run("bash", ["scripts/quickstart.sh", "up", "-c", `prefix=${prefix}`, "-c", `subnet=192.168.${octet}.1/24`], { cwd: REPO, env, label: "scripts/quickstart.sh" });
  // `pulumi stack output` at the end: ipAddresses ["192.168.N.x"]
  const ip = new RegExp(`ipAddresses\\s+\\["(192\\.168\\.${octet}\\.\\d+)"\\]`).exec(up.stdout)?.[1];
  expect({ ip, stdout: ip ? "" : up.stdout.slice(-2000) }).toEqual({ ip: expect.stringMatching(/^192\.168\./), stdout: "" });
  expect(virsh("domstate", `${prefix}-vm`).trim()).toBe("running");
  const mac = /([0-9a-f]{2}(:[0-9a-f]{2}){5})/.exec(virsh("domiflist", `${prefix}-vm`))![1];
  expect(virsh("net-dhcp-leases", `${prefix}-net`)).toMatch(new RegExp(`${mac}\\s+ipv4\\s+${ip!.replace(/\./g, "\\.")}/24\\s+${prefix}-vm\\s`));
});

test("scripts/quickstart.sh destroy removes everything it made", async () => {
  await run("bash", ["scripts/quickstart.sh", "destroy"], { cwd: REPO, env, label: "scripts/quickstart.sh destroy" });
  expect(leftovers(prefix)).toEqual([]);
});
