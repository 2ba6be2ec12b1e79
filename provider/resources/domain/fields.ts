/**
 * The Domain field table: what a change to each input does, and for live fields how it is
 * applied to the running guest. The definition is written first (prepare, in index.ts), so a
 * live step only brings the running guest along; one that cannot returns DEFERRED and the
 * change waits for a restart like a restart field.
 */
import { isDeepStrictEqual } from "node:util";
import { Impact, MemoryFlags, VcpuFlags } from "../../libvirt/constants";
import { isLibvirtError, isNoAnswer } from "../../libvirt/errors";
import type { DomainRef } from "../../libvirt/protocol";
import { Change, DEFERRED, FieldTable } from "../../core/fields";
import type { HostFacts } from "../../core/host";
import { progress } from "../../core/progress";
import type { DomainDef } from "../../xml/domain";
import { plugDisks, plugInterfaces } from "./devices";
import type { DomainInputs } from "./inputs";
import { applyState } from "./lifecycle";
import { migrate, replacesOnNewHost } from "./migrate";

/** What the live steps act on: the domain, and its live definition when the update began (running only). */
export interface Target {
  dom: DomainRef;
  running?: DomainDef;
  /** Its persistent definition (XML) before this update (running only): a restart that cannot start the new one goes back to it. */
  definedBefore?: string;
}

type Step = (c: Change<DomainInputs, Target>, running: DomainDef) => Promise<void | typeof DEFERRED>;

/**
 * A step for the running guest only (a stopped one takes its definition at start). A change
 * the guest or QEMU refuses waits for the restart, like a restart field.
 */
const whileRunning = (field: string, step: Step) => async (c: Change<DomainInputs, Target>) => {
  if (!c.target.running) return;
  try {
    return await step(c, c.target.running);
  } catch (e) {
    if (!isLibvirtError(e) || isNoAnswer(e)) throw e;
    progress(`domain "${c.news.name}": ${field} could not be changed live (${e.message}); the definition holds the new value`);
    return DEFERRED;
  }
};

/** Sizes libvirt stores in whole KiB. */
/** An object without its undefined keys, for comparing shapes where unset means "not given". */
const defined = (o: object | undefined) => Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined));
const kib = (a: unknown, b: unknown) => a === b || (typeof a === "number" && typeof b === "number" && Math.floor(a / 1024) === Math.floor(b / 1024));

/** The balloon, within the running guest's ceiling; above it the ceiling must grow first (a restart). */
const setMemory: Step = async ({ ctx, target, news }, running) => {
  if (news.memory > running.maxMemory!) return DEFERRED;
  await ctx.lv.domainSetMemory(target.dom, Math.floor(news.memory / 1024), MemoryFlags.LIVE);
};

/**
 * vCPUs are added live up to the running guest's ceiling. Removing needs the guest to release
 * the vCPU, and a request it never answers leaves QEMU unstable (QEMU 7.2 crashed at the next
 * device hotplug), so fewer vCPUs wait for the restart.
 */
const setVcpus: Step = async ({ ctx, target, news }, running) => {
  const current = await ctx.lv.domainGetVcpus(target.dom, VcpuFlags.LIVE);
  if (news.vcpus > running.maxVcpus! || news.vcpus < current) return DEFERRED;
  if (news.vcpus > current) await ctx.lv.domainSetVcpus(target.dom, news.vcpus, VcpuFlags.LIVE);
};

const RESTART = "restart" as const;

export const domainFields: FieldTable<DomainInputs, Target> = {
  name: { effect: "replace", doc: "A new name makes a new VM (libvirt renames only shut-off guests)." },
  type: { effect: "replace", computed: true, doc: "kvm or qemu; detected from the host's domain capabilities when unset." },
  description: {
    effect: "live", doc: "Set live and in the definition.",
    same: (rec, live) => (rec ?? "").trim() === (live ?? "").trim(),
    apply: whileRunning("description", async ({ ctx, target, news }) => ctx.lv.domainSetDescription(target.dom, news.description || undefined, Impact.LIVE)),
  },
  memory: {
    effect: "live", same: kib, apply: whileRunning("memory", setMemory),
    doc: "Ballooned live (up and down) within the ceiling, and set in the definition; above the ceiling it waits for a restart, which raises the ceiling.",
  },
  maxMemory: {
    effect: RESTART, computed: true, same: kib,
    doc: "The balloon ceiling. Unset: twice `memory` at creation (at most the host's RAM, at most `memtune.hardLimit`), then kept while `memory` fits under it, so memory changes are live; a larger `memory` raises it to twice that at the next restart.",
  },
  vcpus: {
    effect: "live", apply: whileRunning("vcpus", setVcpus),
    doc: "Added live (hotplug) up to the ceiling, and set in the definition; fewer vCPUs take effect at a restart (an unplug the guest never answers leaves QEMU unstable).",
  },
  maxVcpus: {
    effect: RESTART, computed: true,
    doc: "The hotplug ceiling. Unset: the product of `cpu.topology`, else the host's CPU count at creation (at least `vcpus`), then kept while `vcpus` fits under it.",
  },
  cpu: { effect: RESTART, computed: true, doc: "CPU mode, model and topology." },
  arch: { effect: RESTART, computed: true, doc: "Guest architecture." },
  machine: {
    effect: RESTART, computed: true, same: (rec, live, host: HostFacts) => host?.machineAliases.get(rec) === live,
    doc: "Machine type; an alias such as `pc` stays equal to the version libvirt expands it to.",
  },
  firmware: { effect: RESTART, doc: "bios or efi (needs UEFI firmware on the host, e.g. Debian's ovmf: checked before anything changes)." },
  secureBoot: { effect: RESTART, doc: "UEFI secure boot (efi only; needs secure-boot firmware on the host)." },
  nvram: { effect: RESTART, computed: true, doc: "UEFI variable store path." },
  boot: { effect: RESTART, computed: true, doc: "Boot device order (libvirt boots from the first disk when unset)." },
  kernel: { effect: RESTART, doc: "Direct kernel boot: kernel, initrd, cmdline." },
  disks: {
    effect: "live", apply: whileRunning("disks", async ({ ctx, target, olds, news }) => ((await plugDisks(ctx, target.dom, olds, news)) ? DEFERRED : undefined)),
    doc: "Attached and detached live (virtio, scsi, usb buses), cdrom media swapped live; other changes to an existing disk re-plug it live, or wait for a restart on ide/sata.",
  },
  interfaces: {
    effect: "live", apply: whileRunning("interfaces", async ({ ctx, target, olds, news }) => ((await plugInterfaces(ctx, target.dom, olds, news)) ? DEFERRED : undefined)),
    doc: "Attached and detached live; a changed interface is re-plugged live. MACs are generated once: an interface keeps its MAC while its network (or bridge, device) and model stay the same.",
  },
  graphics: {
    effect: RESTART, secret: true, doc: "vnc or spice; the password is a secret. Unset listen: the host's default (qemu.conf vnc_listen/spice_listen), which the running guest reports.",
    same: (rec, live) => isDeepStrictEqual(defined(rec), defined({ ...live, listen: rec?.listen === undefined ? undefined : live?.listen })),
  },
  console: { effect: RESTART, doc: "Serial console on a pty or logged to a file." },
  guestAgent: { effect: RESTART, doc: "The qemu guest agent channel." },
  video: { effect: RESTART, computed: true, doc: "Video model." },
  rng: { effect: RESTART, doc: "virtio-rng from /dev/urandom." },
  tpm: { effect: RESTART, doc: "Emulated TPM (needs swtpm on the host: checked before anything changes)." },
  filesystems: { effect: RESTART, doc: "Shared host directories (virtiofs, 9p)." },
  cputune: { effect: RESTART, doc: "shares, period, quota, vcpu pinning." },
  memtune: {
    effect: RESTART, same: (rec, live) => kib(rec?.hardLimit, live?.hardLimit) && kib(rec?.softLimit, live?.softLimit),
    doc: "Hard and soft memory limits.",
  },
  blkioWeight: { effect: RESTART, doc: "Block I/O weight (libvirt applies it only where the host's disks use the bfq or cfq scheduler: a start that fails for it names the fix)." },
  numatune: { effect: RESTART, doc: "NUMA memory placement." },
  hugepages: { effect: RESTART, doc: "Back guest memory with huge pages (the host must have enough reserved: checked before anything changes)." },
  noSharePages: { effect: RESTART, doc: "Opt out of KSM page sharing." },
  securityLabel: {
    effect: RESTART, computed: true,
    // A dynamic label is filled in at start, and without SELinux or AppArmor libvirt stores one
    // without a model as type none, model none.
    same: (rec, live) => isDeepStrictEqual(rec, live) || ((rec?.type ?? "dynamic") === "dynamic" && rec?.model === undefined && (live?.type === "dynamic" || (live?.type === "none" && live?.model === "none"))),
    doc: "sVirt/SELinux security label.",
  },
  xmlOverride: { effect: RESTART, doc: "Merged deterministically over the generated XML." },
  autostart: { effect: "live", doc: "Start with the host.", apply: async ({ ctx, target, news }) => ctx.lv.domainSetAutostart(target.dom, !!news.autostart) },
  state: {
    effect: "live", afterRestart: true, apply: async ({ ctx, target, news }) => applyState(ctx, target.dom, news),
    doc: "running, paused, saved or shutoff. saved writes the guest's memory to the host and stops it (managed save); running or paused restores it where it was (new domain id, same uuid). From shutoff, saved boots the guest (waiting for its addresses with waitForIp) and then saves it. shutoff from saved discards the saved memory. Changes made while saved are written to the definition and listed in pendingRestart once restored.",
  },
  allowRestart: { effect: "none", doc: "Lets the provider restart the guest for changes marked 'definition + restart' (and those listed in the `pendingRestart` output); otherwise they wait for the guest's next restart." },
  shutdownTimeoutSeconds: { effect: "none", doc: "Graceful shutdown deadline before a forced stop." },
  waitForIp: { effect: "none", doc: "Wait for addresses on create and start." },
  waitForIpTimeoutSeconds: { effect: "none", doc: "Deadline for waitForIp." },
  migration: { effect: "none", doc: "How a new `uri` moves the guest: `{ mode: \"live\" }` keeps it running while it moves, `\"offline\"` shuts it down, moves it and starts it there; `storage: \"copy\"` copies its disks (default `shared`). Unset, a new uri replaces the VM." },
  uri: {
    effect: "move", replacesWhen: replacesOnNewHost, move: migrate,
    doc: "With `migration` set, the guest moves to the new host (libvirt's peer-to-peer migration: the source daemon connects to the destination) and the rest of the update runs there; without it, a new VM is made there and the old one deleted.",
  },
  timeoutSeconds: { effect: "none", doc: "Deadline for waits and retries." },
};
