/**
 * Domain snapshot XML (libvirt's formatsnapshot): what the provider writes to make a snapshot,
 * and what it reads back. Only the snapshot's own elements are read; the copy of the domain's
 * definition libvirt keeps inside (<domain>) is left alone.
 */
import { buildXml, child, childText, attr, parseRoot, toNumber } from "./xml";

export interface SnapshotDef {
  name: string;
  description?: string;
  /** Whether the guest's memory is in the snapshot (a running guest's state, restored on revert). */
  memory: boolean;
}

export interface SnapshotFacts extends SnapshotDef {
  /** The domain's state when the snapshot was taken: running, paused, shutoff... */
  state: string;
  /** Seconds since the epoch. */
  creationTime: number;
  parent?: string;
}

/** The document for virDomainSnapshotCreateXML: internal disk snapshots, memory as asked. */
export function snapshotToXml(s: SnapshotDef): string {
  return buildXml("domainsnapshot", {
    name: s.name,
    description: s.description,
    memory: { $: { snapshot: s.memory ? "internal" : "no" } },
  });
}

export async function snapshotFromXml(xml: string): Promise<SnapshotFacts> {
  const root = await parseRoot(xml, "domainsnapshot");
  const memory = attr(child(root, "memory"), "snapshot");
  return {
    name: childText(root, "name") ?? "",
    description: childText(root, "description"),
    memory: memory !== undefined && memory !== "no",
    state: childText(root, "state") ?? "",
    creationTime: toNumber(childText(root, "creationTime")) ?? 0,
    parent: childText(child(root, "parent"), "name"),
  };
}

const escapeText = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/**
 * The snapshot's full XML (as libvirt gave it) with another description, for a redefine. The
 * text is edited, not rebuilt, so the domain definition inside reaches libvirt byte for byte;
 * only the part before <domain> is touched, which holds the snapshot's own <description>.
 */
export function withDescription(xml: string, description: string | undefined): string {
  const cut = xml.search(/<domain[\s>]/);
  const head = cut < 0 ? xml : xml.slice(0, cut);
  const tail = cut < 0 ? "" : xml.slice(cut);
  const bare = head.replace(/\s*<description>[\s\S]*?<\/description>/, "").replace(/\s*<description\/>/, "");
  const element = description === undefined ? "" : `\n  <description>${escapeText(description)}</description>`;
  return bare.replace(/(<name>[\s\S]*?<\/name>)/, `$1${element}`) + tail;
}
