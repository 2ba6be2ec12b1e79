/**
 * Inputs the host cannot honour, found before anything is defined: KVM, UEFI firmware, secure
 * boot, emulated TPMs and huge pages, from libvirt's own capability reports (so remote hosts are
 * checked the same way). blkio weights need the host's cgroup to offer a weight file (the bfq
 * or cfq scheduler), which libvirt does not report: on a local host we look ourselves, the way
 * libvirt's cgroup layer does; on a remote one the start's error is translated instead
 * (explainStartFailure).
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { Context } from "../../core/resource";
import { parseUri } from "../../libvirt/uri";
import { attr, child, children, parseRoot, text, XmlNode } from "../../xml/xml";
import type { DomainInputs } from "./inputs";

export interface FeatureSupport {
  efi: boolean;
  secureBoot: boolean;
  /** TPM backends libvirt can use (emulator needs swtpm). */
  tpmEmulator: boolean;
  /** Bytes of huge pages reserved on the host, all sizes and NUMA cells. */
  hugepageBytes: number;
  /** Whether a blkio weight can be applied; undefined when unknown (a remote host). */
  blkioWeight?: boolean;
}

const values = (node: XmlNode | undefined, name: string) =>
  children(node, "enum").filter((e) => attr(e, "name") === name).flatMap((e) => children(e, "value").map((v) => text(v)));

/** What a domain of this type, arch and machine can have, from domain capabilities and capabilities. */
export async function featureSupport(domcapsXml: string, capsXml: string): Promise<FeatureSupport> {
  const domcaps = await parseRoot(domcapsXml, "domainCapabilities");
  const os = child(domcaps, "os");
  const loader = child(os, "loader");
  const tpm = child(child(domcaps, "devices"), "tpm");
  const caps = await parseRoot(capsXml, "capabilities");
  const cells = children(child(child(child(caps, "host"), "topology"), "cells"), "cell");
  const hugepageBytes = cells.flatMap((c) => children(c, "pages"))
    .filter((p) => Number(attr(p, "size")) > 4)
    .reduce((sum, p) => sum + Number(attr(p, "size")) * 1024 * Number(text(p) ?? 0), 0);
  return {
    efi: attr(os, "supported") === "yes" && (values(os, "firmware").includes("efi") || children(loader, "value").length > 0),
    secureBoot: values(loader, "secure").includes("yes"),
    tpmEmulator: attr(tpm, "supported") === "yes" && values(tpm, "backendModel").includes("emulator"),
    hugepageBytes,
  };
}

/** Whether the host's capabilities list a kvm domain type (for arch, or any guest arch when unset). */
export async function offersKvm(capsXml: string, arch?: string): Promise<boolean> {
  const caps = await parseRoot(capsXml, "capabilities");
  return children(caps, "guest").map((g) => child(g, "arch"))
    .filter((a) => !arch || attr(a, "name") === arch)
    .some((a) => children(a, "domain").some((d) => attr(d, "type") === "kvm"));
}

const BLKIO_FIX = "on the host load bfq and select it (modprobe bfq; echo bfq > /sys/block/<disk>/queue/scheduler), or remove blkioWeight";

/**
 * Whether this machine's cgroups take a blkio weight: the files libvirt writes (cgroup v1
 * blkio.weight or blkio.bfq.weight; v2 io.weight or io.bfq.weight, which only child groups carry).
 */
export function localBlkioWeight(root = "/sys/fs/cgroup"): boolean {
  if (["blkio.weight", "blkio.bfq.weight"].some((f) => existsSync(join(root, "blkio", f)))) return true;
  let groups: string[] = [];
  try {
    groups = readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(root, d.name));
  } catch {
    return false;
  }
  return groups.some((g) => ["io.weight", "io.bfq.weight"].some((f) => existsSync(join(g, f))));
}

/** Failures as "field: the host fact; the fix", or none. */
export function unsupportedInputs(inputs: DomainInputs, host: FeatureSupport, hostName: string): string[] {
  const out: string[] = [];
  if (inputs.blkioWeight !== undefined && host.blkioWeight === false) {
    out.push(`blkioWeight: ${hostName} has no bfq or cfq I/O scheduler, which libvirt needs to apply a weight; ${BLKIO_FIX}`);
  }
  if (inputs.firmware === "efi" && !host.efi) {
    out.push(`firmware: efi needs UEFI firmware, and libvirt on ${hostName} found none for this machine type; install it on the host (Debian/Ubuntu: apt-get install ovmf; Fedora/RHEL: dnf install edk2-ovmf), or use firmware: "bios"`);
  } else if (inputs.secureBoot && !host.secureBoot) {
    out.push(`secureBoot: libvirt on ${hostName} has no secure-boot UEFI firmware for machine ${inputs.machine ?? "pc"}; use machine: "q35" with the ovmf package's secure-boot builds installed, or leave secureBoot unset`);
  }
  if (inputs.tpm && !host.tpmEmulator) {
    out.push(`tpm: an emulated TPM needs swtpm, which libvirt on ${hostName} cannot find; install it on the host (Debian/Ubuntu: apt-get install swtpm swtpm-tools), or remove tpm`);
  }
  if (inputs.hugepages && host.hugepageBytes < inputs.memory) {
    out.push(`hugepages: the guest needs ${inputs.memory} bytes of huge pages and ${hostName} has ${host.hugepageBytes} reserved; reserve them on the host (e.g. sysctl vm.nr_hugepages=${Math.ceil(inputs.memory / 2 ** 21)} for 2 MiB pages, with hugetlbfs mounted), or set hugepages: false`);
  }
  return out;
}

/** Whether the daemon runs on this machine (so its cgroups are ours to look at). */
const isLocal = (uri: string) => {
  const u = parseUri(uri);
  return u.transport === "unix" && !u.host;
};

/** Refuse, before anything is defined, inputs the host cannot honour. */
export async function assertHostSupports(ctx: Context, inputs: DomainInputs, type: "kvm" | "qemu"): Promise<void> {
  const features = inputs.firmware === "efi" || !!inputs.tpm || !!inputs.hugepages || inputs.blkioWeight !== undefined;
  if (type !== "kvm" && !features) return;
  const [caps, hostName] = await Promise.all([ctx.retry(() => ctx.lv.getCapabilities()), ctx.retry(() => ctx.lv.getHostname())]);
  // Checked first: without KVM, libvirt refuses even the domain capabilities query for it.
  if (type === "kvm" && !(await offersKvm(caps, inputs.arch))) {
    throw new Error(`type: kvm needs KVM acceleration, and libvirt on ${hostName} offers none${inputs.arch ? ` for ${inputs.arch}` : ""}; enable it on the host (the kvm module, /dev/kvm), or use type: "qemu"`);
  }
  if (!features) return;
  const domcaps = await ctx.retry(() => ctx.lv.getDomainCapabilities({ arch: inputs.arch, machine: inputs.machine, virttype: type }));
  const support = { ...(await featureSupport(domcaps, caps)), blkioWeight: isLocal(ctx.uri) ? localBlkioWeight() : undefined };
  const failures = unsupportedInputs(inputs, support, hostName);
  if (failures.length) throw new Error(failures.join("; "));
}

/** libvirt's refusal of a blkio weight, in terms of the input and the fix. */
export function explainStartFailure(e: unknown, inputs: DomainInputs): unknown {
  const message = e instanceof Error ? e.message : String(e);
  if (inputs.blkioWeight !== undefined && /blkio.*weight.*(bfq|cfq)/i.test(message)) {
    return new Error(`blkioWeight: the host's block devices do not use the bfq or cfq I/O scheduler, which libvirt needs to apply a weight (${message}); ${BLKIO_FIX}`);
  }
  // A hard limit also caps the guest's locked memory, which only a daemon with CAP_SYS_RESOURCE may set.
  if (inputs.memtune?.hardLimit !== undefined && /cannot limit locked memory/i.test(message)) {
    return new Error(`memtune.hardLimit: libvirt could not cap the guest's locked memory (${message}); its daemon lacks CAP_SYS_RESOURCE, as in many containers: run libvirtd with that capability, or remove memtune.hardLimit`);
  }
  return e;
}
