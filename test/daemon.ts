/** The local libvirtd process, for the tests that kill it (no systemd here: it runs as `libvirtd -d`). */
import { execFileSync } from "node:child_process";
import { Libvirt } from "../provider/libvirt/client";
import { TEST_URI, waitFor } from "./util";

export function daemonPid(): number | undefined {
  try {
    const pids = execFileSync("pidof", ["libvirtd"], { encoding: "utf8" }).trim().split(/\s+/).map(Number);
    return pids.find((p) => p > 0);
  } catch {
    return undefined; // pidof exits 1 when there is none
  }
}

async function daemonAnswers(): Promise<boolean> {
  try {
    const c = await Libvirt.connect(TEST_URI, { keepaliveInterval: 0 });
    await c.getType();
    await c.close();
    return true;
  } catch {
    return false;
  }
}

/** Start libvirtd as it was started here (`libvirtd -d`) and wait until it accepts connections. */
export async function startDaemon(): Promise<void> {
  if (daemonPid() === undefined) execFileSync("libvirtd", ["-d"], { stdio: "ignore" });
  await waitFor(daemonAnswers, "libvirtd to accept connections", 60_000);
}
