/** Helpers shared by the integration tests (*.int.test.ts), which drive the real libvirtd. */
import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { LibvirtError } from "../provider/libvirt/errors";

/** Every integration test talks to the local system daemon, as CI starts it. */
export const TEST_URI = process.env.PULUMI_LIBVIRT_TEST_URI ?? "qemu:///system";

/** Names unique per run, so a crashed run never collides with the next one. */
export function uniqueName(prefix: string): string {
  return `plt-${prefix}-${randomBytes(4).toString("hex")}`;
}

/** Run virsh against the test daemon: libvirt's own C client, the reference for cross-checks. */
export function virsh(...args: string[]): string {
  return execFileSync("virsh", ["-q", "-c", TEST_URI, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** The test daemon's storage pools by name, sorted, as virsh lists them (active and inactive). */
export function virshPools(uri = TEST_URI): string[] {
  return execFileSync("virsh", ["-q", "-c", uri, "pool-list", "--all", "--name"], { encoding: "utf8" }).split("\n").map((s) => s.trim()).filter(Boolean).sort();
}

/** virsh that is allowed to fail (cleanup of objects that may already be gone). */
export function virshQuiet(...args: string[]): void {
  try {
    virsh(...args);
  } catch {
    // already gone
  }
}

const execFileAsync = promisify(execFile);

/**
 * virsh without blocking the event loop: while a synchronous virsh runs (seconds on a busy
 * daemon), a client in the same process cannot read its keepalive answers.
 */
export async function vsh(...args: string[]): Promise<string> {
  return (await execFileAsync("virsh", ["-q", "-c", TEST_URI, ...args], { encoding: "utf8" })).stdout;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether a process exists (EPERM: it does, owned by someone else). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Poll cond until it holds, failing after ms. */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** The LibvirtError p rejects with; fails the test when p resolves. */
export async function rejection(p: Promise<unknown>): Promise<LibvirtError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(LibvirtError);
    return e as LibvirtError;
  }
  throw new Error("expected the call to reject");
}

/** Cleanup needs the daemon: wait out a restart (connection.int.test.ts restarts it). */
export async function awaitDaemon(ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      await vsh("uri");
      return;
    } catch {
      await sleep(250);
    }
  }
}
