import * as pulumi from "@pulumi/pulumi";
import { cloudInitDiskFields, type CloudInitDiskInputs, type CloudInitDiskOutputs } from "../provider/resources/cloudInitDisk";
import { providerShim } from "./shim";
import { ArgsOf, OutputsOf, registration } from "./types";

export interface CloudInitDiskArgs extends ArgsOf<Omit<CloudInitDiskInputs, "name">> {
  /** Base of the seed volume's name; defaults to the Pulumi resource name. */
  name?: pulumi.Input<string>;
}

export interface CloudInitDisk extends OutputsOf<CloudInitDiskInputs & CloudInitDiskOutputs> {}

/** Every output, registered unset so the engine makes it an Output (the type checks none is missing). */
export const cloudInitDiskOutputs: Record<keyof CloudInitDiskOutputs, undefined> = { volumeName: undefined, key: undefined, path: undefined, size: undefined, sha256: undefined };

/**
 * A cloud-init NoCloud seed disk, built in memory (no mkisofs) and uploaded into a pool.
 * Attach it as a cdrom: `{ device: "cdrom", volume: { pool: seed.pool, name: seed.volumeName } }`.
 * user-data is kept secret in state and output.
 */
export class CloudInitDisk extends pulumi.dynamic.Resource {
  constructor(name: string, args: CloudInitDiskArgs, opts?: pulumi.CustomResourceOptions) {
    super(providerShim("CloudInitDisk"), name, ...registration(cloudInitDiskFields, cloudInitDiskOutputs, name, args, opts), "libvirt", "CloudInitDisk");
  }
}
