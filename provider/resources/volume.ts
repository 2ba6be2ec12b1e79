/**
 * Volume: a libvirt storage volume, blank, a copy-on-write overlay of another volume, a clone of
 * one, or filled from a local file or an http(s) URL (gzip and xz decompressed on the fly,
 * streamed over libvirt's own connection, so remote hosts work). Growing the capacity resizes in
 * place; anything that would destroy data (shrinking, new permissions) is refused with the way
 * out, and a volume that a domain still uses is never deleted.
 */
import { ConnectListDomains, DomainXmlFlags } from "../libvirt/constants";
import { ErrorCode, isLibvirtError, isNotFound, unlessNotFound } from "../libvirt/errors";
import type { DomainRef, Libvirt, StoragePoolRef, StorageVolRef } from "../libvirt/client";
import { Checker, OBJECT_NAME } from "../core/check";
import { connection } from "../core/connections";
import type { FieldTable } from "../core/fields";
import { progress, transferProgress } from "../core/progress";
import { CommonInputs, Context, ResourceSpec } from "../core/resource";
import { formatSize } from "../core/units";
import { isUnknown } from "../core/unknown";
import { COMPRESSION_CHOICES, ContentSource, openContent, redactUrl } from "../content";
import { poolFromXml } from "../xml/pool";
import { domainDiskSources, Permissions, volFromXml, volToXml, VolumeDef } from "../xml/volume";

export const VOLUME_FORMATS = ["qcow2", "raw"] as const;
export type VolumeFormat = (typeof VOLUME_FORMATS)[number];

/** Content for a new volume: exactly one of path and url. */
export type VolumeSource = ContentSource;

export interface BackingStore {
  /** The base volume's key or path (pass `base.key`). */
  volume: string;
  /** The base's format; defaults to what libvirt reports for it, and must agree with it. */
  format?: VolumeFormat;
}

export interface VolumeInputs extends CommonInputs {
  /** Name of the storage pool that holds the volume. */
  pool: string;
  name: string;
  /** Bytes the guest sees (check() turns "20GiB" into bytes). Required for a blank volume. */
  capacity?: number;
  format?: VolumeFormat;
  /** Bytes to preallocate when the volume is created (default 0: sparse). Blank and cloned volumes only. */
  allocation?: number;
  /** Mode, owner and group of the volume's file, set when it is created. */
  permissions?: Permissions;
  /** Make a qcow2 overlay of another volume. */
  backingStore?: BackingStore;
  /** Make a full copy of another volume (its key or path). */
  cloneOf?: string;
  /** Fill the volume from a file or URL. */
  source?: VolumeSource;
}

export interface VolumeOutputs {
  /** libvirt's identifier of the volume (for file pools, its path); also the resource's id. */
  key: string;
  /** Where the volume lives on the host: what a domain's disk points at. */
  path: string;
  /** Bytes the guest sees, as libvirt reports them now. */
  capacity: number;
  /** Bytes the volume takes on the host now (grows as the guest writes). */
  allocatedBytes: number;
  /** As libvirt reports it: "qcow2", "raw", "iso"... */
  format: string;
  /** "file" or "block", as libvirt reports it. */
  type: string;
  /** The base image of an overlay. */
  backingStorePath?: string;
}

/** VIR_DOMAIN_BLOCK_RESIZE_BYTES: the size is in bytes, not KiB. */
const BLOCK_RESIZE_BYTES = 1;

const bytesText = (n: number) => `${formatSize(n)} (${n} bytes)`;

export const volumeFields: FieldTable<VolumeInputs, StorageVolRef> = {
  pool: { effect: "replace", doc: "Another pool makes a new volume there." },
  name: { effect: "replace", doc: "libvirt cannot rename volumes: a new name makes a new volume." },
  capacity: {
    effect: "live",
    computed: true,
    apply: async ({ ctx, target, news }) => {
      if (news.capacity === undefined) return;
      const live = (await definitionOf(ctx, target)).capacity ?? 0;
      if (news.capacity < live) throw new Error(`capacity: ${volumeFields.capacity.refuse!(live, news.capacity)}`);
      if (news.capacity > live) await grow(ctx, target, news.capacity);
    },
    doc: "Growing resizes in place and keeps the data (qcow2: its virtual size; raw: the file). Shrinking is refused: it would cut off data. Unset: the size of the source image, the base or the original.",
    refuse: (old, next) => typeof old === "number" && typeof next === "number" && next < old
      ? `shrinking the volume from ${bytesText(old)} to ${bytesText(next)} would destroy whatever lies past ${formatSize(next)}; keep capacity at ${old} bytes or more, or make a new volume under a new name`
      : undefined,
  },
  format: { effect: "replace", computed: true, doc: "A different format makes a new volume. Unset: qcow2 for blank volumes and overlays in file pools (raw in block pools), the image's own for content, the original's for clones." },
  allocation: { effect: "none", doc: "Preallocation at creation only (default 0: sparse); never compared afterwards, since allocation grows as the guest writes (the live figure is the output `allocatedBytes`)." },
  permissions: {
    effect: "none",
    computed: true,
    doc: "Set at creation. libvirt cannot change a volume's permissions afterwards, and replacing the disk would destroy its data, so changing a value is refused: chmod/chown the file on the host and run `pulumi refresh`. Adding a value is accepted when the file already has it.",
    refuse: (old, next) => {
      if (!old || !next || typeof old !== "object" || typeof next !== "object") return undefined;
      const changed = (["mode", "owner", "group"] as const).filter((k) => old[k] !== undefined && next[k] !== undefined && old[k] !== next[k]);
      if (!changed.length) return undefined;
      return `libvirt cannot change a volume's permissions once it exists, and replacing the volume would destroy its data. ` +
        `To change ${changed.join(", ")}: run ${chownHint(next)} on the volume's file on the host, then \`pulumi refresh\`; ` +
        "or give the volume a new name to create a new one with these permissions";
    },
  },
  backingStore: { effect: "replace", doc: "A different base makes a new overlay. The overlay is qcow2; its capacity defaults to the base's and may be larger, never smaller. Deleting a base that an overlay in its pool still uses fails." },
  cloneOf: { effect: "replace", doc: "A different original makes a new copy. The copy is made once, at creation: later changes to the original are not copied." },
  source: { effect: "replace", doc: "New content (path, url, sha256, compression) makes a new volume. Streamed over libvirt's connection (works with remote hosts), gzip and xz decompressed on the fly; sha256 is of the file as stored or served, verified while streaming: on a mismatch the volume is deleted and the create fails. New bytes at the same path or URL go unnoticed unless sha256 changes with them." },
  uri: { effect: "replace", doc: "Another host makes a new volume there." },
  timeoutSeconds: { effect: "none", doc: "Deadline for retries and waits (transfers fail only when the source stalls for 60 s)." },
};

function chownHint(p: Permissions): string {
  const parts: string[] = [];
  if (p.mode !== undefined) parts.push(`\`chmod ${p.mode} <path>\``);
  if (p.owner !== undefined || p.group !== undefined) parts.push(`\`chown ${p.owner ?? ""}${p.group !== undefined ? `:${p.group}` : ""} <path>\``);
  return parts.join(" and ") || "chmod/chown";
}

// ---- check

const REF = { pattern: /^[^\0]+$/, accepted: "a volume's key or path, such as `base.key` or `base.path` of a Volume", max: 4096 };
const PATH = { pattern: /^[^\0]+$/, accepted: "a path to a file on the machine running Pulumi", max: 4096 };
const URL_RULE = { pattern: /^https?:\/\/\S+$/i, accepted: "an http:// or https:// URL" };
const SHA256 = { pattern: /^[0-9a-fA-F]{64}$/, accepted: "64 hexadecimal digits, as sha256sum prints them" };

/** Given, and known (unknown values may still turn out to be anything, including absent). */
const known = (v: unknown) => v !== undefined && !isUnknown(v);

function checkInputs(news: Record<string, unknown>, c: Checker): VolumeInputs {
  const pool = c.string("pool", news.pool, OBJECT_NAME);
  c.required("pool", news.pool);
  const name = c.string("name", news.name, OBJECT_NAME);
  c.required("name", news.name);
  const format = c.oneOf("format", news.format, VOLUME_FORMATS);
  const capacity = c.size("capacity", news.capacity);
  const allocation = c.size("allocation", news.allocation);

  // Checker.object hands an unknown value back as is; its keys are not the user's keys.
  const obj = (property: string, v: unknown) => (isUnknown(v) ? undefined : c.object(property, v));
  const perms = obj("permissions", news.permissions);
  c.noExtraKeys("permissions", perms, ["mode", "owner", "group"]);
  const permissions = isUnknown(news.permissions) ? (news.permissions as Permissions) : perms && {
    mode: c.mode("permissions.mode", perms.mode),
    owner: c.int("permissions.owner", perms.owner, 0, 2 ** 32 - 2),
    group: c.int("permissions.group", perms.group, 0, 2 ** 32 - 2),
  };

  const bs = obj("backingStore", news.backingStore);
  c.noExtraKeys("backingStore", bs, ["volume", "format"]);
  if (bs) c.required("backingStore.volume", bs.volume);
  const backingStore = isUnknown(news.backingStore) ? (news.backingStore as BackingStore) : bs && {
    volume: c.string("backingStore.volume", bs.volume, REF) as string,
    format: c.oneOf("backingStore.format", bs.format, VOLUME_FORMATS),
  };

  const cloneOf = c.string("cloneOf", news.cloneOf, REF);

  const src = obj("source", news.source);
  c.noExtraKeys("source", src, ["path", "url", "sha256", "compression"]);
  let source: VolumeSource | undefined = isUnknown(news.source) ? (news.source as VolumeSource) : undefined;
  if (src) {
    const url = c.string("source.url", src.url, URL_RULE);
    if (typeof url === "string" && !isUnknown(url)) {
      try {
        new URL(url);
      } catch {
        c.fail("source.url", `${JSON.stringify(redactUrl(url))} is not a valid URL: expected ${URL_RULE.accepted}`);
      }
    }
    const sha256 = c.string("source.sha256", src.sha256, SHA256);
    source = {
      path: c.string("source.path", src.path, PATH),
      url,
      sha256: sha256 && !isUnknown(sha256) ? sha256.toLowerCase() : sha256,
      compression: c.oneOf("source.compression", src.compression, COMPRESSION_CHOICES) ?? "auto",
    };
    if (known(src.path) && known(src.url)) c.fail("source", "give source.path or source.url, not both");
    if (src.path === undefined && src.url === undefined) c.fail("source", "source needs a path (a file on the machine running Pulumi) or a url (http or https)");
  }

  // One origin of content at most; unknown values are not held against the user.
  if (known(news.source) && known(news.cloneOf)) c.fail("cloneOf", "cloneOf and source both give the volume's content: use one of them");
  if (known(news.source) && known(news.backingStore)) c.fail("backingStore", "backingStore and source both give the volume's content: use one of them (an overlay starts empty on top of its base)");
  if (known(news.cloneOf) && known(news.backingStore)) c.fail("backingStore", "backingStore and cloneOf both give the volume's content: use one of them");
  const blank = news.source === undefined && news.cloneOf === undefined && news.backingStore === undefined;
  if (blank && news.capacity === undefined) c.fail("capacity", "a blank volume needs a capacity, such as \"20GiB\" (it may be left out with source, cloneOf or backingStore)");
  if (known(news.backingStore) && format === "raw") c.fail("format", "a volume with a backingStore is a qcow2 overlay: set format to \"qcow2\" or leave it unset");
  if (known(news.allocation) && (known(news.source) || known(news.backingStore))) {
    c.fail("allocation", "allocation applies to blank and cloned volumes only: an overlay starts empty and uploaded content allocates what it writes");
  }
  if (typeof capacity === "number" && typeof allocation === "number" && allocation > capacity) {
    c.fail("allocation", `allocation ${bytesText(allocation)} is larger than capacity ${bytesText(capacity)}`);
  }
  if (typeof capacity === "number" && format !== "raw" && capacity % 512 !== 0) {
    c.fail("capacity", `${capacity} bytes is not a whole number of 512-byte sectors, which qcow2 (the default format) requires: round it, e.g. to ${Math.ceil(capacity / 512) * 512}, or set format: "raw"`);
  }

  return {
    pool: pool as string,
    name: name as string,
    capacity,
    format,
    allocation,
    permissions,
    backingStore,
    cloneOf,
    source,
  };
}

// ---- libvirt helpers

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * libvirt refuses some operations while a stream or a build in the same pool or volume winds
 * down ("pool 'p' has asynchronous jobs running", "volume 'v' is still in use"): wait those out.
 */
function isBusy(e: unknown): boolean {
  return isLibvirtError(e) && /asynchronous jobs running|still in use|still being allocated|being built/i.test(e.message);
}

async function whileBusy<T>(ctx: Context, fn: () => Promise<T>, limitMs = ctx.timeoutMs): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (let delay = 200; ; delay = Math.min(delay * 2, 2000)) {
    try {
      return await ctx.retry(fn);
    } catch (e) {
      if (!isBusy(e) || Date.now() + delay > deadline) throw e;
      await sleep(delay);
    }
  }
}

async function lookupPool(ctx: Context, name: string): Promise<StoragePoolRef> {
  let pool: StoragePoolRef;
  try {
    pool = await ctx.retry(() => ctx.lv.storagePoolLookupByName(name));
  } catch (e) {
    if (isNotFound(e)) throw new Error(`storage pool "${name}" does not exist on this host (create it first, e.g. with a StoragePool resource)`);
    throw e;
  }
  if (!(await ctx.lv.storagePoolIsActive(pool))) throw new Error(`storage pool "${name}" is not running: start it (virsh pool-start ${name}) to manage its volumes`);
  return pool;
}

/** File pools hold files (qcow2 works, files grow while uploading); the rest hold block devices. */
async function isFilePool(ctx: Context, pool: StoragePoolRef): Promise<boolean> {
  const def = await poolFromXml(await ctx.lv.storagePoolGetXmlDesc(pool));
  return def.type === "dir" || def.type === "fs" || def.type === "netfs";
}

/** A volume anywhere on the host, by key or by path. */
async function findVolume(ctx: Context, ref: string): Promise<StorageVolRef | undefined> {
  for (const lookup of [() => ctx.lv.storageVolLookupByKey(ref), () => ctx.lv.storageVolLookupByPath(ref)]) {
    try {
      return await ctx.retry(lookup);
    } catch (e) {
      if (!isNotFound(e) && !isLibvirtError(e, ErrorCode.INVALID_ARG)) throw e;
    }
  }
  return undefined;
}

async function definitionOf(ctx: Context, vol: StorageVolRef): Promise<VolumeDef> {
  return volFromXml(await ctx.retry(() => ctx.lv.storageVolGetXmlDesc(vol)));
}

/** QEMU reads an ISO 9660 image as raw; libvirt's probe merely names it. */
const asInputFormat = (format: string | undefined) => (format === "iso" ? "raw" : format);

async function createVolume(ctx: Context, pool: StoragePoolRef, def: VolumeDef, from?: StorageVolRef): Promise<StorageVolRef> {
  try {
    return await whileBusy(ctx, () => (from ? ctx.lv.storageVolCreateXmlFrom(pool, volToXml(def), from) : ctx.lv.storageVolCreateXml(pool, volToXml(def))));
  } catch (e) {
    if (isLibvirtError(e, ErrorCode.STORAGE_VOL_EXIST) || (isLibvirtError(e) && /already exists|exists already/i.test(e.message))) {
      throw new Error(`a volume named "${def.name}" already exists in pool "${pool.name}" and this stack does not manage it; ` +
        `choose another name, or delete it first (virsh vol-delete --pool ${pool.name} ${def.name}) if its data is not needed`);
    }
    throw e;
  }
}

/** Remove a volume this operation made, on a fresh connection when the failure took ours down. */
async function discard(ctx: Context, vol: StorageVolRef): Promise<void> {
  try {
    const lv: Libvirt = ctx.lv.closed ? await connection(ctx.uri) : ctx.lv;
    const c: Context = { ...ctx, lv };
    await whileBusy(c, () => lv.storageVolDelete(vol, 0));
  } catch (e) {
    if (isNotFound(e)) return;
    progress(`could not remove the half-made volume "${vol.name}" in pool "${vol.pool}" (${(e as Error).message}); remove it with: virsh vol-delete --pool ${vol.pool} ${vol.name}`);
  }
}

/**
 * Best effort: a pool refresh re-probes every volume's format (an ISO shows as "iso") and fixes
 * the pool's figures. libvirt refuses it while another upload or clone in the pool runs, and runs
 * one itself after each upload, so a busy pool is waited on for a while, then left alone.
 */
async function refreshPool(ctx: Context, pool: StoragePoolRef): Promise<void> {
  await whileBusy(ctx, () => ctx.lv.storagePoolRefresh(pool), Math.min(ctx.timeoutMs, 30_000)).catch((e) => {
    if (!isBusy(e)) throw e;
  });
}

/** A running domain that has the volume open as a top-level disk, and the disk's target. */
async function runningDiskOf(ctx: Context, vol: StorageVolRef, path: string | undefined): Promise<{ dom: DomainRef; target: string } | undefined> {
  for (const dom of await ctx.retry(() => ctx.lv.listAllDomains(ConnectListDomains.ACTIVE))) {
    const xml = await ctx.lv.domainGetXmlDesc(dom, 0).catch((e) => (isNotFound(e) ? undefined : Promise.reject(e)));
    if (!xml) continue;
    const disk = (await domainDiskSources(xml)).find((d) => d.top && d.target &&
      ((path !== undefined && (d.file === path || d.dev === path)) || (d.pool === vol.pool && d.volume === vol.name)));
    if (disk) return { dom, target: disk.target! };
  }
  return undefined;
}

/**
 * Grow in place. A running guest holds its disk image locked, so a disk in use grows through
 * the guest's QEMU (virDomainBlockResize), which also tells the guest the new size.
 */
async function grow(ctx: Context, vol: StorageVolRef, to: number): Promise<void> {
  try {
    const inUse = await runningDiskOf(ctx, vol, (await definitionOf(ctx, vol)).path);
    if (inUse) {
      await ctx.retry(() => ctx.lv.domainBlockResize(inUse.dom, inUse.target, to, BLOCK_RESIZE_BYTES));
      // The pool's record of the volume still holds the old size until it is refreshed.
      await refreshPool(ctx, await ctx.lv.storagePoolLookupByName(vol.pool));
    } else {
      await whileBusy(ctx, () => ctx.lv.storageVolResize(vol, to, 0));
    }
  } catch (e) {
    throw new Error(`growing it to ${bytesText(to)} failed: ${(e as Error).message}`);
  }
}

/** Who still uses the volume: domains (their disks and backing chains) and overlays in its pool. */
async function usersOf(ctx: Context, vol: StorageVolRef, def: VolumeDef): Promise<string[]> {
  const users: string[] = [];
  const matches = (s: { file?: string; dev?: string; pool?: string; volume?: string }) =>
    (def.path !== undefined && (s.file === def.path || s.dev === def.path)) || (s.pool === vol.pool && s.volume === vol.name);
  for (const dom of await ctx.retry(() => ctx.lv.listAllDomains(0))) {
    const active = dom.id !== -1;
    const xmls: string[] = [];
    try {
      xmls.push(await ctx.lv.domainGetXmlDesc(dom, 0));
      if (active) xmls.push(await ctx.lv.domainGetXmlDesc(dom, DomainXmlFlags.INACTIVE));
    } catch (e) {
      if (isNotFound(e)) continue; // undefined meanwhile
      throw e;
    }
    const disks = new Set<string>();
    for (const xml of xmls) for (const s of await domainDiskSources(xml)) if (matches(s)) disks.add(s.target ?? "?");
    if (disks.size) users.push(`domain "${dom.name}" (${active ? "running" : "shut off"}; disk ${[...disks].join(", ")})`);
  }
  if (def.path !== undefined) {
    const pool = await ctx.lv.storagePoolLookupByName(vol.pool);
    for (const other of await ctx.lv.storagePoolListVolumes(pool)) {
      if (other.key === vol.key) continue;
      const o = await definitionOf(ctx, other).catch((e) => (isNotFound(e) ? undefined : Promise.reject(e)));
      if (o?.backingStore?.path === def.path) users.push(`volume "${other.name}" (an overlay whose backing store it is)`);
    }
  }
  return users;
}

/** Where a vanished volume went: a stopped pool hides its volumes, which is not the same as gone. */
async function explainMissing(ctx: Context, poolName: string | undefined): Promise<void> {
  if (!poolName) return;
  try {
    const pool = await ctx.lv.storagePoolLookupByName(poolName);
    if (!(await ctx.lv.storagePoolIsActive(pool))) {
      throw new Error(`storage pool "${poolName}" is not running, so its volumes cannot be seen: start it (virsh pool-start ${poolName}) and try again`);
    }
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}

async function lookupVolume(ctx: Context, id: string, poolName: string | undefined): Promise<StorageVolRef | undefined> {
  try {
    return await ctx.retry(() => ctx.lv.storageVolLookupByKey(id));
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  await explainMissing(ctx, poolName);
  return undefined;
}

// ---- create

async function createBlank(ctx: Context, pool: StoragePoolRef, i: VolumeInputs): Promise<StorageVolRef> {
  const format = i.format ?? ((await isFilePool(ctx, pool)) ? "qcow2" : "raw");
  return createVolume(ctx, pool, { name: i.name, capacity: i.capacity, allocation: i.allocation ?? 0, format, permissions: i.permissions });
}

async function createOverlay(ctx: Context, pool: StoragePoolRef, i: VolumeInputs): Promise<StorageVolRef> {
  const ref = i.backingStore!.volume;
  const base = await findVolume(ctx, ref);
  if (!base) throw new Error(`backingStore.volume "${ref}" is not a volume on this host: give the key or path of an existing volume (e.g. base.key)`);
  const b = await definitionOf(ctx, base);
  const baseFormat = asInputFormat(b.format) ?? "raw";
  if (i.backingStore!.format !== undefined && i.backingStore!.format !== baseFormat) {
    throw new Error(`backingStore.format is "${i.backingStore!.format}", but the base volume "${base.name}" is ${b.format}: leave backingStore.format unset or make it "${baseFormat}"`);
  }
  const capacity = i.capacity ?? b.capacity;
  if (capacity !== undefined && b.capacity !== undefined && capacity < b.capacity) {
    throw new Error(`capacity ${bytesText(capacity)} is smaller than the base volume's ${bytesText(b.capacity)}: an overlay shows the guest the whole base, so give it at least the base's capacity or leave capacity unset`);
  }
  return createVolume(ctx, pool, {
    name: i.name, capacity, format: "qcow2", permissions: i.permissions, backingStore: { path: b.path!, format: baseFormat },
  });
}

async function createClone(ctx: Context, pool: StoragePoolRef, i: VolumeInputs): Promise<{ vol: StorageVolRef; growTo?: number }> {
  const original = await findVolume(ctx, i.cloneOf!);
  if (!original) throw new Error(`cloneOf "${i.cloneOf}" is not a volume on this host: give the key or path of an existing volume (e.g. original.key)`);
  const o = await definitionOf(ctx, original);
  if (i.capacity !== undefined && o.capacity !== undefined && i.capacity < o.capacity) {
    throw new Error(`capacity ${bytesText(i.capacity)} is smaller than the original volume's ${bytesText(o.capacity)}: a copy cannot drop data; leave capacity unset or make it at least that`);
  }
  progress(`copying volume "${original.name}" (${o.capacity !== undefined ? formatSize(o.capacity) : "?"}) to "${i.name}" in pool "${pool.name}"`);
  const vol = await createVolume(ctx, pool, {
    name: i.name, capacity: o.capacity, allocation: i.allocation ?? 0, format: i.format ?? asInputFormat(o.format), permissions: i.permissions,
  }, original);
  return { vol, growTo: i.capacity !== undefined && o.capacity !== undefined && i.capacity > o.capacity ? i.capacity : undefined };
}

/** Upload content; returns the created volume (deleted again by the caller on failure) through `made`. */
async function createFromSource(ctx: Context, pool: StoragePoolRef, i: VolumeInputs, made: (v: StorageVolRef) => void): Promise<{ growTo?: number }> {
  let report: ((n: number) => void) | undefined;
  const content = await openContent(i.source!, { onSourceBytes: (n) => report?.(n) });
  try {
    const { image, what } = content;
    const filePool = await isFilePool(ctx, pool);
    if (image.problem) throw new Error(`${what} cannot be used: ${image.problem}`);
    const qcow2 = image.format === "qcow2";
    if (!qcow2 && image.format !== "raw" && image.format !== "iso") {
      throw new Error(`${what} is a ${image.format} image; volumes are filled with qcow2 or raw images: convert it first (qemu-img convert -O qcow2 in.${image.format} out.qcow2)`);
    }
    if (i.format === "qcow2" && !qcow2) throw new Error(`format is "qcow2", but ${what} holds ${image.format === "iso" ? "an ISO 9660 image" : "raw data"}, not a qcow2 image: leave format unset (it follows the content) or convert the file (qemu-img convert -O qcow2)`);
    if (i.format === "raw" && qcow2) throw new Error(`format is "raw", but ${what} is a qcow2 image: leave format unset (it follows the content) or set it to "qcow2"`);
    if (qcow2 && !filePool) throw new Error(`${what} is a qcow2 image, and pool "${pool.name}" holds block devices, which take raw images only: use a dir, fs or netfs pool, or a raw image`);

    let def: VolumeDef;
    let maxBytes: number | undefined;
    let growTo: number | undefined;
    if (qcow2) {
      const vs = image.virtualSize!;
      if (i.capacity !== undefined && i.capacity < vs) {
        throw new Error(`capacity ${bytesText(i.capacity)} is smaller than the virtual size of the qcow2 image ${what}, ${bytesText(vs)}: leave capacity unset or make it at least that`);
      }
      // The image replaces the file libvirt makes; its own header then sets the capacity.
      def = { name: i.name, capacity: vs, allocation: 0, format: "qcow2", permissions: i.permissions };
      if (i.capacity !== undefined && i.capacity > vs) growTo = i.capacity;
    } else {
      const size = content.imageSize;
      if (i.capacity !== undefined && size !== undefined && size > i.capacity) {
        throw new Error(`capacity ${bytesText(i.capacity)} is smaller than the image ${what}, ${bytesText(size)}: leave capacity unset or make it at least that`);
      }
      if (!filePool && size === undefined && i.capacity === undefined) {
        throw new Error(`the size of ${what} is known only once it is decompressed, and pool "${pool.name}" cannot grow a volume while it is written: set capacity`);
      }
      def = { name: i.name, capacity: i.capacity ?? size ?? 0, allocation: 0, format: "raw", permissions: i.permissions };
      // File pools grow the file as it is written; a capacity the user gave is a limit, as is a block device's size.
      maxBytes = filePool ? i.capacity : def.capacity;
    }

    const vol = await createVolume(ctx, pool, def);
    made(vol);
    const compressed = content.compression === "none" ? "" : ` (${content.compression}, decompressed on the fly)`;
    const meter = transferProgress(`uploading ${what}${compressed} to volume "${i.name}" in pool "${pool.name}"`, content.sourceSize);
    let read = 0;
    report = (n) => {
      read = n;
      meter.update(n);
    };
    const started = Date.now();
    await ctx.lv.storageVolUpload(vol, content.stream(maxBytes));
    meter.finish(read);
    if (compressed && Date.now() - started >= 1000) progress(`volume "${i.name}": ${formatSize(content.result().imageBytes)} written after decompression`);
    return { growTo };
  } finally {
    await content.close().catch(() => undefined);
  }
}

export const volume: ResourceSpec<VolumeInputs, VolumeOutputs, StorageVolRef> = {
  kind: "Volume",
  fields: volumeFields,
  identity: ["pool", "name", "uri"],
  check: (news, c) => checkInputs(news, c),
  describe: (i, id) => `volume "${i.name ?? id}"${i.pool ? ` in pool "${i.pool}"` : ""}`,

  async create(ctx, inputs) {
    const pool = await lookupPool(ctx, inputs.pool);
    let vol: StorageVolRef | undefined;
    try {
      let growTo: number | undefined;
      if (inputs.source) {
        ({ growTo } = await createFromSource(ctx, pool, inputs, (v) => (vol = v)));
        await refreshPool(ctx, pool);
      } else if (inputs.cloneOf) {
        ({ vol, growTo } = await createClone(ctx, pool, inputs));
      } else if (inputs.backingStore) {
        vol = await createOverlay(ctx, pool, inputs);
      } else {
        vol = await createBlank(ctx, pool, inputs);
      }
      if (growTo !== undefined) await grow(ctx, vol!, growTo);
      const def = await definitionOf(ctx, vol!);
      return { id: def.key ?? vol!.key };
    } catch (e) {
      if (vol) await discard(ctx, vol);
      throw e;
    }
  },

  async read(ctx, id, recorded) {
    const vol = await lookupVolume(ctx, id, recorded.pool);
    if (!vol) return undefined;
    const def = await definitionOf(ctx, vol);
    // An ISO 9660 image in a volume declared raw is what the user asked for.
    const format = def.format === "iso" && recorded.format === "raw" ? "raw" : def.format ?? "raw";
    let backingStore: BackingStore | undefined;
    if (def.backingStore) {
      const ref = recorded.backingStore?.volume;
      const same = ref !== undefined && (ref === def.backingStore.path || (await findVolume(ctx, ref).then((b) => b && ctx.lv.storageVolGetPath(b)).catch(() => undefined)) === def.backingStore.path);
      backingStore = { volume: same ? ref! : def.backingStore.path, format: asInputFormat(def.backingStore.format) as VolumeFormat | undefined };
    }
    return {
      live: {
        pool: vol.pool,
        name: vol.name,
        capacity: def.capacity,
        format: format as VolumeFormat,
        permissions: def.permissions,
        backingStore,
      },
      outputs: {
        key: def.key ?? id,
        path: def.path ?? "",
        capacity: def.capacity ?? 0,
        allocatedBytes: def.allocation ?? 0,
        format,
        type: def.type ?? "file",
        backingStorePath: def.backingStore?.path,
      },
    };
  },

  async prepare(ctx, id, olds, news, diff) {
    const vol = await lookupVolume(ctx, id, olds.pool);
    if (!vol) throw new Error("it no longer exists; run `pulumi refresh` to forget it, then `pulumi up` to create it again");
    // Permissions cannot change, so new ones are accepted only where the file already has them.
    if (diff.changed.includes("permissions") && news.permissions) {
      const live = (await definitionOf(ctx, vol)).permissions ?? {};
      const wrong = (["mode", "owner", "group"] as const).filter((k) => news.permissions![k] !== undefined && news.permissions![k] !== live[k]);
      if (wrong.length) {
        const has = wrong.map((k) => `${k} ${live[k]}`).join(", ");
        throw new Error(`permissions: the volume's file has ${has}, and libvirt cannot change a volume's permissions once it exists (replacing it would destroy its data): ` +
          `run ${chownHint(news.permissions)} on the host (the path is this volume's \`path\` output), then \`pulumi up\` again`);
      }
    }
    return vol;
  },

  async delete(ctx, id, olds) {
    const vol = await lookupVolume(ctx, id, olds.pool);
    if (!vol) return;
    const def = await definitionOf(ctx, vol);
    const users = await usersOf(ctx, vol, def);
    if (users.length) {
      throw new Error(`it is still in use by ${users.join("; ")}. Deleting it would pull the disk from under them: detach it or delete those first`);
    }
    await whileBusy(ctx, () => ctx.lv.storageVolDelete(vol, 0)).catch((e) => {
      if (!isNotFound(e)) throw e;
    });
  },
  async find(ctx, { pool, name }) {
    const p = await unlessNotFound(() => ctx.retry(() => ctx.lv.storagePoolLookupByName(pool!)));
    const vol = p && (await unlessNotFound(() => ctx.retry(() => ctx.lv.storageVolLookupByName(p, name!))));
    return vol?.key;
  },
};

