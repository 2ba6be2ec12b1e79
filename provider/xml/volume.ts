/**
 * <volume> documents (https://libvirt.org/formatstorage.html#storage-volume-xml) to and from a
 * plain model, plus the slice of <domain> documents that says which disks a domain uses. Sizes
 * are bytes; what they mean (defaults, what may change) is the Volume resource's business.
 */
import { attr, buildXml, bytesIn, child, children, childText, parseRoot, toNumber, XmlNode } from "./xml";
import type { Permissions } from "./pool";

export type { Permissions };

export interface VolumeDef {
  name: string;
  /** "file", "block", "dir", "network"...: libvirt sets it from the pool. */
  type?: string;
  /** Read only: libvirt's identifier (for file pools, the path). */
  key?: string;
  /** Bytes the guest sees. */
  capacity?: number;
  /** Bytes allocated on the host (when creating: how much to preallocate). */
  allocation?: number;
  /** Read only: bytes of the host file or device. */
  physical?: number;
  /** Read only, except for some pool types: where the volume lives on the host. */
  path?: string;
  /** "raw", "qcow2", "iso", "vmdk"... */
  format?: string;
  permissions?: Permissions;
  /** The image this one is a copy-on-write overlay of. */
  backingStore?: { path: string; format?: string };
}

const BYTES = (n: number | undefined) => n === undefined ? undefined : { $: { unit: "bytes" }, _: String(n) };

export function volToXml(v: VolumeDef): string {
  const perms = v.permissions;
  return buildXml("volume", {
    $: v.type ? { type: v.type } : undefined,
    name: v.name,
    capacity: BYTES(v.capacity),
    allocation: BYTES(v.allocation),
    target: {
      path: v.path,
      format: v.format && { $: { type: v.format } },
      permissions: perms && { mode: perms.mode, owner: perms.owner, group: perms.group },
    },
    backingStore: v.backingStore && {
      path: v.backingStore.path,
      format: v.backingStore.format && { $: { type: v.backingStore.format } },
    },
  });
}

export async function volFromXml(xml: string): Promise<VolumeDef> {
  const root = await parseRoot(xml, "volume");
  const target = child(root, "target");
  const perms = child(target, "permissions");
  const backing = child(root, "backingStore");
  const backingPath = childText(backing, "path");
  return {
    name: childText(root, "name") ?? "",
    type: attr(root, "type"),
    key: childText(root, "key"),
    capacity: bytesIn(child(root, "capacity"), "bytes"),
    allocation: bytesIn(child(root, "allocation"), "bytes"),
    physical: bytesIn(child(root, "physical"), "bytes"),
    path: childText(target, "path"),
    format: attr(child(target, "format"), "type"),
    permissions: perms && {
      mode: childText(perms, "mode")?.padStart(4, "0"),
      owner: toNumber(childText(perms, "owner")),
      group: toNumber(childText(perms, "group")),
    },
    backingStore: backingPath ? { path: backingPath, format: attr(child(backing, "format"), "type") } : undefined,
  };
}

/** Where one domain disk (or an image in its backing chain) comes from. */
export interface DiskSource {
  /** Guest device name (vda, hdc...), when the document says. */
  target?: string;
  /** <source file=...> */
  file?: string;
  /** <source dev=...> */
  dev?: string;
  /** <source pool=... volume=...> */
  pool?: string;
  volume?: string;
  /** The disk's own image, not one of its backing files. */
  top: boolean;
}

/**
 * Every disk source a <domain> document names, backing-chain images included (live documents
 * list the chain under <backingStore>), so callers can tell whether a volume is in use.
 */
export async function domainDiskSources(xml: string): Promise<DiskSource[]> {
  const root = await parseRoot(xml, "domain");
  const out: DiskSource[] = [];
  const visit = (node: XmlNode, target: string | undefined, top: boolean) => {
    const src = child(node, "source");
    if (src) {
      out.push({ target, file: attr(src, "file"), dev: attr(src, "dev"), pool: attr(src, "pool"), volume: attr(src, "volume"), top });
    }
    for (const b of children(node, "backingStore")) visit(b, target, false);
  };
  for (const disk of children(child(root, "devices"), "disk")) visit(disk, attr(child(disk, "target"), "dev"), true);
  return out;
}
