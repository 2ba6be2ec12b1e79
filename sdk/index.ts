/** pulumi-libvirt: libvirt objects as Pulumi resources. */
export { StoragePool, StoragePoolArgs } from "./storagePool";
export { Volume, VolumeArgs } from "./volume";
export { Domain, DomainArgs } from "./domain";
export { CloudInitDisk, CloudInitDiskArgs } from "./cloudInitDisk";
