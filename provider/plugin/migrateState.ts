/**
 * Moves a stack's state from the dynamic classes (`pulumi-libvirt`) to the provider plugin
 * (`pulumi-libvirt/plugin`, YAML, Python) without touching libvirt: a `pulumi stack export`
 * document in, the document to `pulumi stack import` out.
 *
 * Per dynamic libvirt resource: its type `pulumi-nodejs:dynamic/libvirt:K` becomes
 * `libvirt:index:K` (in its URN and in every URN that names it: parents, dependencies), the
 * serialized `__provider` leaves its inputs and outputs, and its provider becomes a default
 * `libvirt` provider added to the state. Inputs and outputs are otherwise the same for both
 * paths (one core, one field table), so the next preview with the plugin shows no changes.
 * The pulumi-nodejs default provider goes once nothing uses it.
 */
import { randomUUID } from "node:crypto";

const DYNAMIC = "pulumi-nodejs:dynamic/libvirt:";
const PLUGIN = "libvirt:index:";
const NODEJS_PROVIDER = "pulumi:providers:pulumi-nodejs";
const LIBVIRT_PROVIDER = "pulumi:providers:libvirt";

interface StateResource {
  urn: string;
  type: string;
  custom?: boolean;
  id?: string;
  provider?: string;
  parent?: string;
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
  dependencies?: string[];
  propertyDependencies?: Record<string, string[]>;
  [more: string]: unknown;
}

export interface MigrateOptions {
  /** The stack's `libvirt:uri` config, when set: the default provider's input, so it shows no diff. */
  uri?: string;
}

export interface Migrated {
  state: any;
  /** URNs moved, as they were. */
  moved: string[];
}

const renamed = (urn: string) => urn.split("::").map((part) => part.split("$").map((t) => t.startsWith(DYNAMIC) ? PLUGIN + t.slice(DYNAMIC.length) : t).join("$")).join("::");

export function migrateState(exported: any, opts: MigrateOptions = {}): Migrated {
  const resources: StateResource[] | undefined = exported?.deployment?.resources;
  if (!Array.isArray(resources)) throw new Error("not a `pulumi stack export` document: deployment.resources is missing");
  if (exported.deployment.pending_operations?.length) {
    throw new Error("the stack has pending operations (an interrupted update): run `pulumi refresh` or `pulumi cancel` first");
  }
  const dynamic = resources.filter((r) => r.type.startsWith(DYNAMIC));
  if (!dynamic.length) return { state: exported, moved: [] };

  const stackUrn = resources.find((r) => r.type === "pulumi:pulumi:Stack")?.urn ?? dynamic[0].urn;
  const [, stackName, project] = /^urn:pulumi:([^:]+)::([^:]+)::/.exec(stackUrn) ?? [];
  if (!stackName) throw new Error(`cannot read the stack and project from ${stackUrn}`);
  const existing = resources.find((r) => r.type === LIBVIRT_PROVIDER && r.urn.endsWith("::default"));
  const provider: StateResource = existing ?? {
    urn: `urn:pulumi:${stackName}::${project}::${LIBVIRT_PROVIDER}::default`,
    custom: true, id: randomUUID(), type: LIBVIRT_PROVIDER,
    inputs: opts.uri ? { uri: opts.uri } : {}, outputs: opts.uri ? { uri: opts.uri } : {},
  };
  const providerRef = `${provider.urn}::${provider.id}`;

  const out: StateResource[] = [];
  for (const r of resources) {
    if (r === dynamic[0] && !existing) out.push(provider);
    const moved: StateResource = { ...r, urn: renamed(r.urn) };
    if (r.parent) moved.parent = renamed(r.parent);
    if (r.dependencies) moved.dependencies = r.dependencies.map(renamed);
    if (r.propertyDependencies) {
      moved.propertyDependencies = Object.fromEntries(Object.entries(r.propertyDependencies).map(([k, v]) => [k, v.map(renamed)]));
    }
    if (r.type.startsWith(DYNAMIC)) {
      moved.type = PLUGIN + r.type.slice(DYNAMIC.length);
      moved.provider = providerRef;
      for (const side of ["inputs", "outputs"] as const) {
        if (r[side]) moved[side] = Object.fromEntries(Object.entries(r[side]!).filter(([k]) => k !== "__provider"));
      }
    }
    out.push(moved);
  }
  const used = new Set(out.map((r) => r.provider?.replace(/::[^:]+$/, "")));
  const kept = out.filter((r) => r.type !== NODEJS_PROVIDER || used.has(r.urn));
  return {
    state: { ...exported, deployment: { ...exported.deployment, resources: kept } },
    moved: dynamic.map((r) => r.urn),
  };
}
