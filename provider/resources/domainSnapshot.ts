/**
 * DomainSnapshot: an internal snapshot of a domain's qcow2 disks, with the guest's memory when
 * the domain runs, kept in libvirt beside the domain. Changing `revertTrigger` reverts the
 * domain to it, a description changes in place (a redefine), and deleting it keeps its children
 * (libvirt merges it into them) unless `deleteChildren` is set.
 *
 * External snapshots are not offered: libvirt 9.0 (Debian bookworm) can neither revert nor
 * delete them, so a resource made of one could not be changed or destroyed.
 */
import { SnapshotCreateFlags, SnapshotDeleteFlags } from "../libvirt/constants";
import { isLibvirtError, isNotFound } from "../libvirt/errors";
import { uuidString, type DomainRef, type DomainSnapshotRef } from "../libvirt/client";
import { Checker, OBJECT_NAME } from "../core/check";
import type { FieldTable } from "../core/fields";
import { progress } from "../core/progress";
import { CommonInputs, Context, ResourceSpec } from "../core/resource";
import { isUnknown } from "../core/unknown";
import { snapshotFromXml, snapshotToXml, withDescription } from "../xml/snapshot";

export interface DomainSnapshotInputs extends CommonInputs {
  /** The domain: its name, or its UUID (pass `vm.uuid`, so a replaced domain replaces its snapshots). */
  domain: string;
  name: string;
  description?: string;
  /**
   * Whether the guest's memory is saved too, so a revert resumes the guest where it was.
   * Unset: with memory when the domain runs, without when it is shut off (the only two kinds
   * an internal snapshot can be).
   */
  memory?: boolean;
  /** Any value; changing it reverts the domain to this snapshot (disks, memory, definition). */
  revertTrigger?: string | number;
  /** Deleting this snapshot also deletes the snapshots made after it from it (default false: they are kept). */
  deleteChildren?: boolean;
}

export interface DomainSnapshotOutputs {
  domainUuid: string;
  /** Whether the guest's memory is in it (set or not in the inputs). */
  memory: boolean;
  /** The domain's state when the snapshot was taken: running, paused or shutoff. */
  state: string;
  /** When libvirt took it, ISO 8601. */
  creationTime: string;
  /** The snapshot it was taken on top of, if any. */
  parent?: string;
  /** Whether it is the domain's current snapshot (the one the next snapshot's parent will be). */
  current: boolean;
}

export interface Target {
  dom: DomainRef;
  snap: DomainSnapshotRef;
}

export const domainSnapshotFields: FieldTable<DomainSnapshotInputs, Target> = {
  domain: { effect: "replace", doc: "Another domain takes a new snapshot of its own." },
  name: { effect: "replace", doc: "A new name takes a new snapshot; the old one is deleted." },
  description: {
    effect: "live",
    doc: "Changed in place (the snapshot is redefined with its disks and memory untouched).",
    apply: async ({ ctx, target, news }) => redefineDescription(ctx, target, news.description),
  },
  memory: { effect: "replace", computed: true, doc: "A snapshot is taken once: another choice takes a new one." },
  revertTrigger: {
    effect: "live",
    doc: "A new value reverts the domain to the snapshot now: disks, memory (a running guest resumes where it was, in a new QEMU process: same uuid, new domain id) and definition.",
    apply: async ({ ctx, target }) => revert(ctx, target),
  },
  deleteChildren: { effect: "none", doc: "Read when the snapshot is deleted." },
  uri: { effect: "replace", doc: "Another host holds other domains." },
  timeoutSeconds: { effect: "none", doc: "Deadline for the snapshot, a revert and retries." },
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function checkInputs(news: Record<string, unknown>, c: Checker): DomainSnapshotInputs {
  const domain = c.string("domain", news.domain, { ...OBJECT_NAME, accepted: `a domain name (${OBJECT_NAME.accepted}) or UUID` });
  c.required("domain", news.domain);
  const name = c.string("name", news.name, OBJECT_NAME);
  c.required("name", news.name);
  const trigger = news.revertTrigger;
  if (trigger !== undefined && !isUnknown(trigger) && typeof trigger !== "string" && typeof trigger !== "number") {
    c.fail("revertTrigger", `expected a string or a number, got ${typeof trigger}`);
  }
  return {
    domain: domain as string,
    name: name as string,
    description: c.string("description", news.description),
    memory: c.bool("memory", news.memory),
    revertTrigger: trigger as string | number | undefined,
    deleteChildren: c.bool("deleteChildren", news.deleteChildren) ?? false,
  };
}

/** The id is "<domain uuid>/<snapshot name>"; an import may name the domain instead. */
function parseId(id: string): { domain: string; name: string } {
  const at = id.lastIndexOf("/");
  if (at <= 0 || at === id.length - 1) throw new Error(`"${id}" is not a snapshot id: expected "<domain name or uuid>/<snapshot name>"`);
  return { domain: id.slice(0, at), name: id.slice(at + 1) };
}

async function lookupDomain(ctx: Context, domain: string): Promise<DomainRef | undefined> {
  try {
    return await ctx.retry(() => (UUID.test(domain) ? ctx.lv.domainLookupByUuid(domain) : ctx.lv.domainLookupByName(domain)));
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

async function lookup(ctx: Context, id: string): Promise<Target | undefined> {
  const { domain, name } = parseId(id);
  const dom = await lookupDomain(ctx, domain);
  if (!dom) return undefined;
  try {
    return { dom, snap: await ctx.retry(() => ctx.lv.domainSnapshotLookupByName(dom, name)) };
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

async function redefineDescription(ctx: Context, { dom, snap }: Target, description: string | undefined): Promise<void> {
  const [xml, current] = await Promise.all([ctx.lv.domainSnapshotGetXmlDesc(snap), ctx.lv.domainSnapshotIsCurrent(snap)]);
  // A redefine without CURRENT would make the domain forget which snapshot is its current one.
  const flags = SnapshotCreateFlags.REDEFINE | (current ? SnapshotCreateFlags.CURRENT : 0);
  await ctx.retry(() => ctx.lv.domainSnapshotCreate(dom, withDescription(xml, description), flags));
}

async function revert(ctx: Context, { snap }: Target): Promise<void> {
  progress(`reverting domain "${snap.dom.name}" to snapshot "${snap.name}"`);
  await ctx.retry(() => ctx.lv.domainRevertToSnapshot(snap));
}

export const domainSnapshot: ResourceSpec<DomainSnapshotInputs, DomainSnapshotOutputs, Target> = {
  kind: "DomainSnapshot",
  fields: domainSnapshotFields,
  identity: ["domain", "name", "uri"],
  check: (news, c) => checkInputs(news, c),
  describe: (i, id) => `snapshot "${i.name ?? id}" of domain "${i.domain ?? "?"}"`,

  async create(ctx, inputs) {
    const dom = await lookupDomain(ctx, inputs.domain);
    if (!dom) throw new Error(`domain "${inputs.domain}" does not exist on this host`);
    const active = await ctx.lv.domainIsActive(dom);
    // What an internal snapshot can be: with memory (savevm) while the guest runs, without when it is off.
    if (inputs.memory === false && active) {
      throw new Error("memory: false needs the domain shut off (an internal snapshot of a running guest always holds its memory); leave memory unset or stop the domain first");
    }
    if (inputs.memory === true && !active) throw new Error("memory: true needs the domain running: a shut-off domain has no memory to save; leave memory unset or start it");
    progress(`taking snapshot "${inputs.name}" of domain "${dom.name}"${active ? " with its memory" : ""}`);
    try {
      const snap = await ctx.lv.domainSnapshotCreate(dom, snapshotToXml({ name: inputs.name, description: inputs.description, memory: active }), SnapshotCreateFlags.ATOMIC);
      return { id: `${uuidString(dom.uuid)}/${snap.name}` };
    } catch (e) {
      if (isLibvirtError(e) && /internal snapshot/i.test(e.message)) throw new Error(`${e.message} (an internal snapshot needs every writable disk in qcow2 format)`);
      throw e;
    }
  },

  async read(ctx, id, recorded) {
    const target = await lookup(ctx, id);
    if (!target) return undefined;
    const [xml, current] = await Promise.all([ctx.lv.domainSnapshotGetXmlDesc(target.snap), ctx.lv.domainSnapshotIsCurrent(target.snap)]);
    const s = await snapshotFromXml(xml);
    const domainUuid = uuidString(target.dom.uuid);
    // The domain as the program named it, when it still names this one.
    const named = recorded.domain === target.dom.name || recorded.domain?.toLowerCase() === domainUuid ? recorded.domain : target.dom.name;
    return {
      live: { domain: named, name: s.name, description: s.description, memory: s.memory },
      outputs: { domainUuid, memory: s.memory, state: s.state, creationTime: new Date(s.creationTime * 1000).toISOString(), parent: s.parent, current },
    };
  },

  async prepare(ctx, id) {
    const target = await lookup(ctx, id);
    if (!target) throw new Error("it no longer exists; run `pulumi refresh` to forget it, then `pulumi up` to take it again");
    return target;
  },

  async delete(ctx, id, olds) {
    const target = await lookup(ctx, id);
    if (!target) return;
    // Without CHILDREN, libvirt merges this snapshot's changes into its children: they stay usable.
    await ctx.retry(() => ctx.lv.domainSnapshotDelete(target.snap, olds.deleteChildren ? SnapshotDeleteFlags.CHILDREN : 0));
  },
};
