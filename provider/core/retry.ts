/**
 * Retries and waits. The Pulumi engine neither retries dynamic-provider calls nor enforces
 * customTimeouts, so both live here: transient libvirt errors are retried with backoff until a
 * deadline, and every wait has a deadline and says what it is waiting for.
 */
import { ErrorCode, isConnectionLost, LibvirtError } from "../libvirt/errors";
import { progress } from "./progress";

/** Errors worth another try: busy locks, a daemon restarting under us, an agent not up yet. */
export function isTransient(e: unknown): boolean {
  if (!(e instanceof LibvirtError)) return false;
  if (isConnectionLost(e)) return true;
  if (e.code === ErrorCode.RESOURCE_BUSY || e.code === ErrorCode.AGENT_UNRESPONSIVE) return true;
  // "Timed out during operation: cannot acquire state change lock" while another job runs.
  return e.code === ErrorCode.OPERATION_TIMEOUT && /lock/i.test(e.message);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Run fn, retrying transient errors with exponential backoff (0.25 s .. 5 s) until timeoutMs.
 * After a lost connection, reconnect() replaces it before the next try (a daemon restart).
 */
export async function retrying<T>(fn: () => Promise<T>, timeoutMs: number, reconnect?: () => Promise<void>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 250; ; delay = Math.min(delay * 2, 5000)) {
    try {
      return await fn();
    } catch (e) {
      if (!isTransient(e) || Date.now() + delay > deadline) throw e;
      await sleep(delay);
      if (reconnect && isConnectionLost(e)) await reconnect().catch(() => undefined);
    }
  }
}

export class DeadlineError extends Error {
  override readonly name = "DeadlineError";
}

/**
 * Poll until check() returns a value other than undefined. Says what it waits for after a few
 * seconds, then every 15 s; throws DeadlineError naming the wait and the setting to raise.
 */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number, setting: string, intervalMs = 500): Promise<T> {
  const start = Date.now();
  let lastSaid = start;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    const elapsed = Date.now() - start;
    if (elapsed >= timeoutMs) {
      throw new DeadlineError(`timed out after ${Math.round(elapsed / 1000)} s waiting for ${what}; raise ${setting} if it needs longer`);
    }
    if (Date.now() - lastSaid >= (lastSaid === start ? 3000 : 15000)) {
      progress(`waiting for ${what} (${Math.round(elapsed / 1000)} s of ${Math.round(timeoutMs / 1000)} s)`);
      lastSaid = Date.now();
    }
    await sleep(intervalMs);
  }
}
