/**
 * A Domain's run state: lookup, start, graceful stop with a deadline, pause and resume, managed
 * save and restore, and waiting for the guest's addresses.
 */
import { DomainCreateFlags, DomainState, InterfaceAddressSource } from "../../libvirt/constants";
import { ErrorCode, isLibvirtError, isNoAnswer, isNotFound } from "../../libvirt/errors";
import { uuidBytes } from "../../libvirt/client";
import type { DomainRef } from "../../libvirt/protocol";
import { progress } from "../../core/progress";
import type { Context } from "../../core/resource";
import { waitFor } from "../../core/retry";
import type { DomainInputs } from "./inputs";

/** How often a graceful shutdown presses the ACPI power button again. */
const SHUTDOWN_REPEAT_MS = 5000;

export async function lookup(ctx: Context, id: string): Promise<DomainRef | undefined> {
  try {
    return await ctx.lv.domainLookupByUuid(uuidBytes(id));
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

export async function runState(ctx: Context, dom: DomainRef): Promise<number> {
  return (await ctx.lv.domainGetState(dom)).state;
}

/** Shut off with a managed-save image: a start restores it. */
export async function isSaved(ctx: Context, dom: DomainRef, state?: number): Promise<boolean> {
  return (state ?? (await runState(ctx, dom))) === DomainState.SHUTOFF && ctx.lv.domainHasManagedSaveImage(dom);
}

/** Write the running guest's memory to the host and stop it; its next start resumes it. */
async function save(ctx: Context, dom: DomainRef, inputs: DomainInputs): Promise<void> {
  await waitForAddresses(ctx, dom, inputs);
  await ctx.retry(() => ctx.lv.domainManagedSave(dom));
}

/**
 * ACPI shutdown, waiting up to the deadline, then a forced stop. The power-button press is
 * repeated every few seconds: a guest still booting (or between reboots) misses the first one.
 * A paused guest is resumed first, since it cannot react while paused.
 */
export async function stop(ctx: Context, dom: DomainRef, inputs: Pick<DomainInputs, "name" | "shutdownTimeoutSeconds">): Promise<void> {
  const state = await runState(ctx, dom);
  if (state === DomainState.SHUTOFF) return;
  const timeoutMs = (inputs.shutdownTimeoutSeconds ?? 60) * 1000;
  if (timeoutMs > 0 && state !== DomainState.CRASHED) {
    try {
      if (state === DomainState.PAUSED) await ctx.lv.domainResume(dom);
      let pressed = 0;
      await waitFor(`domain "${inputs.name}" to shut down`, async () => {
        if ((await runState(ctx, dom)) === DomainState.SHUTOFF) return true;
        if (Date.now() - pressed >= SHUTDOWN_REPEAT_MS) {
          pressed = Date.now();
          await ctx.lv.domainShutdown(dom).catch((e) => {
            if (!isLibvirtError(e, ErrorCode.OPERATION_INVALID)) throw e; // went off meanwhile
          });
        }
        return undefined;
      }, timeoutMs, "shutdownTimeoutSeconds");
      return;
    } catch (e) {
      if (isLibvirtError(e) && e.code !== ErrorCode.OPERATION_INVALID) throw e;
      progress(`domain "${inputs.name}" did not shut down within ${timeoutMs / 1000} s; forcing it off`);
    }
  }
  await ctx.lv.domainDestroy(dom).catch((e) => {
    if (!isLibvirtError(e, ErrorCode.OPERATION_INVALID)) throw e; // already off
  });
}

export async function start(ctx: Context, dom: DomainRef, paused: boolean): Promise<void> {
  await ctx.retry(() => ctx.lv.domainCreate(dom, paused ? DomainCreateFlags.START_PAUSED : 0));
}

/** Bring the run state to what the inputs ask for. */
export async function applyState(ctx: Context, dom: DomainRef, inputs: DomainInputs): Promise<void> {
  let now = await runState(ctx, dom);
  const saved = await isSaved(ctx, dom, now);
  if (inputs.state === "shutoff") {
    if (saved) {
      progress(`domain "${inputs.name}": discarding its saved memory image (state shutoff)`);
      await ctx.lv.domainManagedSaveRemove(dom);
    }
    return stop(ctx, dom, inputs);
  }
  if (inputs.state === "saved" && saved) return;
  if (now === DomainState.SHUTOFF || now === DomainState.CRASHED) {
    if (now === DomainState.CRASHED) await ctx.lv.domainDestroy(dom).catch(() => undefined);
    // A saved guest is restored as it was saved (running or paused), a shut-off one boots.
    await start(ctx, dom, inputs.state === "paused");
    now = await runState(ctx, dom);
  }
  if (inputs.state === "saved") return save(ctx, dom, inputs);
  if (inputs.state === "paused" && now !== DomainState.PAUSED) await ctx.lv.domainSuspend(dom);
  if (inputs.state === "running" && now === DomainState.PAUSED) await ctx.lv.domainResume(dom);
}

export async function addresses(ctx: Context, dom: DomainRef, guestAgent: boolean): Promise<{ mac: string; addresses: string[] }[]> {
  const sources = guestAgent ? [InterfaceAddressSource.LEASE, InterfaceAddressSource.AGENT] : [InterfaceAddressSource.LEASE];
  const byMac = new Map<string, Set<string>>();
  for (const source of sources) {
    // No agent, or not answering yet, means no addresses from it; no answer at all is an error.
    const ifaces = await ctx.lv.domainInterfaceAddresses(dom, source).catch((e) => (isNoAnswer(e) ? Promise.reject(e) : []));
    for (const i of ifaces) {
      if (!i.hwaddr || i.name === "lo") continue;
      const set = byMac.get(i.hwaddr.toLowerCase()) ?? new Set<string>();
      for (const a of i.addrs) set.add(a.addr);
      byMac.set(i.hwaddr.toLowerCase(), set);
    }
  }
  return [...byMac].map(([mac, set]) => ({ mac, addresses: [...set].sort() }));
}

/** With waitForIp, wait until a running guest (not paused, saved or off) has an address on each libvirt network. */
export async function waitForAddresses(ctx: Context, dom: DomainRef, inputs: DomainInputs): Promise<void> {
  const wanted = inputs.interfaces.filter((i) => i.network).map((i) => i.mac);
  if (!inputs.waitForIp || !wanted.length || (await runState(ctx, dom)) !== DomainState.RUNNING) return;
  await waitFor(`IP addresses of domain "${inputs.name}" on ${wanted.join(", ")} (DHCP leases${inputs.guestAgent ? " or the guest agent" : ""})`, async () => {
    const found = await ctx.retry(() => addresses(ctx, dom, !!inputs.guestAgent));
    return wanted.every((mac) => found.find((f) => f.mac === mac)?.addresses.length) ? true : undefined;
  }, inputs.waitForIpTimeoutSeconds! * 1000, "waitForIpTimeoutSeconds", 1000);
}
