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

/**
 * Start libvirtd as it was started here (`libvirtd -d`) and wait until it accepts connections.
 * A SIGKILLed daemon can still be listed for a moment after the kill, so the check for a running
 * daemon is repeated while waiting, not made once.
 */
export async function startDaemon(): Promise<void> {
  await waitFor(async () => {
    if (daemonPid() === undefined) execFileSync("libvirtd", ["-d"], { stdio: "ignore" });
    return daemonAnswers();
  }, "libvirtd to accept connections", 60_000);
}

/** SIGKILL libvirtd and wait until its process is gone (a zombie no longer holds the pidfile lock). */
export async function killDaemon(): Promise<void> {
  const pid = daemonPid();
  if (pid === undefined) return;
  process.kill(pid, "SIGKILL");
  await waitFor(() => daemonPid() !== pid, "the killed libvirtd to exit", 30_000);
}
