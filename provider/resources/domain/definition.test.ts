import type { Context } from "../../core/resource";
import type { DomainDef } from "../../xml/domain";
import { ceilings } from "./definition";
import { pendingFields } from "./index";
import type { DomainInputs } from "./inputs";

const MiB = 1024 ** 2;
const GiB = 1024 * MiB;

/** A host of 4 GiB and 2 CPUs, counting how often it is asked. */
function host() {
  const calls = { nodeGetInfo: 0 };
  const ctx = {
    retry: <T>(fn: () => Promise<T>) => fn(),
    lv: { nodeGetInfo: async () => (calls.nodeGetInfo++, { memory: BigInt(4 * 1024 * 1024), cpus: 2 }) },
  } as unknown as Context;
  return { ctx, calls };
}
const inputs = (extra: Partial<DomainInputs>) => ({ name: "vm", memory: 256 * MiB, vcpus: 1, disks: [], interfaces: [], ...extra }) as DomainInputs;

describe("ceilings of unset maxMemory/maxVcpus", () => {
  test("at creation: twice the memory and the host's CPUs", async () => {
    expect(await ceilings(host().ctx, inputs({}))).toEqual({ maxMemory: 512 * MiB, maxVcpus: 2 });
  });
  test("at most the host's RAM, at most memtune.hardLimit, never below the memory itself", async () => {
    expect((await ceilings(host().ctx, inputs({ memory: 3 * GiB }))).maxMemory).toBe(4 * GiB);
    expect((await ceilings(host().ctx, inputs({ memtune: { hardLimit: 300 * MiB } }))).maxMemory).toBe(300 * MiB);
    expect((await ceilings(host().ctx, inputs({ memory: 6 * GiB }))).maxMemory).toBe(6 * GiB);
  });
  test("more vCPUs than the host has: the ceiling is the vCPUs; cpu.topology decides when given", async () => {
    expect((await ceilings(host().ctx, inputs({ vcpus: 3 }))).maxVcpus).toBe(3);
    expect((await ceilings(host().ctx, inputs({ cpu: { topology: { sockets: 2, cores: 2, threads: 1 } } }))).maxVcpus).toBe(4);
  });
  test("on updates the recorded ceilings are kept while the values fit, without asking the host", async () => {
    const h = host();
    const current = { maxMemory: 512 * MiB, maxVcpus: 2 };
    expect(await ceilings(h.ctx, inputs({ memory: 384 * MiB, vcpus: 2 }), current)).toEqual(current);
    expect(await ceilings(h.ctx, inputs({ memory: 128 * MiB }), current)).toEqual(current);
    expect(h.calls.nodeGetInfo).toBe(0);
  });
  test("a value past the recorded ceiling raises it with headroom again", async () => {
    expect(await ceilings(host().ctx, inputs({ memory: 768 * MiB, vcpus: 2 }), { maxMemory: 512 * MiB, maxVcpus: 1 })).toEqual({ maxMemory: 1536 * MiB, maxVcpus: 2 });
  });
  test("given ceilings are used as given", async () => {
    const h = host();
    expect(await ceilings(h.ctx, inputs({ maxMemory: 1 * GiB, maxVcpus: 8 }), { maxMemory: 512 * MiB, maxVcpus: 2 })).toEqual({ maxMemory: GiB, maxVcpus: 8 });
    expect(h.calls.nodeGetInfo).toBe(0);
  });
});

describe("pendingFields: what the definition holds that the running guest does not", () => {
  const facts = { arch: "x86_64", machineAliases: new Map([["pc", "pc-i440fx-7.2"]]), kvmOffered: false };
  const base = { name: "vm", memory: 256 * MiB, maxMemory: 512 * MiB, vcpus: 1, maxVcpus: 2, machine: "pc-i440fx-7.2", disks: [], interfaces: [] } as unknown as DomainDef;
  test("nothing when they agree, also for a ballooned memory below the ceiling", () => {
    expect(pendingFields(base, { ...base, memory: 384 * MiB }, facts)).toEqual([]);
  });
  test("memory past the running ceiling, the ceiling itself, fewer vCPUs, a restart field", () => {
    const defined = { ...base, memory: 768 * MiB, maxMemory: 1536 * MiB, vcpus: 1, rng: true } as DomainDef;
    expect(pendingFields({ ...base, vcpus: 2 }, defined, facts)).toEqual(["memory", "maxMemory", "vcpus", "rng"]);
  });
  test("read-side equivalences count as equal (a machine alias)", () => {
    expect(pendingFields(base, { ...base, machine: "pc" }, facts)).toEqual([]);
  });
});
