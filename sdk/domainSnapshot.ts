import * as pulumi from "@pulumi/pulumi";
import { domainSnapshotFields, type DomainSnapshotInputs, type DomainSnapshotOutputs } from "../provider/resources/domainSnapshot";
import { providerShim } from "./shim";
import { ArgsOf, OutputsOf, registration } from "./types";

export interface DomainSnapshotArgs extends ArgsOf<Omit<DomainSnapshotInputs, "name">> {
  /** The snapshot's name in libvirt; defaults to the Pulumi resource name. */
  name?: pulumi.Input<string>;
}

export interface DomainSnapshot extends OutputsOf<DomainSnapshotInputs & DomainSnapshotOutputs> {}

/** Every output, registered unset so the engine makes it an Output (the type checks none is missing). */
export const domainSnapshotOutputs: Record<keyof DomainSnapshotOutputs, undefined> = { domainUuid: undefined, memory: undefined, state: undefined, creationTime: undefined, parent: undefined, current: undefined };

/**
 * An internal snapshot of a domain (its qcow2 disks, and its memory while it runs). Change
 * `revertTrigger` to revert the domain to it; deleting it keeps the snapshots taken after it.
 *
 *     const before = new libvirt.DomainSnapshot("before-upgrade", { domain: vm.uuid, description: "kernel 6.1" });
 *     // later, to go back: revertTrigger: "2026-12-07"
 */
export class DomainSnapshot extends pulumi.dynamic.Resource {
  constructor(name: string, args: DomainSnapshotArgs, opts?: pulumi.CustomResourceOptions) {
    super(providerShim("DomainSnapshot"), name, ...registration(domainSnapshotFields, domainSnapshotOutputs, name, args, opts), "libvirt", "DomainSnapshot");
  }
}
