/**
 * One shared libvirt connection per URI for the whole provider process. All dynamic resources
 * of a program run concurrently in one Node process, so connecting is deduplicated and a
 * connection that died (daemon restart) is replaced on next use.
 */
import { Libvirt } from "../libvirt/client";
import { defaultUri } from "../libvirt/uri";

const open = new Map<string, Promise<Libvirt>>();
let configuredUri: string | undefined;

/** Stack config `libvirt:uri`, set once by the provider's configure(). */
export function setConfiguredUri(uri: string | undefined): void {
  configuredUri = uri || undefined;
}

/** The resource's `uri` input, else stack config libvirt:uri, else LIBVIRT_DEFAULT_URI, else qemu:///system. */
export function resolveUri(input?: string): string {
  return input || configuredUri || defaultUri();
}

export async function connection(uri: string): Promise<Libvirt> {
  const existing = open.get(uri);
  if (existing) {
    const lv = await existing.catch(() => undefined);
    if (lv && !lv.closed) return lv;
    open.delete(uri);
  }
  const connecting = Libvirt.connect(uri);
  open.set(uri, connecting);
  connecting.catch(() => open.delete(uri));
  return connecting;
}

/** Close every connection (tests; the provider process just exits). */
export async function closeAll(): Promise<void> {
  const all = [...open.values()];
  open.clear();
  await Promise.all(all.map(async (p) => (await p.catch(() => undefined))?.close()));
}
