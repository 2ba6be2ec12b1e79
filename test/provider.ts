/**
 * Drive a provider the way the Pulumi dynamic-provider host does: serialize the shim that
 * sdk/ passes to dynamic.Resource, revive it from that text with require-from-string, configure
 * it, and call its methods. The revived shim loads the compiled provider from bin/, so run
 * `npm run build` first (the test command does).
 */
import * as pulumi from "@pulumi/pulumi";
import { providerShim } from "../sdk/shim";
import { closeAll } from "../provider/core/connections";
import { noteCall } from "./rows";

// eslint-disable-next-line @typescript-eslint/no-var-requires
const requireFromString: (code: string) => any = require("require-from-string");

export interface Revived {
  check(olds: any, news: any): Promise<{ inputs?: any; failures?: { property: string; reason: string }[] }>;
  diff(id: string, olds: any, news: any): Promise<{ changes?: boolean; replaces?: string[]; deleteBeforeReplace?: boolean }>;
  create(inputs: any): Promise<{ id: string; outs: any }>;
  read(id: string, props?: any): Promise<{ id?: string; props?: any; inputs?: any }>;
  update(id: string, olds: any, news: any): Promise<{ outs: any }>;
  delete(id: string, props: any): Promise<void>;
}

/**
 * jest runs tests in a vm context, so objects a test builds carry that realm's prototypes, and
 * isDeepStrictEqual in the provider (Node's realm) would find them unequal. The host hands the
 * provider plain objects decoded in Node's own realm; so does this.
 */
const hostJsonParse: (text: string) => any = require("node:vm").runInThisContext("JSON.parse");
const asHostValue = (v: unknown) => (v === undefined ? undefined : hostJsonParse(JSON.stringify(v)));

export async function revive(kind: string, config: Record<string, string> = {}): Promise<Revived> {
  const shim = providerShim(kind);
  const { text } = await pulumi.runtime.serializeFunction(() => shim, { allowSecrets: true });
  const provider = requireFromString(text).handler();
  await provider.configure({ config: { get: (k: string) => config[k] } });
  const call = (method: string) => async (...args: unknown[]) => {
    const hostArgs = args.map(asHostValue);
    try {
      const result = await provider[method](...hostArgs);
      noteCall(kind, method, hostArgs, result);
      return result;
    } catch (e) {
      noteCall(kind, method, hostArgs, undefined, e);
      throw e;
    }
  };
  return {
    check: call("check"), diff: call("diff"), create: call("create"), read: call("read"), update: call("update"), delete: call("delete"),
  } as Revived;
}

/** check() that must pass; returns the normalized inputs. */
export async function checked(p: Revived, news: any, olds: any = {}): Promise<any> {
  const r = await p.check(olds, news);
  if (r.failures?.length) throw new Error(`unexpected check failures: ${JSON.stringify(r.failures)}`);
  return r.inputs;
}

/** The failure for one property, asserting there is one. */
export async function failureFor(p: Revived, news: any, property: string, olds: any = {}): Promise<string> {
  const r = await p.check(olds, news);
  const f = r.failures?.find((x) => x.property === property);
  if (!f) throw new Error(`expected a check failure for ${property}, got ${JSON.stringify(r.failures ?? [])}`);
  return f.reason;
}

/** A resource driven through a revived provider, as the engine records it. */
export interface Managed { id: string; inputs: any; outs: any }

/** No diff right after a change, nor after a refresh. */
export async function expectNoDiff(p: Revived, m: Managed): Promise<void> {
  expect(await p.diff(m.id, m.outs, m.inputs)).toEqual({ changes: false });
  const r = await p.read(m.id, m.outs);
  expect(await p.diff(m.id, r.props, m.inputs)).toEqual({ changes: false });
}

/** A create as `pulumi up` runs it: check, create, then no diff right after nor after a refresh. */
export async function created(p: Revived, raw: any): Promise<Managed> {
  const inputs = await checked(p, raw);
  const { id, outs } = await p.create(inputs);
  const m = { id, inputs, outs };
  await expectNoDiff(p, m);
  return m;
}

/** An update as `pulumi up` runs it: check, a diff that is an update (no replacement), update, no diff after. */
export async function expectUpdate(p: Revived, m: Managed, patch: Record<string, unknown>): Promise<void> {
  const inputs = await checked(p, { ...m.inputs, ...patch }, m.inputs);
  expect(await p.diff(m.id, m.outs, inputs)).toMatchObject({ changes: true, replaces: [] });
  const { outs } = await p.update(m.id, m.outs, inputs);
  Object.assign(m, { inputs, outs });
  await expectNoDiff(p, m);
}

/**
 * The connections the revived providers opened live in the compiled provider's module
 * instance (bin/), not in the one ts-jest loads; close both so jest can exit.
 */
export async function closeProviderConnections(): Promise<void> {
  await closeAll();
  // The revived shim loaded bin/ through Node's own require, outside jest's module registry.
  // jest wraps node:module; its prototype is Node's own, whose createRequire shares Node's cache.
  const nativeRequire = Object.getPrototypeOf(require("node:module")).createRequire(__filename);
  await nativeRequire("../bin/provider/index.js").closeAll();
  // So is the uri configure() set: the next test file starts from no configuration.
  nativeRequire("../bin/provider/core/connections.js").setConfiguredUri(undefined);
}
