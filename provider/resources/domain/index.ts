/**
 * Domain: a virtual machine. What libvirt can change on a running guest is changed live
 * (memory balloon, vCPU hotplug, disk and NIC hotplug, cdrom media, autostart, run state);
 * everything else is written to the persistent definition and takes effect on a restart the
 * user allowed (allowRestart), or on the guest's next restart, listed in `pendingRestart` until
 * then. Only a new name, type or host makes a new VM. The field table (fields.ts) says which is
 * which; this file holds the steps around it: create, read, the definition, restart, delete.
 */
import { isDeepStrictEqual } from "node:util";
import { DomainState, DomainUndefineFlags, DomainXmlFlags } from "../../libvirt/constants";
import { uuidString } from "../../libvirt/client";
import { unlessNotFound } from "../../libvirt/errors";
import type { DomainRef } from "../../libvirt/protocol";
import { PartialCreateError, ResourceSpec } from "../../core/resource";
import type { Context } from "../../core/resource";
import { defaultVirtType, HostFacts, hostFacts } from "../../core/host";
import { DomainDef, domainFromXml } from "../../xml/domain";
import { checkInputs } from "./check";
import { ceilings, definitionXml, withVolumeFormats } from "./definition";
import { domainFields, Target } from "./fields";
import { assertHostSupports, explainStartFailure } from "./hostSupport";
import type { DomainInputs, DomainOutputs, RunState } from "./inputs";
import { addresses, applyState, isSaved, lookup, runState, start, stop, waitForAddresses } from "./lifecycle";

export { domainFields } from "./fields";
export { stableMac } from "./check";
export type { DomainInputs, DomainOutputs } from "./inputs";

const STATUS: Record<number, string> = {
  [DomainState.NOSTATE]: "nostate", [DomainState.RUNNING]: "running", [DomainState.BLOCKED]: "blocked", [DomainState.PAUSED]: "paused",
  [DomainState.SHUTDOWN]: "shutting-down", [DomainState.SHUTOFF]: "shutoff", [DomainState.CRASHED]: "crashed", [DomainState.PMSUSPENDED]: "pmsuspended",
};

const isRunning = (state: number) => state !== DomainState.SHUTOFF && state !== DomainState.CRASHED;

/** Order live list entries like the recorded ones (libvirt sorts disks by bus and target). */
function inRecordedOrder<T>(live: T[], recorded: T[] | undefined, key: (x: T) => string): T[] {
  if (!recorded) return live;
  const pos = new Map(recorded.map((x, i) => [key(x), i]));
  return [...live].sort((a, b) => (pos.get(key(a)) ?? Infinity) - (pos.get(key(b)) ?? Infinity));
}

/** Fields the running guest and its definition can disagree on (memory is the balloon's business). */
const PENDING_CANDIDATES = (Object.keys(domainFields) as (keyof DomainDef & keyof DomainInputs)[])
  .filter((k) => (domainFields[k].effect === "restart" || domainFields[k].effect === "live") && !["memory", "autostart", "state", "xmlOverride"].includes(k));

/**
 * Inputs whose definition differs from what the running guest has: they wait for a restart.
 * Memory counts only when the definition asks for more than the running guest's ceiling (below
 * it, the balloon has it).
 */
export function pendingFields(running: DomainDef, defined: DomainDef, host: HostFacts): string[] {
  const differs = PENDING_CANDIDATES.filter((k) => {
    const same = domainFields[k].same;
    return !(isDeepStrictEqual(defined[k], running[k]) || same?.(defined[k], running[k], host));
  });
  return defined.memory > running.maxMemory! ? ["memory", ...differs] : differs;
}

const parseFull = async (ctx: Context, dom: DomainRef, flags = 0) => domainFromXml(await ctx.lv.domainGetXmlDesc(dom, flags));
const parse = async (ctx: Context, dom: DomainRef, flags = 0) => (await parseFull(ctx, dom, flags)).def;

export const domain: ResourceSpec<DomainInputs, DomainOutputs, Target> = {
  kind: "Domain",
  fields: domainFields,
  identity: ["name", "uri"],
  check: (news, c, olds) => checkInputs(news, c, olds ?? {}),
  describe: (i, id) => `domain "${i.name ?? id}"`,

  async create(ctx, asked) {
    const inputs = await withVolumeFormats(ctx, asked);
    const type = inputs.type ?? (await defaultVirtType(ctx.lv));
    await assertHostSupports(ctx, inputs, type);
    const limits = await ceilings(ctx, inputs);
    const dom = await ctx.retry(async () => ctx.lv.domainDefineXml(await definitionXml(inputs, type, limits)));
    const id = uuidString(dom.uuid);
    try {
      await ctx.lv.domainSetAutostart(dom, !!inputs.autostart);
      if (inputs.state !== "shutoff") await start(ctx, dom, inputs.state === "paused").catch((e) => Promise.reject(explainStartFailure(e, inputs)));
      if (inputs.state === "saved") await applyState(ctx, dom, inputs);
      else await waitForAddresses(ctx, dom, inputs);
    } catch (e) {
      // Defined but not running as asked: recorded as created but not initialised, so the
      // next `pulumi up` retries the start instead of leaking or forgetting the VM.
      throw new PartialCreateError(id, e instanceof Error ? e.message : String(e));
    }
    return { id };
  },

  async read(ctx, id, recorded) {
    const dom = await lookup(ctx, id);
    if (!dom) return undefined;
    const [def, running, state, autostart, host] = await Promise.all([
      parse(ctx, dom, DomainXmlFlags.INACTIVE | DomainXmlFlags.SECURE),
      parseFull(ctx, dom, DomainXmlFlags.SECURE),
      ctx.lv.domainGetState(dom),
      ctx.lv.domainGetAutostart(dom),
      hostFacts(ctx.lv),
    ]);
    const active = isRunning(state.state);
    const saved = await isSaved(ctx, dom, state.state);
    const found = active ? await addresses(ctx, dom, def.guestAgent ?? false) : [];
    const { uuid: _uuid, ...fields } = def;
    const runtimeState: RunState = state.state === DomainState.PAUSED ? "paused" : active ? "running" : saved ? "saved" : "shutoff";
    const ipv4 = found.flatMap((f) => f.addresses).find((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a));
    return {
      live: {
        ...fields,
        disks: inRecordedOrder(def.disks, recorded.disks, (d) => d.target),
        interfaces: inRecordedOrder(def.interfaces, recorded.interfaces, (i) => i.mac),
        autostart,
        state: runtimeState,
      },
      facts: host,
      outputs: {
        uuid: id,
        domainId: active ? dom.id : -1,
        status: saved ? "saved" : STATUS[state.state] ?? `unknown (${state.state})`,
        macs: def.interfaces.map((i) => i.mac),
        interfaceAddresses: found,
        ipAddress: ipv4 ?? "",
        graphicsPort: running.runtime.graphicsPort ?? 0,
        consolePath: running.runtime.consolePath ?? "",
        pendingRestart: active ? pendingFields(running.def, def, host) : [],
      },
    };
  },

  async prepare(ctx, id, olds, asked) {
    const dom = await lookup(ctx, id);
    if (!dom) throw new Error("it no longer exists; run `pulumi refresh` to forget it, then `pulumi up` to create it again");
    const news = await withVolumeFormats(ctx, asked);
    const type = news.type ?? olds.type ?? (await defaultVirtType(ctx.lv));
    await assertHostSupports(ctx, news, type);
    // A saved guest to be running again is restored first, as it was saved; the live steps
    // below then bring it to the new inputs.
    if ((news.state === "running" || news.state === "paused") && (await isSaved(ctx, dom))) await start(ctx, dom, news.state === "paused");
    const definedBefore = await ctx.lv.domainGetXmlDesc(dom, DomainXmlFlags.INACTIVE | DomainXmlFlags.SECURE);
    const defined = (await domainFromXml(definedBefore)).def;
    const limits = await ceilings(ctx, news, { maxMemory: defined.maxMemory!, maxVcpus: defined.maxVcpus! });
    // The definition always takes the whole desired state; the live steps bring the guest along.
    await ctx.retry(async () => ctx.lv.domainDefineXml(await definitionXml(news, type, limits, id)));
    const now = await runState(ctx, dom);
    if (!isRunning(now)) return { dom };
    // A guest to be resumed is resumed first: unplugging a device needs its cooperation.
    if (now === DomainState.PAUSED && news.state === "running") await ctx.lv.domainResume(dom);
    return { dom, running: await parse(ctx, dom), definedBefore };
  },

  restart: {
    allowed: (news) => !!news.allowRestart && news.state !== "shutoff",
    async pending(ctx, { dom }) {
      if (!isRunning(await runState(ctx, dom))) return undefined;
      const [running, defined, host] = await Promise.all([parse(ctx, dom), parse(ctx, dom, DomainXmlFlags.INACTIVE), hostFacts(ctx.lv)]);
      return pendingFields(running, defined, host);
    },
    async run(ctx, { dom, definedBefore }, news) {
      await stop(ctx, dom, news);
      try {
        await start(ctx, dom, news.state === "paused");
      } catch (e) {
        const why = explainStartFailure(e, news);
        if (!definedBefore) throw why;
        // It ran before this update: a definition it cannot start with must not leave it off.
        await ctx.retry(() => ctx.lv.domainDefineXml(definedBefore));
        await start(ctx, dom, news.state === "paused");
        throw new Error(`${why instanceof Error ? why.message : String(why)}; it was started again with its previous definition, and this update was not applied`);
      }
    },
  },

  async settle(ctx, { dom }, news) {
    await waitForAddresses(ctx, dom, news);
  },

  async delete(ctx, id, olds) {
    const dom = await lookup(ctx, id);
    if (!dom) return;
    await stop(ctx, dom, olds);
    const flags = DomainUndefineFlags.MANAGED_SAVE | DomainUndefineFlags.SNAPSHOTS_METADATA | DomainUndefineFlags.NVRAM | DomainUndefineFlags.CHECKPOINTS_METADATA;
    await ctx.retry(() => ctx.lv.domainUndefine(dom, flags));
  },

  async find(ctx, { name }) {
    const dom = await unlessNotFound(() => ctx.retry(() => ctx.lv.domainLookupByName(name!)));
    return dom && uuidString(dom.uuid);
  },
};
