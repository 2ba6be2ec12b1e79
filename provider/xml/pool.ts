/** <pool> documents (https://libvirt.org/formatstorage.html) to and from a plain model. */
import { attr, buildXml, child, children, childText, parseRoot, toNumber, XmlNode } from "./xml";

export const POOL_TYPES = ["dir", "fs", "netfs", "logical", "disk", "iscsi"] as const;
export type PoolType = (typeof POOL_TYPES)[number];

export interface Permissions {
  /** Octal, four digits: "0755". */
  mode?: string;
  owner?: number;
  group?: number;
}

export interface PoolSource {
  /** Remote server (netfs, iscsi). */
  host?: string;
  /** Exported directory (netfs). */
  dir?: string;
  /** Block devices (fs: one; logical: physical volumes; disk: the disk; iscsi: the target IQN). */
  devices?: string[];
  /** Volume group (logical). */
  name?: string;
  /** Filesystem or partition table format (fs: ext4..., netfs: nfs/cifs/glusterfs, disk: dos/gpt...). */
  format?: string;
}

export interface PoolDef {
  name: string;
  type: PoolType;
  uuid?: string;
  target?: { path?: string; permissions?: Permissions };
  source?: PoolSource;
}

export function poolToXml(p: PoolDef): string {
  const s = p.source;
  return buildXml("pool", {
    $: { type: p.type },
    name: p.name,
    uuid: p.uuid,
    source: s && {
      host: s.host && { $: { name: s.host } },
      dir: s.dir && { $: { path: s.dir } },
      device: s.devices?.map((path) => ({ $: { path } })),
      name: s.name,
      format: s.format && { $: { type: s.format } },
    },
    target: p.target && {
      path: p.target.path,
      permissions: p.target.permissions && {
        mode: p.target.permissions.mode,
        owner: p.target.permissions.owner,
        group: p.target.permissions.group,
      },
    },
  });
}

/** A pool's <source>; undefined when it names nothing (dir pools), as inputs would leave it out. */
function sourceFrom(src: XmlNode | undefined): PoolSource | undefined {
  const devices = children(src, "device").map((d: XmlNode) => attr(d, "path")!).filter(Boolean);
  const source: PoolSource = {
    host: attr(child(src, "host"), "name"),
    dir: attr(child(src, "dir"), "path"),
    devices: devices.length ? devices : undefined,
    name: childText(src, "name"),
    format: attr(child(src, "format"), "type"),
  };
  return Object.values(source).some((v) => v !== undefined) ? source : undefined;
}

export async function poolFromXml(xml: string): Promise<PoolDef> {
  const root = await parseRoot(xml, "pool");
  const src = child(root, "source");
  const target = child(root, "target");
  const perms = child(target, "permissions");
  return {
    name: childText(root, "name") ?? "",
    type: attr(root, "type") as PoolType,
    uuid: childText(root, "uuid"),
    source: sourceFrom(src),
    target: {
      path: childText(target, "path"),
      permissions: perms && {
        mode: childText(perms, "mode")?.padStart(4, "0"),
        owner: toNumber(childText(perms, "owner")),
        group: toNumber(childText(perms, "group")),
      },
    },
  };
}
