/**
 * The same classes, names and inputs as `pulumi-libvirt`, served by the provider plugin
 * (plugin/pulumi-resource-libvirt) instead of the dynamic-provider host:
 *
 *     import * as libvirt from "pulumi-libvirt/plugin";
 *     const hv2 = new libvirt.Provider("hv2", { uri: "qemu+ssh://root@hv2/system" });
 *     const pool = new libvirt.StoragePool("images", { type: "dir", target: { path: "/srv/images" } }, { provider: hv2 });
 *
 * with the plugin in Pulumi.yaml (`plugins: providers: [{name: libvirt, path:
 * node_modules/pulumi-libvirt/plugin}]`). What the plugin adds: `pulumi import` and the `import`
 * option, explicit providers, and the same state as YAML and Python programs. A stack made with
 * the dynamic classes moves here without recreating anything: `pulumi-libvirt migrate-state`.
 */
import * as pulumi from "@pulumi/pulumi";
import { cloudInitDiskFields } from "../provider/resources/cloudInitDisk";
import { domainFields } from "../provider/resources/domain";
import { domainSnapshotFields } from "../provider/resources/domainSnapshot";
import { networkFields } from "../provider/resources/network";
import { storagePoolFields } from "../provider/resources/storagePool";
import { volumeFields } from "../provider/resources/volume";
import type { FieldTable } from "../provider/core/fields";
import * as dynamic from "./index";
import { cloudInitDiskOutputs } from "./cloudInitDisk";
import { domainOutputs } from "./domain";
import { domainSnapshotOutputs } from "./domainSnapshot";
import { networkOutputs } from "./network";
import { storagePoolOutputs } from "./storagePool";
import { volumeOutputs } from "./volume";
import { registration } from "./types";

export type { CloudInitDiskArgs, DomainArgs, DomainSnapshotArgs, NetworkArgs, StoragePoolArgs, VolumeArgs } from "./index";

/** The plugin's provider: one per hypervisor, passed to resources as `{ provider }`. */
export interface ProviderArgs {
  /** The libvirt URI; default: stack config `libvirt:uri`, then `LIBVIRT_DEFAULT_URI`, then qemu:///system. */
  uri?: pulumi.Input<string>;
}

export class Provider extends pulumi.ProviderResource {
  constructor(name: string, args: ProviderArgs = {}, opts?: pulumi.ResourceOptions) {
    super("libvirt", name, { uri: args.uri }, opts);
  }
}

/** A dynamic class's outputs, without what makes it a dynamic resource. */
type PropertiesOf<C extends abstract new (...a: any) => any> = Omit<InstanceType<C>, keyof pulumi.dynamic.Resource>;

type PluginClass<C extends abstract new (...a: any) => any> =
  new (name: string, args: ConstructorParameters<C>[1], opts?: pulumi.CustomResourceOptions) => pulumi.CustomResource & PropertiesOf<C>;

function pluginClass<C extends abstract new (...a: any) => any>(kind: string, fields: FieldTable<any>, outputs: object): PluginClass<C> {
  return class extends pulumi.CustomResource {
    constructor(name: string, args: { name?: unknown }, opts?: pulumi.CustomResourceOptions) {
      super(`libvirt:index:${kind}`, name, ...registration(fields, outputs, name, args, opts));
    }
  } as unknown as PluginClass<C>;
}

export const StoragePool = pluginClass<typeof dynamic.StoragePool>("StoragePool", storagePoolFields, storagePoolOutputs);
export type StoragePool = InstanceType<typeof StoragePool>;
export const Volume = pluginClass<typeof dynamic.Volume>("Volume", volumeFields, volumeOutputs);
export type Volume = InstanceType<typeof Volume>;
export const Network = pluginClass<typeof dynamic.Network>("Network", networkFields, networkOutputs);
export type Network = InstanceType<typeof Network>;
export const Domain = pluginClass<typeof dynamic.Domain>("Domain", domainFields, domainOutputs);
export type Domain = InstanceType<typeof Domain>;
export const CloudInitDisk = pluginClass<typeof dynamic.CloudInitDisk>("CloudInitDisk", cloudInitDiskFields, cloudInitDiskOutputs);
export type CloudInitDisk = InstanceType<typeof CloudInitDisk>;
export const DomainSnapshot = pluginClass<typeof dynamic.DomainSnapshot>("DomainSnapshot", domainSnapshotFields, domainSnapshotOutputs);
export type DomainSnapshot = InstanceType<typeof DomainSnapshot>;
