import * as pulumi from "@pulumi/pulumi";
import { storagePoolFields, type StoragePoolInputs, type StoragePoolOutputs } from "../provider/resources/storagePool";
import { providerShim } from "./shim";
import { ArgsOf, OutputsOf, registration } from "./types";

export interface StoragePoolArgs extends ArgsOf<Omit<StoragePoolInputs, "name">> {
  /** The pool's name in libvirt; defaults to the Pulumi resource name. */
  name?: pulumi.Input<string>;
}

export interface StoragePool extends OutputsOf<StoragePoolInputs & StoragePoolOutputs> {}

/** Every output, registered unset so the engine makes it an Output (the type checks none is missing). */
export const storagePoolOutputs: Record<keyof StoragePoolOutputs, undefined> = {
  uuid: undefined, state: undefined, capacity: undefined, allocation: undefined, available: undefined, builtByProvider: undefined,
};

/**
 * A libvirt storage pool: a directory, filesystem, NFS export, LVM volume group, disk or iSCSI
 * target that holds volumes.
 *
 *     const pool = new libvirt.StoragePool("images", { type: "dir", target: { path: "/var/lib/libvirt/images/images" } });
 */
export class StoragePool extends pulumi.dynamic.Resource {
  constructor(name: string, args: StoragePoolArgs, opts?: pulumi.CustomResourceOptions) {
    super(providerShim("StoragePool"), name, ...registration(storagePoolFields, storagePoolOutputs, name, args, opts), "libvirt", "StoragePool");
  }
}
