/**
 * The field table: one declaration per resource of every input and what a change to it does.
 * diff answers from it, update applies from it, and the README's tables are generated from it
 * (fields.test.ts fails when the README disagrees), so behaviour is read in one place.
 */
import { isDeepStrictEqual } from "node:util";
import { containsUnknown } from "./unknown";
import type { Context } from "./resource";

export type Effect =
  /** Applied to the running object and its definition, without disruption. */
  | "live"
  /** Written to the definition; takes effect on a restart the user allowed, or the next one. */
  | "restart"
  /** The object is deleted and created again. */
  | "replace"
  /**
   * The object is moved (to another host) by the field's move step, before the rest of the
   * update runs there; where replacesWhen holds (the user did not ask for a move), replaced.
   */
  | "move"
  /** Provider-side settings (timeouts, safety switches): no libvirt change. */
  | "none";

/** What a live step returns when the change could not be made live and waits for a restart. */
export const DEFERRED = "deferred" as const;

/** What a live step is given: the object's handle from the spec's prepare, and both inputs. */
export interface Change<I, T> {
  ctx: Context;
  target: T;
  olds: I;
  news: I;
}

/** How a live field is applied to the running object (its definition is already written). */
export type LiveStep<I, T> = (change: Change<I, T>) => Promise<void | typeof DEFERRED>;

/** What a move step is given: the object's id, a context for where it is and one for where it goes. */
export interface Move<I> {
  from: Context;
  to: Context;
  id: string;
  olds: I;
  news: I;
}

interface FieldBase {
  /** One line for the README: what changes and how. */
  doc: string;
  /** Unset means "whatever libvirt chose" (detected format, default paths): never a diff. */
  computed?: boolean;
  /** Kept secret in state and output (a password, cloud-init user-data). */
  secret?: true;
  /** A reason to refuse the change from old to next (e.g. shrinking a volume), or undefined. */
  refuse?(old: any, next: any): string | undefined;
  /**
   * For a field whose effect is not "replace": the particular changes that replace the object
   * anyway (a network switching between a libvirt bridge and a host device). An unknown next
   * value counts as one. `news` holds all the next inputs (a move asked for by another input).
   */
  replacesWhen?(old: any, next: any, news: any): boolean;
  /**
   * Read-side equivalence: whether the value libvirt reports means what was recorded (a size
   * rounded to KiB, a machine alias). Then read keeps the recorded value and no diff appears.
   * `facts` are what the spec's read found out about the host.
   */
  same?(recorded: any, live: any, facts: any): boolean;
}

/**
 * One input's declaration. A live field must say how it is applied, so a table cannot promise
 * a live change that nothing makes; `afterRestart` steps run once a restart (if any) is done.
 */
export type Field<I = any, T = any> =
  | (FieldBase & { effect: "live"; apply: LiveStep<I, T>; afterRestart?: boolean })
  | (FieldBase & { effect: "move"; move(m: Move<I>): Promise<void>; apply?: never })
  | (FieldBase & { effect: "restart" | "replace" | "none"; apply?: never });

/** Every input of I must be declared: the compiler keeps the table complete. */
export type FieldTable<I, T = any> = { readonly [K in keyof Required<I>]: Field<I, T> };

/** The fields of a table marked secret. */
export function secretFields<I>(table: FieldTable<I>): (keyof I & string)[] {
  return (Object.entries(table) as [keyof I & string, Field][]).filter(([, f]) => f.secret).map(([k]) => k);
}

/** The fields of a table with the given effect, in table order. */
export function fieldsWith<I>(table: FieldTable<I>, effect: Effect): (keyof I & string)[] {
  return (Object.entries(table) as [keyof I & string, Field][]).filter(([, f]) => f.effect === effect).map(([k]) => k);
}

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
    if (field.effect === "replace" || (field.replacesWhen && (containsUnknown(next) || field.replacesWhen(old, next, news)))) out.replaces.push(name);
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
  move: "moves (or replaces)",
  none: "no libvirt change",
};

/** The README table for a resource. */
export function fieldTableMarkdown<I>(table: FieldTable<I>): string {
  const rows = Object.entries(table as Record<string, Field>).map(([name, f]) => `| \`${name}\` | ${EFFECT_TEXT[f.effect]} | ${f.doc} |`);
  return ["| input | on change | notes |", "| --- | --- | --- |", ...rows].join("\n");
}
