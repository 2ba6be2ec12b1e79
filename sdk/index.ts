/** pulumi-libvirt: libvirt objects as Pulumi resources. */
export { StoragePool, StoragePoolArgs } from "./storagePool";
export { Domain, DomainArgs } from "./domain";
