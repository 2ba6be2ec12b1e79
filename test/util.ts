/** Helpers shared by the integration tests (*.int.test.ts), which drive the real libvirtd. */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";

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

/** virsh that is allowed to fail (cleanup of objects that may already be gone). */
export function virshQuiet(...args: string[]): void {
  try {
    virsh(...args);
  } catch {
    // already gone
  }
}
