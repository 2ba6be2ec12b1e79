/** pulumi-libvirt: libvirt objects as Pulumi resources. */
export { StoragePool, StoragePoolArgs } from "./storagePool";
export { Volume, VolumeArgs } from "./volume";
export { Network, NetworkArgs } from "./network";
export { Domain, DomainArgs } from "./domain";
export { CloudInitDisk, CloudInitDiskArgs } from "./cloudInitDisk";
export { DomainSnapshot, DomainSnapshotArgs } from "./domainSnapshot";
