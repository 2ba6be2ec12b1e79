/**
 * Facts about a libvirt host that resources and doctor share, read once per connection.
 */
import type { Libvirt } from "../libvirt/client";
import { attr, child, children, parseRoot } from "../xml/xml";

export interface HostFacts {
  arch: string;
  /** x86 only: the host CPU's hardware virtualization flag (vmx, svm), or undefined when it has none. */
  cpuVirtFlag?: string;
  /** Machine aliases ("pc") and the versioned types libvirt expands them to ("pc-i440fx-7.2"). */
  machineAliases: Map<string, string>;
  /** Whether libvirt offers the kvm domain type for the host architecture. */
  kvmOffered: boolean;
}

const facts = new WeakMap<Libvirt, Promise<HostFacts>>();

export function hostFacts(lv: Libvirt): Promise<HostFacts> {
  let f = facts.get(lv);
  if (!f) {
    f = lv.getCapabilities().then(parseCapabilities);
    facts.set(lv, f);
  }
  return f;
}

export async function parseCapabilities(xml: string): Promise<HostFacts> {
  const caps = await parseRoot(xml, "capabilities");
  const cpu = child(child(caps, "host"), "cpu");
  const arch = child(cpu, "arch")?._ ?? "";
  const flags = children(cpu, "feature").map((f) => attr(f, "name"));
  const machineAliases = new Map<string, string>();
  let kvmOffered = false;
  for (const guest of children(caps, "guest")) {
    const a = child(guest, "arch");
    if (attr(a, "name") !== arch) continue;
    kvmOffered ||= children(a, "domain").some((d) => attr(d, "type") === "kvm");
    for (const m of children(a, "machine")) {
      const canonical = attr(m, "canonical");
      if (canonical && m._) machineAliases.set(m._, canonical);
    }
  }
  return { arch, cpuVirtFlag: flags.find((n) => n === "vmx" || n === "svm"), machineAliases, kvmOffered };
}

/**
 * Whether KVM can run ordinary guests. libvirt offers the kvm type wherever /dev/kvm exists, but
 * on x86 without vmx or svm in the host CPU (a VM without nested virtualization, or a paravirtual
 * KVM such as PVM) a kvm guest starts and never boots; only QEMU's emulation works there.
 */
export function kvmRunsGuests(f: HostFacts): boolean {
  const x86 = f.arch === "x86_64" || f.arch === "i686";
  return f.kvmOffered && (!x86 || f.cpuVirtFlag !== undefined);
}

/** kvm when it can run guests, else qemu. */
export async function defaultVirtType(lv: Libvirt): Promise<"kvm" | "qemu"> {
  return kvmRunsGuests(await hostFacts(lv)) ? "kvm" : "qemu";
}
