import * as pulumi from "@pulumi/pulumi";
import { volumeFields, type VolumeInputs, type VolumeOutputs } from "../provider/resources/volume";
import { providerShim } from "./shim";
import { ArgsOf, OutputsOf, registration } from "./types";

export interface VolumeArgs extends ArgsOf<Omit<VolumeInputs, "name" | "capacity" | "allocation">> {
  /** The volume's name in its pool (a file name in dir pools); defaults to the Pulumi resource name. */
  name?: pulumi.Input<string>;
  /** Bytes the guest sees: a number of bytes or a string such as "20GiB". Grows in place; never shrinks. */
  capacity?: pulumi.Input<number | string>;
  /** Bytes to preallocate at creation (default 0: sparse), a number or a string such as "1GiB". */
  allocation?: pulumi.Input<number | string>;
}

/** Inputs as stored (sizes in bytes) and what libvirt reports. `format` is libvirt's word: "qcow2", "raw", "iso"... */
export interface Volume extends OutputsOf<Omit<VolumeInputs, "format"> & Omit<VolumeOutputs, "format"> & { format: string }> {}

/** Every output, registered unset so the engine makes it an Output (the type checks none is missing). */
export const volumeOutputs: Record<keyof VolumeOutputs, undefined> = {
  key: undefined, path: undefined, capacity: undefined, allocatedBytes: undefined, format: undefined, type: undefined, backingStorePath: undefined,
};

/**
 * A libvirt storage volume: blank, a copy-on-write overlay (`backingStore`), a full copy
 * (`cloneOf`), or filled from a local file or an http(s) URL (`source`; gzip and xz are
 * decompressed on the fly; `sha256` is of the file as stored or served).
 *
 *     const base = new libvirt.Volume("debian-12", {
 *       pool: pool.name,
 *       source: { url: "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2" },
 *     });
 *     const disk = new libvirt.Volume("vm1-disk", { pool: pool.name, backingStore: { volume: base.key }, capacity: "20GiB" });
 */
export class Volume extends pulumi.dynamic.Resource {
  constructor(name: string, args: VolumeArgs, opts?: pulumi.CustomResourceOptions) {
    super(providerShim("Volume"), name, ...registration(volumeFields, volumeOutputs, name, args, opts), "libvirt", "Volume");
  }
}
