/**
 * Opt-in timing of provider calls, for the stack bench (bench/stack.ts) and for users asking
 * where a slow preview goes: with PULUMI_LIBVIRT_PROFILE=FILE, every call of a resource provider
 * appends one JSON line to FILE: {kind, method, start (epoch ms), ms, rpcs, pid}. Appending whole
 * lines keeps the file readable when several provider processes write it at once.
 */
import { appendFileSync } from "node:fs";
import { rpcTally } from "../libvirt/rpc";
import type { DynamicProvider } from "./resource";

export interface ProfileLine { kind: string; method: string; start: number; ms: number; rpcs: number; pid: number; failed?: boolean }

export function profiled(kind: string, provider: DynamicProvider, file = process.env.PULUMI_LIBVIRT_PROFILE): DynamicProvider {
  if (!file) return provider;
  const wrapped: any = {};
  for (const [method, fn] of Object.entries(provider) as [string, (...a: unknown[]) => Promise<unknown>][]) {
    wrapped[method] = (...args: unknown[]) => {
      const tally = { calls: 0 };
      const start = Date.now();
      const t0 = performance.now();
      const write = (failed: boolean) => {
        const line: ProfileLine = { kind, method, start, ms: performance.now() - t0, rpcs: tally.calls, pid: process.pid, ...(failed ? { failed } : {}) };
        appendFileSync(file, JSON.stringify(line) + "\n");
      };
      return rpcTally.run(tally, () => fn(...args)).then(
        (r) => (write(false), r),
        (e) => { write(true); throw e; },
      );
    };
  }
  return wrapped;
}

/** A process's start and how long it took to load this module: `what` is "program" or "provider". */
export function profileLoad(what: string, file = process.env.PULUMI_LIBVIRT_PROFILE): void {
  if (!file) return;
  const line: ProfileLine = { kind: what, method: "load", start: performance.timeOrigin, ms: performance.now(), rpcs: 0, pid: process.pid };
  appendFileSync(file, JSON.stringify(line) + "\n");
}
