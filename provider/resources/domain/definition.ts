/**
 * The persistent definition a Domain's inputs make: the XML, the ceilings for live memory and
 * vCPU changes, and the formats of pool volumes.
 */
import type { Context } from "../../core/resource";
import { DomainDef, domainToXml, mergeOverride } from "../../xml/domain";
import type { DomainInputs } from "./inputs";

export interface Ceilings {
  /** Bytes: the balloon's ceiling (<memory>). */
  maxMemory: number;
  /** The hotplug ceiling (<vcpu>). */
  maxVcpus: number;
}

/**
 * The ceilings the definition gets. Given ones are used as given. Unset ones keep what the
 * definition has (`current`, on updates) while the new value fits under it, so memory and
 * vCPUs change live; otherwise (creation, or growing past it) they leave headroom: twice the
 * memory (at most the host's RAM) and the host's CPU count (or what cpu.topology holds).
 */
export async function ceilings(ctx: Context, inputs: DomainInputs, current?: Ceilings): Promise<Ceilings> {
  const product = inputs.cpu?.topology ? inputs.cpu.topology.sockets * inputs.cpu.topology.cores * inputs.cpu.topology.threads : undefined;
  const given = { maxMemory: inputs.maxMemory, maxVcpus: inputs.maxVcpus ?? product };
  const kept = {
    maxMemory: current && current.maxMemory >= inputs.memory ? current.maxMemory : undefined,
    maxVcpus: current && current.maxVcpus >= inputs.vcpus ? current.maxVcpus : undefined,
  };
  if (given.maxMemory !== undefined && given.maxVcpus !== undefined) return given as Ceilings;
  let host: { memory: number; cpus: number } | undefined;
  if ((given.maxMemory ?? kept.maxMemory) === undefined || (given.maxVcpus ?? kept.maxVcpus) === undefined) {
    const info = await ctx.retry(() => ctx.lv.nodeGetInfo());
    host = { memory: Number(info.memory) * 1024, cpus: info.cpus };
  }
  // A hard limit is a budget: no headroom past it.
  const roomy = Math.min(2 * inputs.memory, host?.memory ?? Infinity, inputs.memtune?.hardLimit ?? Infinity);
  return {
    maxMemory: given.maxMemory ?? kept.maxMemory ?? Math.max(inputs.memory, roomy),
    maxVcpus: given.maxVcpus ?? kept.maxVcpus ?? Math.max(inputs.vcpus, host?.cpus ?? 1),
  };
}

/** The definition: the typed inputs (less the provider's own settings), the ceilings, the override merged over them. */
export async function definitionXml(inputs: DomainInputs, type: "kvm" | "qemu", limits: Ceilings, uuid?: string): Promise<string> {
  const { xmlOverride, autostart, state, allowRestart, shutdownTimeoutSeconds, waitForIp, waitForIpTimeoutSeconds, uri, timeoutSeconds, ...def } = inputs;
  const xml = domainToXml({ ...(def as DomainDef), type, uuid, ...limits });
  return xmlOverride ? mergeOverride(xml, xmlOverride) : xml;
}

/**
 * libvirt opens a pool volume as raw unless the disk names its format, so a qcow2 volume
 * attached without one would show the guest its qcow2 file as raw bytes. Disks on volumes get
 * the format libvirt records for the volume (an ISO reads as raw).
 */
export async function withVolumeFormats(ctx: Context, inputs: DomainInputs): Promise<DomainInputs> {
  const disks = await Promise.all(inputs.disks.map(async (d) => {
    if (!d.volume || d.format) return d;
    const pool = await ctx.retry(() => ctx.lv.storagePoolLookupByName(d.volume!.pool));
    const vol = await ctx.retry(() => ctx.lv.storageVolLookupByName(pool, d.volume!.name));
    const format = /<target>[\s\S]*?<format type=['"](\w+)['"]/.exec(await ctx.lv.storageVolGetXmlDesc(vol))?.[1];
    return { ...d, format: format === "qcow2" ? "qcow2" as const : "raw" as const };
  }));
  return { ...inputs, disks };
}
