/**
 * The field table: one declaration per resource of every input and what a change to it does.
 * diff answers from it, update applies from it, and the README's tables are generated from it
 * (fields.test.ts fails when the README disagrees), so behaviour is read in one place.
 */
import { isDeepStrictEqual } from "node:util";
import { containsUnknown } from "./unknown";

export type Effect =
  /** Applied to the running object and its definition, without disruption. */
  | "live"
  /** Written to the definition; takes effect on a restart the user allowed, or the next one. */
  | "restart"
  /** The object is deleted and created again. */
  | "replace"
  /** Provider-side settings (timeouts, safety switches): no libvirt change. */
  | "none";

export interface Field {
  effect: Effect;
  /** One line for the README: what changes and how. */
  doc: string;
  /** Unset means "whatever libvirt chose" (detected format, default paths): never a diff. */
  computed?: boolean;
  /** A reason to refuse the change from old to next (e.g. shrinking a volume), or undefined. */
  refuse?(old: any, next: any): string | undefined;
  /**
   * For a field whose effect is not "replace": the particular changes that replace the object
   * anyway (a network switching between a libvirt bridge and a host device). An unknown next
   * value counts as one.
   */
  replacesWhen?(old: any, next: any): boolean;
}

/** Every input of I must be declared: the compiler keeps the table complete. */
export type FieldTable<I> = { readonly [K in keyof Required<I>]: Field };

export interface FieldDiff {
  /** Inputs whose desired value differs from the recorded one (or is unknown in preview). */
  changed: string[];
  /** The subset of changed whose effect is replacement. */
  replaces: string[];
  /** Changes the table refuses, as "field: reason". */
  refusals: { property: string; reason: string }[];
}

export function diffFields<I extends object>(table: FieldTable<I>, olds: Partial<I>, news: Partial<I>): FieldDiff {
  const out: FieldDiff = { changed: [], replaces: [], refusals: [] };
  for (const [name, field] of Object.entries(table) as [string, Field][]) {
    const next = (news as any)[name];
    const old = (olds as any)[name];
    if (next === undefined && field.computed) continue;
    if (!containsUnknown(next) && isDeepStrictEqual(normalizeEmpty(old), normalizeEmpty(next))) continue;
    out.changed.push(name);
    if (field.effect === "replace" || (field.replacesWhen && (containsUnknown(next) || field.replacesWhen(old, next)))) out.replaces.push(name);
    const reason = containsUnknown(next) ? undefined : field.refuse?.(old, next);
    if (reason) out.refusals.push({ property: name, reason });
  }
  return out;
}

/** Absent, null and empty lists mean the same to users and to libvirt. */
function normalizeEmpty(v: unknown): unknown {
  if (v === null || (Array.isArray(v) && v.length === 0)) return undefined;
  return v;
}

const EFFECT_TEXT: Record<Effect, string> = {
  live: "updated live",
  restart: "definition + restart",
  replace: "replaces",
  none: "no libvirt change",
};

/** The README table for a resource. */
export function fieldTableMarkdown<I>(table: FieldTable<I>): string {
  const rows = Object.entries(table as Record<string, Field>).map(([name, f]) => `| \`${name}\` | ${EFFECT_TEXT[f.effect]} | ${f.doc} |`);
  return ["| input | on change | notes |", "| --- | --- | --- |", ...rows].join("\n");
}
