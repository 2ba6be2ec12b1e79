/**
 * Disks and NICs of a running guest: hot-plugged, unplugged (a request the guest completes),
 * re-plugged when changed, cdrom media swapped. The definition already holds the new lists.
 */
import { isDeepStrictEqual } from "node:util";
import { Impact } from "../../libvirt/constants";
import type { DomainRef } from "../../libvirt/protocol";
import { progress } from "../../core/progress";
import { Context, projectOnto } from "../../core/resource";
import { DeadlineError, waitFor } from "../../core/retry";
import { DiskBus, DomainDef, diskDeviceXml, domainFromXml, interfaceDeviceXml } from "../../xml/domain";
import type { DomainInputs } from "./inputs";

const HOTPLUG_BUSES: DiskBus[] = ["virtio", "scsi", "usb"];
/** How long a live unplug may take the guest before the device is left for the next restart. */
const DETACH_TIMEOUT_MS = 120_000;

/** Devices compare by content: key order and absent-vs-undefined keys do not matter. */
function sameDevice(a: object, b: object): boolean {
  const defined = (o: object) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  return isDeepStrictEqual(defined(a), defined(b));
}

/** The live device as the inputs would write it, to compare. */
const asWritten = <T extends object>(desired: T, current: object) => projectOnto(desired, current) as T;

/**
 * A live unplug that returns whether the guest released the device; one it kept goes at the
 * next restart.
 */
async function detach(ctx: Context, dom: DomainRef, name: string, xml: string, what: string, present: (d: DomainDef) => boolean): Promise<boolean> {
  try {
    await detachAndWait(ctx, dom, xml, what, present);
    return true;
  } catch (e) {
    if (!(e instanceof DeadlineError)) throw e;
    progress(`domain "${name}": the guest did not release ${what}; it goes at the next restart`);
    return false;
  }
}

const liveDef = async (ctx: Context, dom: DomainRef) => (await domainFromXml(await ctx.lv.domainGetXmlDesc(dom))).def;

/**
 * Bring the running guest's disks to the new list. The guest's live devices are the starting
 * point, not the recorded ones, so a disk already there (or already gone) is left alone.
 * Deferred: a non-hotpluggable bus, or a detach the guest did not complete.
 */
export async function plugDisks(ctx: Context, dom: DomainRef, olds: DomainInputs, news: DomainInputs): Promise<boolean> {
  let deferred = false;
  const live = await liveDef(ctx, dom);
  const liveDisks = new Map(live.disks.map((d) => [d.target, d]));
  const newDisks = new Map(news.disks.map((d) => [d.target, d]));
  // Removed disks (those the previous inputs had, or that are attached live but not wanted).
  for (const old of [...olds.disks, ...live.disks]) {
    const current = liveDisks.get(old.target);
    if (newDisks.has(old.target) || !current) continue;
    liveDisks.delete(old.target);
    if (!HOTPLUG_BUSES.includes(current.bus)) deferred = true;
    else if (!(await detach(ctx, dom, news.name, diskDeviceXml(current), `disk ${old.target}`, (x) => x.disks.some((y) => y.target === old.target)))) deferred = true;
  }
  for (const [target, d] of newDisks) {
    const current = liveDisks.get(target);
    // The source counts even where the inputs leave it out: an empty cdrom is not a loaded one.
    if (current && sameDevice(d, { ...asWritten(d, current), volume: current.volume, file: current.file, block: current.block })) continue;
    if (current && d.device === "cdrom" && current.device === "cdrom" && current.bus === d.bus) {
      await ctx.lv.domainUpdateDevice(dom, diskDeviceXml(d), Impact.LIVE); // media swap (or eject)
      continue;
    }
    if (!HOTPLUG_BUSES.includes(d.bus) || (current && !HOTPLUG_BUSES.includes(current.bus))) {
      deferred = true;
      continue;
    }
    if (current && !(await detach(ctx, dom, news.name, diskDeviceXml(current), `disk ${target}`, (x) => x.disks.some((y) => y.target === target)))) {
      deferred = true;
      continue;
    }
    await ctx.lv.domainAttachDevice(dom, diskDeviceXml(d), Impact.LIVE);
  }
  return deferred;
}

/** Bring the running guest's NICs to the new list: unplug removed and changed ones, plug new ones. */
export async function plugInterfaces(ctx: Context, dom: DomainRef, olds: DomainInputs, news: DomainInputs): Promise<boolean> {
  let deferred = false;
  const live = await liveDef(ctx, dom);
  const liveNics = new Map(live.interfaces.map((i) => [i.mac.toLowerCase(), i]));
  const newNics = new Map(news.interfaces.map((i) => [i.mac, i]));
  for (const mac of new Set([...olds.interfaces.map((i) => i.mac.toLowerCase()), ...liveNics.keys()])) {
    const current = liveNics.get(mac);
    const next = newNics.get(mac);
    if (!current || (next && sameDevice(next, asWritten(next, current)))) continue;
    if (await detach(ctx, dom, news.name, interfaceDeviceXml(current), `interface ${mac}`, (x) => x.interfaces.some((y) => y.mac.toLowerCase() === mac))) liveNics.delete(mac);
    else deferred = true;
  }
  for (const [mac, i] of newNics) {
    if (liveNics.has(mac)) continue; // unchanged, or changed but not released
    await ctx.lv.domainAttachDevice(dom, interfaceDeviceXml(i), Impact.LIVE);
  }
  return deferred;
}

/** Live detach is a request the guest completes: wait until the device has left the live XML. */
async function detachAndWait(ctx: Context, dom: DomainRef, xml: string, what: string, present: (d: DomainDef) => boolean): Promise<void> {
  await ctx.lv.domainDetachDevice(dom, xml, Impact.LIVE);
  await waitFor(`the guest to release ${what}`, async () => {
    const { def } = await domainFromXml(await ctx.lv.domainGetXmlDesc(dom));
    return present(def) ? undefined : true;
  }, Math.min(ctx.timeoutMs, DETACH_TIMEOUT_MS), "timeoutSeconds");
}
