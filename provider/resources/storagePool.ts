/**
 * StoragePool: a libvirt storage pool. Starting, stopping and autostart change live; the
 * target's permissions are reapplied in place; only a new name, type, source or target path
 * makes a new pool. Deleting never removes data the pool did not create.
 */
import { PoolBuildFlags, PoolState } from "../libvirt/constants";
import { ErrorCode, isLibvirtError, isNotFound, unlessNotFound } from "../libvirt/errors";
import type { StoragePoolRef } from "../libvirt/protocol";
import { uuidBytes, uuidString } from "../libvirt/client";
import { ABSOLUTE_PATH, Checker, OBJECT_NAME } from "../core/check";
import type { FieldTable } from "../core/fields";
import { CommonInputs, Context, ResourceSpec } from "../core/resource";
import { isUnknown } from "../core/unknown";
import { Permissions, POOL_TYPES, PoolDef, poolFromXml, PoolSource, poolToXml, PoolType } from "../xml/pool";

export interface StoragePoolInputs extends CommonInputs {
  name: string;
  type: PoolType;
  target?: { path?: string; permissions?: Permissions };
  source?: PoolSource;
  /** Build the pool on create when its storage does not exist yet (default true). Never overwrites data. */
  build?: boolean;
  /** Keep the pool running (default true). */
  start?: boolean;
  /** Start the pool when the host boots (default true). */
  autostart?: boolean;
  /** Delete the pool even when it still holds volumes this stack does not manage (default false). */
  forceDelete?: boolean;
}

export interface StoragePoolOutputs {
  uuid: string;
  /** "running", "inactive", "building", "degraded" or "inaccessible". */
  state: string;
  /** Bytes. */
  capacity: number;
  allocation: number;
  available: number;
  /** Whether this stack built the pool's storage (and so may remove it when empty). */
  builtByProvider: boolean;
}

export const storagePoolFields: FieldTable<StoragePoolInputs, StoragePoolRef> = {
  name: { effect: "replace", doc: "A new name makes a new pool." },
  type: { effect: "replace", doc: "A new type makes a new pool." },
  target: { effect: "live", computed: true, doc: "`permissions` are reapplied in place (the pool is stopped, rebuilt without formatting, and started: VMs keep their open disks); a new `path` is refused, since the volumes would stay behind.", apply: ({ ctx, target, news }) => reapplyTarget(ctx, target, news), refuse: (old, next) => old?.path !== undefined && next?.path !== undefined && old.path !== next.path ? `moving a pool from ${old.path} to ${next.path} would leave its volumes behind; create a new pool with a new name instead` : undefined },
  source: { effect: "replace", computed: true, doc: "Different storage makes a new pool." },
  build: { effect: "none", doc: "Used on create only." },
  start: {
    effect: "live", doc: "Starts or stops the pool.",
    apply: async ({ ctx, target, news }) => {
      const running = await ctx.lv.storagePoolIsActive(target);
      if (news.start && !running) await startBuildingIfNeeded(ctx, target, news.type, !!news.build);
      if (!news.start && running) await ctx.lv.storagePoolDestroy(target);
    },
  },
  autostart: { effect: "live", doc: "Set on the pool.", apply: ({ ctx, target, news }) => ctx.lv.storagePoolSetAutostart(target, !!news.autostart) },
  forceDelete: { effect: "none", doc: "Used on delete only." },
  uri: { effect: "replace", doc: "Another host makes a new pool there." },
  timeoutSeconds: { effect: "none", doc: "Deadline for waits and retries." },
};

const STATE_NAMES: Record<number, string> = {
  [PoolState.INACTIVE]: "inactive", [PoolState.BUILDING]: "building", [PoolState.RUNNING]: "running",
  [PoolState.DEGRADED]: "degraded", [PoolState.INACCESSIBLE]: "inaccessible",
};

/** What each type needs in `source`, checked before anything is touched. */
const SOURCE_RULES: Record<PoolType, { required: (keyof PoolSource)[]; allowed: (keyof PoolSource)[]; formats?: string[] }> = {
  dir: { required: [], allowed: [] },
  fs: { required: ["devices"], allowed: ["devices", "format"], formats: ["auto", "ext2", "ext3", "ext4", "xfs", "btrfs", "vfat"] },
  netfs: { required: ["host", "dir"], allowed: ["host", "dir", "format"], formats: ["auto", "nfs", "cifs", "glusterfs"] },
  logical: { required: ["name"], allowed: ["name", "devices", "format"], formats: ["lvm2"] },
  disk: { required: ["devices"], allowed: ["devices", "format"], formats: ["dos", "gpt", "mac", "bsd", "pc98", "sun", "lvm2"] },
  iscsi: { required: ["host", "devices"], allowed: ["host", "devices"] },
};


/**
 * A path as libvirt stores it (virFileSanitizePath: no repeated or trailing slashes, a leading
 * "//" kept), so that what read() reports back is what was written, not a diff.
 */
function sanitizePath(p: string | undefined): string | undefined {
  if (p === undefined || isUnknown(p)) return p;
  return (/^\/\/(?!\/)/.test(p) ? "/" : "") + p.replace(/\/{2,}/g, "/").replace(/(.)\/$/, "$1");
}

function checkInputs(news: Record<string, unknown>, c: Checker): StoragePoolInputs {
  const name = c.string("name", news.name, OBJECT_NAME);
  c.required("name", news.name);
  const type = c.oneOf("type", news.type, POOL_TYPES);
  c.required("type", news.type);

  const target = c.object("target", news.target);
  c.noExtraKeys("target", target, ["path", "permissions"]);
  const path = sanitizePath(c.string("target.path", target?.path, ABSOLUTE_PATH));
  const perms = c.object("target.permissions", target?.permissions);
  c.noExtraKeys("target.permissions", perms, ["mode", "owner", "group"]);
  const permissions: Permissions | undefined = isUnknown(perms) ? (perms as Permissions) : perms && {
    mode: c.mode("target.permissions.mode", perms.mode),
    owner: c.int("target.permissions.owner", perms.owner, 0, 2 ** 32 - 2),
    group: c.int("target.permissions.group", perms.group, 0, 2 ** 32 - 2),
  };
  if ((type === "dir" || type === "fs" || type === "netfs") && !isUnknown(news.target) && path === undefined && target?.path === undefined) {
    c.fail("target.path", `a ${type} pool needs target.path: the directory that holds its volumes, e.g. /var/lib/libvirt/images/${typeof name === "string" ? name : "pool1"}`);
  }
  // libvirt refuses to define these without a target path ("missing storage pool target path").
  if ((type === "disk" || type === "iscsi") && !isUnknown(news.target) && path === undefined && target?.path === undefined) {
    c.fail("target.path", `a ${type} pool needs target.path: where libvirt finds its volumes, e.g. ${type === "disk" ? "/dev" : "/dev/disk/by-path"}`);
  }
  if (permissions && type && !isUnknown(type) && !["dir", "fs", "netfs"].includes(type)) {
    c.fail("target.permissions", `permissions apply to directory-backed pools (dir, fs, netfs), not ${type}`);
  }

  const src = c.object("source", news.source);
  const rule = type ? SOURCE_RULES[type] : undefined;
  c.noExtraKeys("source", src, rule ? rule.allowed : ["host", "dir", "devices", "name", "format"]);
  let devices = src?.devices;
  if (typeof devices === "string") devices = [devices];
  if (devices !== undefined && !isUnknown(devices)) {
    if (!Array.isArray(devices) || devices.length === 0) c.fail("source.devices", "expected a non-empty list of device paths such as [\"/dev/sdb\"]");
    else devices.forEach((d, i) => c.string(`source.devices[${i}]`, d, rule?.required.includes("host") ? { pattern: /^\S+$/, accepted: "an iSCSI target IQN such as iqn.2024-01.com.example:storage" } : { pattern: /^\/dev\/\S+$/, accepted: "a device path under /dev, such as /dev/sdb" }));
  }
  const source: PoolSource | undefined = isUnknown(src) ? (src as PoolSource) : src && {
    host: c.string("source.host", src.host, { pattern: /^[A-Za-z0-9.:[\]-]+$/, accepted: "a host name or IP address" }),
    dir: sanitizePath(c.string("source.dir", src.dir, ABSOLUTE_PATH)),
    devices: devices as string[] | undefined,
    name: c.string("source.name", src.name, { pattern: /^[A-Za-z0-9+_.][A-Za-z0-9+_.-]*$/, accepted: "a volume group name of letters, digits and + _ . -" }),
    format: rule?.formats ? c.oneOf("source.format", src.format, rule.formats) : c.string("source.format", src.format),
  };
  for (const key of rule?.required ?? []) {
    if (source?.[key] === undefined && !isUnknown(news.source)) c.fail(`source.${key}`, `a ${type} pool needs source.${key}`);
  }
  // libvirt puts a logical pool at /dev/<vg> whatever target.path says; another path would never stop differing.
  const vg = source?.name;
  if (type === "logical" && path !== undefined && !isUnknown(path) && typeof vg === "string" && !isUnknown(vg) && path !== `/dev/${vg}`) {
    c.fail("target.path", `a logical pool's target.path is always /dev/<volume group>, here /dev/${vg}: leave it out`);
  }

  return {
    name: name as string,
    type: type as PoolType,
    target: isUnknown(target) ? (target as StoragePoolInputs["target"]) : target && { path, permissions },
    source,
    build: c.bool("build", news.build) ?? true,
    start: c.bool("start", news.start) ?? true,
    autostart: c.bool("autostart", news.autostart) ?? true,
    forceDelete: c.bool("forceDelete", news.forceDelete) ?? false,
  };
}

function definition(i: StoragePoolInputs, uuid?: string): PoolDef {
  // logical pools live at /dev/<vg>; libvirt derives that when no path is given.
  return { name: i.name, type: i.type, uuid, target: i.target, source: i.source };
}

async function lookup(ctx: Context, id: string): Promise<StoragePoolRef | undefined> {
  try {
    return await ctx.lv.storagePoolLookupByUuid(uuidBytes(id));
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/**
 * Build flags that never destroy data: directories are only created (with the pool's
 * ownership and mode); devices are formatted only when blank (NO_OVERWRITE).
 */
function safeBuildFlags(type: PoolType): number {
  return type === "dir" || type === "netfs" ? 0 : PoolBuildFlags.NO_OVERWRITE;
}

/** Start the pool, building its storage first only when it does not exist yet. */
async function startBuildingIfNeeded(ctx: Context, pool: StoragePoolRef, type: PoolType, build: boolean): Promise<boolean> {
  try {
    await ctx.lv.storagePoolCreate(pool);
    return false;
  } catch (e) {
    // A pool whose storage is missing fails to start; that is what build is for.
    if (!build || !isLibvirtError(e)) throw e;
    ctx.remember({ builtByProvider: true });
    // NO_OVERWRITE: formats only blank devices; never destroys existing data.
    await ctx.lv.storagePoolBuild(pool, safeBuildFlags(type));
    await ctx.lv.storagePoolCreate(pool);
    return true;
  }
}

/** New permissions on the pool's directory: build with no flags only creates it and applies ownership and mode. */
async function reapplyTarget(ctx: Context, pool: StoragePoolRef, news: StoragePoolInputs): Promise<void> {
  await ctx.lv.storagePoolDefineXml(poolToXml(definition(news, uuidString(pool.uuid))));
  const running = await ctx.lv.storagePoolIsActive(pool);
  if (running) await ctx.lv.storagePoolDestroy(pool);
  await ctx.lv.storagePoolBuild(pool, 0);
  if (running) await ctx.lv.storagePoolCreate(pool);
}

export const storagePool: ResourceSpec<StoragePoolInputs, StoragePoolOutputs, StoragePoolRef> = {
  kind: "StoragePool",
  fields: storagePoolFields,
  identity: ["name", "uri"],
  // libvirt refuses two pools on one directory or device, so a replacement there deletes first.
  collides: (olds, news) => olds.uri === news.uri && (
    (olds.target?.path !== undefined && olds.target.path === news.target?.path) ||
    (olds.source?.name !== undefined && olds.source.name === news.source?.name) ||
    (olds.source?.devices?.length ? olds.source.devices.some((d) => news.source?.devices?.includes(d)) : false)),
  check: (news, c) => checkInputs(news, c),
  describe: (i, id) => `storage pool "${i.name ?? id}"`,

  async create(ctx, inputs) {
    const pool = await ctx.retry(() => ctx.lv.storagePoolDefineXml(poolToXml(definition(inputs))));
    const id = uuidString(pool.uuid);
    try {
      let built = false;
      // Starting is how libvirt tells whether the storage exists: build only when it does not,
      // even with start: false (then stop again), or existing storage would count as ours.
      if (inputs.start || inputs.build) built = await startBuildingIfNeeded(ctx, pool, inputs.type, !!inputs.build);
      if (!inputs.start && inputs.build) await ctx.lv.storagePoolDestroy(pool);
      await ctx.lv.storagePoolSetAutostart(pool, !!inputs.autostart);
      return { id, facts: { builtByProvider: built } };
    } catch (e) {
      // Leave nothing behind: the definition goes, and so does storage we just built.
      await ctx.lv.storagePoolDestroy(pool).catch(() => undefined);
      await ctx.lv.storagePoolUndefine(pool).catch(() => undefined);
      throw e;
    }
  },

  async read(ctx, id, recorded) {
    const pool = await lookup(ctx, id);
    if (!pool) return undefined;
    const [def, info, autostart] = await Promise.all([
      ctx.lv.storagePoolGetXmlDesc(pool).then(poolFromXml),
      ctx.lv.storagePoolGetInfo(pool),
      ctx.lv.storagePoolGetAutostart(pool),
    ]);
    return {
      live: {
        name: def.name, type: def.type, target: def.target, source: def.source,
        start: info.state === PoolState.RUNNING, autostart,
      },
      outputs: {
        uuid: id,
        state: STATE_NAMES[info.state] ?? `unknown (${info.state})`,
        capacity: info.capacity, allocation: info.allocation, available: info.available,
        builtByProvider: recorded.builtByProvider ?? false,
      },
    };
  },

  async prepare(ctx, id) {
    const pool = await lookup(ctx, id);
    if (!pool) throw new Error("it no longer exists; run `pulumi refresh` to forget it, then `pulumi up` to create it again");
    return pool;
  },

  async delete(ctx, id, olds) {
    const pool = await lookup(ctx, id);
    if (!pool) return;
    let running = await ctx.lv.storagePoolIsActive(pool);
    if (!running) {
      // Volumes can only be listed on a running pool.
      await ctx.lv.storagePoolCreate(pool).then(() => (running = true), () => undefined);
    }
    const volumes = running ? await ctx.lv.storagePoolListVolumes(pool) : [];
    if (volumes.length && !olds.forceDelete) {
      const names = volumes.map((v) => v.name).sort();
      throw new Error(
        `it still holds ${names.length} volume(s) this stack does not manage: ${names.slice(0, 10).join(", ")}${names.length > 10 ? ", ..." : ""}. ` +
        "Delete or move them first, or set forceDelete: true to remove the pool definition and leave the volumes on disk",
      );
    }
    if (running) await ctx.retry(() => ctx.lv.storagePoolDestroy(pool));
    // Remove storage only when this stack built it and it is empty (rmdir, vgremove): never user data.
    // Emptiness is known only if the pool started; if it could not, the storage may be gone already.
    if (olds.builtByProvider && running && !volumes.length) {
      await ctx.lv.storagePoolDelete(pool, 0).catch((e) => {
        if (!isLibvirtError(e, ErrorCode.OPERATION_INVALID)) throw e;
      });
    }
    await ctx.retry(() => ctx.lv.storagePoolUndefine(pool));
  },

  async find(ctx, { name }) {
    const pool = await unlessNotFound(() => ctx.retry(() => ctx.lv.storagePoolLookupByName(name!)));
    return pool && uuidString(pool.uuid);
  },
};
