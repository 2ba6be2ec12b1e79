/**
 * Moving a guest to another host when its `uri` changes and `migration` asks for it (the field
 * table's move step for `uri`). libvirt's peer-to-peer migration: the source daemon opens the
 * destination itself and runs the whole job, so one call on the source does it, and a client
 * killed meanwhile leaves the guest on exactly one host. The rest of the update (definition,
 * live steps) then runs on the destination.
 */
import { DomainState, JobStatsFlags, MigrateFlags } from "../../libvirt/constants";
import type { DomainRef, TypedParamValue } from "../../libvirt/protocol";
import { redactUri } from "../../libvirt/uri";
import type { Move } from "../../core/fields";
import { formatSize } from "../../core/units";
import { progress } from "../../core/progress";
import type { Context } from "../../core/resource";
import type { DomainInputs } from "./inputs";
import { applyState, isSaved, lookup, runState, stop } from "./lifecycle";

/** How often the source's job figures are reported while a migration runs. */
const PROGRESS_MS = 5000;

export type Migration = NonNullable<DomainInputs["migration"]>;

/** Whether a change of uri replaces the guest: it does unless `migration` asks for a move. */
export const replacesOnNewHost = (_old: unknown, _next: unknown, news: Partial<DomainInputs>) => news.migration === undefined;

export async function migrate({ from, to, id, olds, news }: Move<DomainInputs>): Promise<void> {
  const how = news.migration!;
  const what = `domain "${news.name}"`;
  const [here, there] = await Promise.all([lookup(from, id), lookup(to, id)]);
  if (!here && there) return applyState(to, there, news); // moved by an earlier run whose result was not recorded
  if (!here) throw new Error(`it is on neither ${redactUri(from.uri)} nor ${redactUri(to.uri)}; run \`pulumi refresh\` to forget it`);
  if (there) throw new Error(`both ${redactUri(from.uri)} and ${redactUri(to.uri)} define it (uuid ${id}); remove the copy that should not be there, then run \`pulumi up\` again`);
  const state = await runState(from, here);
  if (await isSaved(from, here, state)) {
    throw new Error(`it is saved (its memory image is a file on ${redactUri(from.uri)}, which migration does not carry); set state to running, or shutoff to discard the image, before moving it`);
  }
  const running = state !== DomainState.SHUTOFF && state !== DomainState.CRASHED;
  const live = running && how.mode === "live";
  if (!live && how.storage === "copy") {
    throw new Error(`migration.storage "copy" needs a running guest and mode "live" (libvirt copies disks only alongside a live guest's memory); ` +
      `it is ${running ? "running, with mode offline" : "shut off"}: copy its volumes yourself and use storage "shared", or start it and use mode "live"`);
  }
  if (running && !live) {
    progress(`${what}: shutting down to move it to ${redactUri(to.uri)} (migration.mode offline)`);
    await stop(from, here, olds);
  }
  let flags = MigrateFlags.PEER2PEER | MigrateFlags.PERSIST_DEST | MigrateFlags.UNDEFINE_SOURCE;
  if (live) flags |= MigrateFlags.LIVE | MigrateFlags.ABORT_ON_ERROR;
  else flags |= MigrateFlags.OFFLINE;
  if (how.storage === "copy") flags |= MigrateFlags.NON_SHARED_DISK;
  const params: Record<string, TypedParamValue> = {};
  if (how.bandwidthMiBs) params.bandwidth = { type: 4, value: how.bandwidthMiBs }; // VIR_MIGRATE_PARAM_BANDWIDTH, MiB/s
  const peer = how.peerUri ?? to.uri;
  progress(`${what}: ${live ? "live-migrating" : "moving its definition"} to ${redactUri(to.uri)}${how.storage === "copy" ? " with its disks" : ""}`);
  const started = Date.now();
  await withinDeadline(from, here, to.timeoutMs, what, live ? reporter(from, here, what) : undefined, from.lv.domainMigratePeerToPeer(here, peer, params, flags));
  const moved = await lookup(to, id);
  if (!moved) throw new Error(`the migration to ${redactUri(to.uri)} reported success but the guest is not there`);
  if (live) progress(`${what}: migrated in ${((Date.now() - started) / 1000).toFixed(1)} s${await downtime(to, moved)}`);
  await applyState(to, moved, news);
}

/** ", guest paused for 120 ms" from the destination's record of the finished job (kept for others to read). */
async function downtime(ctx: Context, dom: DomainRef): Promise<string> {
  const job = await ctx.lv.domainGetJobStats(dom, JobStatsFlags.COMPLETED | JobStatsFlags.KEEP_COMPLETED).catch(() => undefined);
  const ms = job?.stats.downtime;
  return typeof ms === "number" ? `, guest paused for ${ms} ms` : "";
}

/** Reports how much of the guest's memory (and disks) is left to copy, from the source's job figures. */
function reporter(ctx: Context, dom: DomainRef, what: string): () => Promise<void> {
  return async () => {
    const job = await ctx.lv.domainGetJobStats(dom).catch(() => undefined);
    const s = job?.stats;
    if (!s || typeof s.data_total !== "number" || typeof s.data_remaining !== "number") return;
    const done = s.data_total - s.data_remaining;
    const rate = typeof s.memory_bps === "number" ? `, ${formatSize(s.memory_bps)}/s` : "";
    progress(`${what}: migrated ${formatSize(done)} of ${formatSize(s.data_total)}, ${formatSize(s.data_remaining)} remaining${rate}`);
  };
}

/**
 * The migration within the operation's deadline (timeoutSeconds): past it, the job is aborted
 * and the guest keeps running where it was.
 */
async function withinDeadline(ctx: Context, dom: DomainRef, timeoutMs: number, what: string, report: (() => Promise<void>) | undefined, job: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let ticker: NodeJS.Timeout | undefined;
  const expired = new Promise<"expired">((resolve) => { timer = setTimeout(() => resolve("expired"), timeoutMs); });
  if (report) ticker = setInterval(() => void report(), PROGRESS_MS);
  try {
    if ((await Promise.race([job, expired])) !== "expired") return;
    progress(`${what}: the migration is past timeoutSeconds (${timeoutMs / 1000} s); aborting it`);
    await ctx.lv.domainAbortJob(dom).catch(() => undefined);
    await job.catch(() => undefined);
    throw new Error(`the migration did not finish within timeoutSeconds (${timeoutMs / 1000} s) and was aborted; the guest stays on ${redactUri(ctx.uri)}. ` +
      `Raise timeoutSeconds or migration.bandwidthMiBs, or use mode "offline"`);
  } finally {
    clearTimeout(timer);
    clearInterval(ticker);
  }
}
