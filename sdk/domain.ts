import * as pulumi from "@pulumi/pulumi";
import { domainFields, type DomainInputs, type DomainOutputs } from "../provider/resources/domain";
import type { DiskDef, InterfaceDef } from "../provider/xml/domain";
import { providerShim } from "./shim";
import { ArgsOf, DeepInput, OutputsOf, registration } from "./types";

type Size = number | string;

export interface DomainArgs extends ArgsOf<Omit<DomainInputs, "name" | "memory" | "maxMemory" | "disks" | "interfaces" | "memtune">> {
  /** The domain's name in libvirt; defaults to the Pulumi resource name. */
  name?: pulumi.Input<string>;
  /** Current memory: bytes or a size such as "512MiB". */
  memory: pulumi.Input<Size>;
  /** Maximum memory (balloon ceiling); unset: twice memory at creation, then kept while memory fits under it. */
  maxMemory?: pulumi.Input<Size>;
  /** Disks in guest order. target and bus are assigned when unset (vda, vdb...; cdroms on ide). */
  disks?: DeepInput<(Omit<DiskDef, "target" | "bus" | "device"> & Partial<Pick<DiskDef, "target" | "bus" | "device">>)[]>;
  /** Network interfaces; model defaults to virtio and mac to one generated once and kept stable. */
  interfaces?: DeepInput<(Omit<InterfaceDef, "model" | "mac"> & Partial<Pick<InterfaceDef, "model" | "mac">>)[]>;
  memtune?: DeepInput<{ hardLimit?: Size; softLimit?: Size }>;
}

export interface Domain extends OutputsOf<DomainInputs & DomainOutputs> {}

/** Every output, registered unset so the engine makes it an Output (the type checks none is missing). */
export const domainOutputs: Record<keyof DomainOutputs, undefined> = {
  uuid: undefined, domainId: undefined, status: undefined, macs: undefined, interfaceAddresses: undefined,
  ipAddress: undefined, graphicsPort: undefined, consolePath: undefined, pendingRestart: undefined,
};

/**
 * A libvirt domain (virtual machine). Changes libvirt can make to a running guest are made
 * live; others are saved in the definition and applied on a restart you allow (allowRestart).
 *
 *     const vm = new libvirt.Domain("web", { memory: "1GiB", vcpus: 2, disks: [{ volume: { pool: "default", name: "web.qcow2" } }],
 *       interfaces: [{ network: "default" }], waitForIp: true });
 *     export const ip = vm.ipAddress;
 */
export class Domain extends pulumi.dynamic.Resource {
  constructor(name: string, args: DomainArgs, opts?: pulumi.CustomResourceOptions) {
    super(providerShim("Domain"), name, ...registration(domainFields, domainOutputs, name, args, opts), "libvirt", "Domain");
  }
}
