/**
 * The provider implementation, loaded by the serialized shim (sdk/shim.ts) inside the Pulumi
 * dynamic-provider host. One provider object per resource kind, built from its spec.
 */
import { setConfiguredUri } from "./core/connections";
import { profiled, profileLoad } from "./core/profile";
import { DynamicProvider, makeProvider } from "./core/resource";
import { cloudInitDisk } from "./resources/cloudInitDisk";
import { domain } from "./resources/domain";
import { domainSnapshot } from "./resources/domainSnapshot";
import { network } from "./resources/network";
import { storagePool } from "./resources/storagePool";
import { volume } from "./resources/volume";

export const specs = {
  StoragePool: storagePool,
  Volume: volume,
  Network: network,
  Domain: domain,
  CloudInitDisk: cloudInitDisk,
  DomainSnapshot: domainSnapshot,
} as const;

export type ResourceKind = keyof typeof specs;

profileLoad("provider");

const providers = new Map<string, DynamicProvider>();

export function resourceProvider(kind: string): DynamicProvider & { configure(req: { config: { get(key: string): string | undefined } }): Promise<void> } {
  const spec = (specs as Record<string, any>)[kind];
  if (!spec) throw new Error(`pulumi-libvirt has no resource kind "${kind}"; this state was written by another version: install the version that created it`);
  let p = providers.get(kind);
  if (!p) providers.set(kind, (p = profiled(kind, makeProvider(spec))));
  return {
    ...p,
    async configure(req) {
      setConfiguredUri(req.config.get("libvirt:uri"));
    },
  };
}

export { closeAll } from "./core/connections";
