/**
 * The generic dynamic provider: check, diff, create, read, update and delete for any resource
 * described by a ResourceSpec. The spec holds what is particular to one libvirt object (its
 * field table, validation, and how to apply changes); this file holds what every resource
 * shares: unknown values in preview, the connection, deadlines, and errors that name the
 * object, the host and the fix.
 */
import { LibvirtError } from "../libvirt/errors";
import { redactUri } from "../libvirt/uri";
import type { Libvirt } from "../libvirt/client";
import { Checker, CheckFailure } from "./check";
import { connection, resolveUri } from "./connections";
import { noteCreating, noteFacts, settled, unfinishedCreate } from "./creating";
import { DEFERRED, diffFields, FieldDiff, fieldsWith, FieldTable } from "./fields";
import { progress } from "./progress";
import { retrying } from "./retry";

/** Inputs every resource accepts. */
export interface CommonInputs {
  /** libvirt URI of the host; defaults to stack config libvirt:uri, LIBVIRT_DEFAULT_URI, qemu:///system. */
  uri?: string;
  /** Deadline in seconds for retries and waits within one create, update or delete (default 300). */
  timeoutSeconds?: number;
}

export interface Context {
  /** The shared connection to the host; replaced by retry() when the daemon restarted. */
  lv: Libvirt;
  uri: string;
  /** Milliseconds this operation may spend on retries and waits. */
  timeoutMs: number;
  /** Retry fn on transient libvirt errors within the operation's deadline. */
  retry<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * In a create: note a fact (one of its `facts`) before the step it describes, so that if pulumi
   * is killed meanwhile, removing the leftover knows it (the plugin only; otherwise a no-op).
   */
  remember(facts: Record<string, unknown>): void;
}

/**
 * Thrown by a spec's create when the object exists but could not be brought to the desired
 * state (a domain defined but not started). The engine records it as created but not
 * initialised, with its live state, so the next `pulumi up` finishes the job: nothing leaks and
 * nothing is forgotten.
 */
export class PartialCreateError extends Error {
  constructor(readonly id: string, reason: string) {
    super(reason);
  }
}

/** What read() sees of a live object. */
export interface LiveState<I, X> {
  /** The object as inputs would describe it. Keys left out are not observable (uri, timeouts). */
  live: Partial<I>;
  /** Output-only properties: uuid, state, capacity... */
  outputs: X;
  /** Host facts the table's read-side equivalences (Field.same) need, e.g. machine aliases. */
  facts?: unknown;
}

/**
 * For resources with restart fields: how their definition reaches the running object. The
 * core restarts only when the inputs allow it; otherwise the changes wait, listed by `pending`
 * (the resource's `pendingRestart` output comes from the same comparison).
 */
export interface RestartPolicy<I, T> {
  allowed(news: I): boolean;
  /**
   * Restart fields (and deferred live ones) whose definition differs from the running object;
   * undefined when the object is not running.
   */
  pending(ctx: Context, target: T): Promise<string[] | undefined>;
  run(ctx: Context, target: T, news: I, fields: string[]): Promise<void>;
  /** What to tell the user when changes wait (a default names the fields and allowRestart). */
  waiting?(fields: string[]): string;
}

/**
 * Everything particular to one kind of libvirt object. I is its inputs, X its output-only
 * properties; the resource's outputs are I & X, because diff only ever sees outputs.
 */
export interface ResourceSpec<I extends CommonInputs, X, T = any> {
  kind: string;
  fields: FieldTable<I, T>;
  /**
   * Inputs that name the object in libvirt (name, pool). A replacement that keeps them must
   * delete the old object first, since libvirt will not hold two objects of one name.
   */
  identity: readonly (keyof I & string)[];
  /**
   * Optional: whether a replacement could not exist beside the old object even under another
   * name (a network's subnet or bridge name), so the old one must be deleted first.
   */
  collides?(olds: Partial<I>, news: I): boolean;
  /** Validate and normalize (defaults filled, units parsed). Never touches libvirt. */
  check(news: Record<string, unknown>, c: Checker, olds: Partial<I>): I;
  /** 'storage pool "images"', for errors and progress. */
  describe(inputs: Partial<I>, id?: string): string;
  /**
   * Make the object. `facts` are outputs libvirt cannot tell later (whether the provider built
   * the storage); read receives them back in `recorded`. On failure create leaves nothing
   * behind, or throws PartialCreateError.
   */
  create(ctx: Context, inputs: I): Promise<{ id: string; facts?: Partial<X> }>;
  /** The live object, or undefined when it is gone. `recorded` holds the last known outputs. */
  read(ctx: Context, id: string, recorded: Partial<I & X>): Promise<LiveState<I, X> | undefined>;
  /**
   * The first step of an update (never a replacement: the engine handles those): find the
   * object and write its new definition where it has one. Returns the handle that the table's
   * live steps, the restart and settle act on. Then the core runs the plan: the live steps of
   * the changed fields in table order, the restart if allowed (else the changes wait), the
   * steps marked afterRestart, settle.
   */
  prepare(ctx: Context, id: string, olds: I & X, news: I, diff: FieldDiff): Promise<T>;
  restart?: RestartPolicy<I, T>;
  /** The last step of an update (e.g. wait for the guest's addresses). */
  settle?(ctx: Context, target: T, news: I): Promise<void>;
  delete(ctx: Context, id: string, olds: I & X): Promise<void>;
  /**
   * The id of the object these identity inputs name, if it exists. With it, the plugin removes
   * what a create of the same resource left when pulumi was killed (see creating.ts).
   */
  find?(ctx: Context, names: Partial<I>): Promise<string | undefined>;
}

/**
 * The live value in the shape the user wrote: for objects, only the keys the user set are
 * compared. Without this, every default libvirt fills in (a pool's owner 0, a mode of 0755)
 * would be a diff that never goes away.
 */
export function projectOnto(desired: unknown, live: unknown): unknown {
  if (desired && typeof desired === "object" && !Array.isArray(desired) && live && typeof live === "object" && !Array.isArray(live)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(desired)) {
      if ((desired as any)[k] === undefined) continue;
      const v = projectOnto((desired as any)[k], (live as any)[k]);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }
  // Lists compare element by element, each in the shape the user wrote it.
  if (Array.isArray(desired) && Array.isArray(live)) return live.map((x, i) => (i < desired.length ? projectOnto(desired[i], x) : x));
  return live;
}

const DEFAULT_TIMEOUT_S = 300;

/**
 * Values as the engine stores them: state has no undefined, and the host's conversion to a
 * protobuf Struct throws "Unexpected struct type" on one.
 */
function withoutUndefined<T>(v: T): T {
  if (Array.isArray(v)) return v.map(withoutUndefined) as T;
  if (v && typeof v === "object") {
    const out: any = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = withoutUndefined(x);
    return out;
  }
  return v;
}

export interface DynamicProvider {
  check(olds: any, news: any): Promise<{ inputs?: any; failures?: CheckFailure[] }>;
  diff(id: string, olds: any, news: any): Promise<{ changes?: boolean; replaces?: string[]; deleteBeforeReplace?: boolean }>;
  /** diff, plus every input that differs: the plugin's detailed diff. */
  detailedDiff(id: string, olds: any, news: any): Promise<{ changes?: boolean; replaces?: string[]; deleteBeforeReplace?: boolean; changed?: string[] }>;
  /**
   * deadlineSeconds: the engine's customTimeouts, used when the inputs set no timeoutSeconds;
   * owner: the resource's URN. Both come from the plugin only.
   */
  create(inputs: any, deadlineSeconds?: number, owner?: string): Promise<{ id: string; outs?: any }>;
  read(id: string, props?: any): Promise<{ id?: string; props?: any; inputs?: any }>;
  update(id: string, olds: any, news: any, deadlineSeconds?: number): Promise<{ outs?: any }>;
  delete(id: string, props: any, deadlineSeconds?: number): Promise<void>;
}

export function makeProvider<I extends CommonInputs, X, T>(spec: ResourceSpec<I, X, T>): DynamicProvider {
  type O = I & X;
  const inputKeys = Object.keys(spec.fields) as (keyof I & string)[];

  /** Outputs carry every input (diff only sees outputs), so inputs are a projection of them. */
  const inputsOf = (outs: Partial<O>): I => {
    const inputs: any = {};
    for (const k of inputKeys) if (outs[k] !== undefined) inputs[k] = outs[k];
    return inputs;
  };

  /** Refreshed inputs: each recorded input replaced by what libvirt holds now, in its shape. */
  /** adopting: an import, where nothing is recorded, so what libvirt chose is taken as given too. */
  const refreshed = (recorded: I, { live, facts }: Pick<LiveState<I, X>, "live" | "facts">, adopting = false): I => {
    const out: any = { ...recorded };
    for (const k of inputKeys) {
      if (!(k in live)) continue;
      const field = spec.fields[k];
      if (recorded[k] !== undefined && field.same?.(recorded[k], live[k], facts)) continue;
      out[k] = recorded[k] === undefined && field.computed && !adopting ? undefined : projectOnto(recorded[k], live[k]);
      if (out[k] === undefined) delete out[k];
    }
    return out;
  };

  const namesOf = (inputs: Partial<I>): Record<string, string> => {
    const names: Record<string, string> = {};
    for (const k of spec.identity) if (k !== "uri" && inputs[k] !== undefined) names[k] = String(inputs[k]);
    return names;
  };

  /** If an interrupted create of this very resource left its object, remove it; then note this create. */
  async function removeOwnLeftover(ctx: Context, owner: string, inputs: I): Promise<void> {
    const unfinished = unfinishedCreate(owner, ctx.uri);
    const names = unfinished?.names as Partial<I> | undefined;
    const id = names && (await spec.find!(ctx, names));
    if (id) {
      progress(`${spec.describe(names, id)} is what an interrupted create of this same resource left (pulumi stopped before recording it): removing it to create it again`);
      await spec.delete(ctx, id, { ...inputs, ...names, ...unfinished!.facts } as O);
    }
    // Only a free name is noted: an object already there is not this create's and must stay.
    if ((await spec.find!(ctx, namesOf(inputs) as Partial<I>)) === undefined) {
      noteCreating(owner, ctx.uri, namesOf(inputs));
      ctx.remember = (facts) => noteFacts(owner, facts);
    }
  }

  async function context(inputs: Partial<I>, deadlineSeconds?: number): Promise<Context> {
    const uri = resolveUri(inputs.uri);
    const timeoutMs = (inputs.timeoutSeconds ?? deadlineSeconds ?? DEFAULT_TIMEOUT_S) * 1000;
    const lv = await retrying(() => connection(uri), Math.min(timeoutMs, 30000));
    const ctx: Context = {
      lv, uri, timeoutMs,
      // Specs call ctx.lv afresh inside fn, so a replaced connection is picked up on the retry.
      retry: (fn) => retrying(fn, timeoutMs, async () => { ctx.lv = await connection(uri); }),
      remember: () => undefined,
    };
    return ctx;
  }

  async function outputsAfterChange(ctx: Context, id: string, inputs: I, recorded: Partial<O>): Promise<O> {
    const state = await spec.read(ctx, id, { ...recorded, ...inputs });
    if (!state) throw new Error(`${spec.describe(inputs, id)} vanished right after it was changed`);
    return withoutUndefined({ ...inputs, ...state.outputs });
  }

  /** The shape the host expects for ErrorResourceInitFailed: id, the live properties, reasons. */
  async function partiallyCreated(ctx: Context, e: PartialCreateError, inputs: I): Promise<Error> {
    const err: any = explain(new Error(e.message), inputs, e.id);
    const state = await spec.read(ctx, e.id, inputs as unknown as Partial<O>).catch(() => undefined);
    err.id = e.id;
    // The host turns properties into a protobuf Struct, which has no place for undefined.
    err.properties = withoutUndefined(state ? { ...refreshed(inputs, state), ...state.outputs } : inputs);
    err.reasons = [err.message];
    return err;
  }

  /** Errors name the object and the host; libvirt's own message says what failed. */
  function explain(e: unknown, inputs: Partial<I>, id?: string): Error {
    const what = `${spec.describe(inputs, id)} on ${redactUri(resolveUri(inputs.uri))}`;
    const message = e instanceof Error ? e.message : String(e);
    const err = new Error(`${what}: ${message}`);
    if (e instanceof LibvirtError) (err as any).libvirtCode = e.code;
    return err;
  }

  function checkInputs(news: Record<string, unknown>, olds: Partial<I>): { inputs: I; failures: CheckFailure[] } {
    const c = new Checker();
    c.noExtraKeys("", news, inputKeys);
    const inputs = spec.check(news, c, olds);
    c.int("timeoutSeconds", news.timeoutSeconds, 1, 86400);
    c.string("uri", news.uri, { pattern: /^[a-z][a-z0-9]*(\+[a-z0-9]+)?:\/\//i, accepted: "a libvirt URI such as qemu:///system or qemu+ssh://user@host/system" });
    if (news.uri !== undefined) (inputs as any).uri = news.uri;
    if (news.timeoutSeconds !== undefined) (inputs as any).timeoutSeconds = news.timeoutSeconds;
    // Refusals compare against the previous inputs, so a shrink fails before anything runs.
    if (olds && Object.keys(olds).length) {
      // A replacement makes a new object, so nothing is moved or shrunk: nothing to refuse.
      const d = diffFields(spec.fields, olds, inputs);
      if (!d.replaces.length) for (const r of d.refusals) c.fail(r.property, r.reason);
    }
    return { inputs: withoutUndefined(inputs), failures: c.failures };
  }

  const liveFields = fieldsWith(spec.fields, "live");
  const restartFields = fieldsWith(spec.fields, "restart");

  const moveFields = fieldsWith(spec.fields, "move");

  /** An update: a move first (the rest runs where the object is then), the definition, the live steps, a restart where allowed, settle. */
  async function runPlan(ctx: Context, id: string, olds: O, news: I, d: FieldDiff, deadlineSeconds?: number): Promise<void> {
    const oldInputs = inputsOf(olds);
    for (const f of moveFields.filter((m) => d.changed.includes(m))) {
      const field = spec.fields[f];
      if (field.effect === "move") await field.move({ from: await context({ ...oldInputs, timeoutSeconds: news.timeoutSeconds }, deadlineSeconds), to: ctx, id, olds: oldInputs, news });
    }
    const target = await spec.prepare(ctx, id, olds, news, d);
    const steps = liveFields.filter((f) => d.changed.includes(f));
    const deferred: string[] = [];
    const run = async (afterRestart: boolean) => {
      for (const f of steps) {
        const field = spec.fields[f];
        if (field.effect !== "live" || !!field.afterRestart !== afterRestart) continue;
        if ((await field.apply({ ctx, target, olds: oldInputs, news })) === DEFERRED) deferred.push(f);
      }
    };
    await run(false);
    if (spec.restart) {
      // What waits: this change's restart fields and deferred steps, and earlier changes that waited.
      // Nothing waits on a stopped object: it takes its definition when it starts.
      const pending = await spec.restart.pending(ctx, target);
      const changedNow = [...restartFields.filter((f) => d.changed.includes(f)), ...deferred];
      const waiting = pending ? [...new Set([...changedNow, ...pending])] : [];
      const what = spec.describe(news, id);
      if (waiting.length && spec.restart.allowed(news)) {
        progress(`restarting ${what} to apply ${waiting.join(", ")}`);
        await spec.restart.run(ctx, target, news, waiting);
      } else if (waiting.length && changedNow.length) {
        progress(`${what}: ${spec.restart.waiting?.(waiting) ?? `${waiting.join(", ")} saved in its definition; they take effect at its next restart (set allowRestart: true to restart it now; the pendingRestart output lists them)`}`);
      }
    }
    await run(true);
    await spec.settle?.(ctx, target, news);
  }

  /** The diff from the field table, with every changed input (the plugin's detailed diff). */
  async function detailedDiff(id: string, olds: O, news: I): Promise<{ changes: boolean; replaces?: string[]; deleteBeforeReplace?: boolean; changed?: string[] }> {
    const d = diffFields(spec.fields, inputsOf(olds), news);
    const waiting = (olds as { pendingRestart?: string[] }).pendingRestart;
    // Deferred changes are no diff (the definition holds them), but a preview says they wait.
    if (waiting?.length && !d.changed.includes("allowRestart")) {
      progress(`${spec.describe(news, id)}: ${waiting.join(", ")} wait for a restart (pendingRestart); set allowRestart: true or restart it to apply them`);
    }
    if (!d.changed.length) return { changes: false };
    // A spec without identity fields (names that carry a content hash) never collides by name.
    const keepsIdentity = spec.identity.length > 0 && spec.identity.every((k) => !d.changed.includes(k));
    const deleteFirst = d.replaces.length > 0 && (keepsIdentity || !!spec.collides?.(inputsOf(olds), news));
    return { changes: true, replaces: d.replaces, deleteBeforeReplace: deleteFirst, changed: d.changed };
  }

  return {
    async check(olds, news) {
      const { inputs, failures } = checkInputs(news, inputsOf(olds ?? {}));
      return failures.length ? { inputs: news, failures } : { inputs };
    },

    async diff(id, olds, news) {
      const { changed: _changed, ...rest } = await detailedDiff(id, olds, news);
      return rest;
    },

    detailedDiff,

    async create(inputs: I, deadlineSeconds, owner) {
      let ctx: Context | undefined;
      const journaled = owner !== undefined && spec.find !== undefined;
      try {
        ctx = await context(inputs, deadlineSeconds);
        if (journaled) await removeOwnLeftover(ctx, owner!, inputs);
        const { id, facts } = await spec.create(ctx, inputs);
        return { id, outs: await outputsAfterChange(ctx, id, inputs, (facts ?? {}) as Partial<O>) };
      } catch (e) {
        if (e instanceof PartialCreateError && ctx) throw await partiallyCreated(ctx, e, inputs);
        // The note stays unless nothing is left (a daemon that died mid-create may hold a half).
        if (journaled && ctx && (await spec.find!(ctx, namesOf(inputs) as Partial<I>).catch(() => "unknown")) === undefined) settled(owner!);
        throw explain(e, inputs);
      }
    },

    async read(id, props: O) {
      try {
        const recorded = inputsOf(props ?? {});
        const ctx = await context(recorded);
        const state = await spec.read(ctx, id, props ?? {});
        if (!state) return {};
        // An import records nothing: every input comes from libvirt, and the provider-side
        // settings (allowRestart, forceDelete...) take check's defaults, so the adopted object's
        // next preview is empty.
        const adopting = !Object.keys(recorded).length;
        let inputs = withoutUndefined(refreshed(recorded, state, adopting));
        if (adopting) {
          const checked = checkInputs(inputs as Record<string, unknown>, {});
          if (!checked.failures.length) inputs = checked.inputs;
        }
        return { id, props: withoutUndefined({ ...inputs, ...state.outputs }), inputs };
      } catch (e) {
        throw explain(e, props, id);
      }
    },

    async update(id, olds: O, news: I, deadlineSeconds) {
      try {
        const d = diffFields(spec.fields, inputsOf(olds), news);
        for (const r of d.refusals) throw new Error(`${r.property}: ${r.reason}`);
        const ctx = await context(news, deadlineSeconds);
        await runPlan(ctx, id, olds, news, d, deadlineSeconds);
        return { outs: await outputsAfterChange(ctx, id, news, olds) };
      } catch (e) {
        throw explain(e, news, id);
      }
    },

    async delete(id, props: O, deadlineSeconds) {
      try {
        const ctx = await context(props, deadlineSeconds);
        await spec.delete(ctx, id, props);
      } catch (e) {
        throw explain(e, props, id);
      }
    },
  };
}
