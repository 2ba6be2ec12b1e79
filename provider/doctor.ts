/**
 * `pulumi-libvirt doctor`: connect to libvirt, describe what is there, and name every first-run
 * problem it can detect together with its fix. Gathering (diagnose) is kept apart from judging
 * (the *Problems functions, pure over plain facts) so the judgement is unit-testable without a host.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { redactUri } from "./libvirt/uri";
import { kvmRunsGuests, parseCapabilities as parseHostFacts } from "./core/host";
import { dirname } from "node:path";
import { formatVersion, Libvirt } from "./libvirt/client";
import { ErrorCode, isLibvirtError, isNotFound } from "./libvirt/errors";
import { socketCandidates } from "./libvirt/transport/unix";
import { defaultUri, LibvirtUri, parseUri } from "./libvirt/uri";
import { FeatureSupport, featureSupport, localBlkioWeight } from "./resources/domain/hostSupport";

export type Severity = "error" | "warning" | "info";
export interface Problem { severity: Severity; problem: string; fix: string }
export interface Stat { mode: number; uid: number; gid: number }
/** Who a process runs as: what file permissions are checked against. */
export interface Identity { name: string; uid: number; gids: number[] }
export interface Kvm { available: boolean; reason: string }
export interface PoolInfo { name: string; type: string; state: string; autostart: boolean; target?: string; capacityBytes?: number; availableBytes?: number }
export interface NetworkInfo { name: string; state: "active" | "inactive"; autostart: boolean; bridge?: string; forward?: string }

export interface DoctorReport {
  ok: boolean;
  uri: string;
  transport: string;
  socket?: string;
  /** Only when the connection failed: the sockets that were tried, in order. */
  socketsTried?: string[];
  readOnly?: boolean;
  hostname?: string;
  libvirtVersion?: string;
  hypervisor?: { type: string; version: string };
  host?: { arch?: string; cpus: number; memoryMiB: number };
  kvm?: Kvm;
  /** What host-dependent Domain inputs (firmware: efi, secureBoot, tpm, hugepages, blkioWeight) can rely on. */
  features?: FeatureSupport;
  securityModels?: string[];
  qemuUser?: Identity;
  pools: PoolInfo[];
  networks: NetworkInfo[];
  problems: Problem[];
}

const IMAGES = "/var/lib/libvirt/images";
const POOL_STATES = ["inactive", "building", "active", "degraded", "inaccessible"];
const R = 4, W = 2, X = 1;

// ---- Pure helpers: parsing and permission arithmetic

/** The few facts doctor needs from the capabilities XML; regexes suffice for this fixed shape. */
export function parseCapabilities(xml: string) {
  const arch = /<host>[\s\S]*?<arch>([^<]+)<\/arch>/.exec(xml)?.[1];
  const guests = xml.split("<guest>").slice(1);
  const kvmGuest = guests.some((g) => g.includes(`<arch name='${arch}'`) && /<domain type=['"]kvm['"]/.test(g));
  const securityModels = [...xml.matchAll(/<secmodel>\s*<model>([^<]+)<\/model>/g)].map((m) => m[1]);
  // The DAC model's base label is the uid:gid qemu runs as, straight from the daemon's own config.
  const label = /<baselabel type=['"](?:kvm|qemu)['"]>([^<]+)<\/baselabel>/.exec(xml)?.[1];
  return { arch, kvmGuest, securityModels, qemuLabel: label };
}

/** `user = "..."` / `group = "..."` from /etc/libvirt/qemu.conf (commented lines ignored). */
export function parseQemuConf(text: string): { user?: string; group?: string } {
  const get = (key: string) => new RegExp(`^\\s*${key}\\s*=\\s*"([^"]*)"`, "m").exec(text)?.[1];
  return { user: get("user"), group: get("group") };
}

/** Resolve "libvirt-qemu", "+64055" or "64055" against passwd/group text, as libvirt would. */
export function resolveIdentity(user: string, group: string | undefined, passwd: string, groups: string): Identity | undefined {
  const rows = (t: string) => t.split("\n").filter(Boolean).map((l) => l.split(":"));
  const byName = (t: string, s: string) => rows(t).find((r) => (/^\+?\d+$/.test(s) ? r[2] === s.replace("+", "") : r[0] === s));
  const pw = byName(passwd, user);
  const uid = pw ? Number(pw[2]) : /^\+?\d+$/.test(user) ? Number(user.replace("+", "")) : undefined;
  if (uid === undefined) return undefined;
  const name = pw?.[0] ?? `uid ${uid}`;
  const gr = group ? byName(groups, group) : undefined;
  const gid = gr ? Number(gr[2]) : group && /^\+?\d+$/.test(group) ? Number(group.replace("+", "")) : pw ? Number(pw[3]) : uid;
  // qemu keeps the user's supplementary groups (libvirt calls virGetGroupList), e.g. "kvm".
  const extra = rows(groups).filter((r) => (r[3] ?? "").split(",").includes(name)).map((r) => Number(r[2]));
  const gids = [...new Set([gid, ...(pw ? [Number(pw[3])] : []), ...extra])];
  return { name, uid, gids };
}

/** Classic owner/group/other check; root passes (ACLs are not consulted). */
export function canAccess(s: Stat, who: Identity, want: number): boolean {
  if (who.uid === 0) return true;
  const bits = who.uid === s.uid ? (s.mode >> 6) & 7 : who.gids.includes(s.gid) ? (s.mode >> 3) & 7 : s.mode & 7;
  return (bits & want) === want;
}

/** "/a/b" -> ["/", "/a", "/a/b"] */
export function ancestors(path: string): string[] {
  const out = [path];
  while (dirname(out[0]) !== out[0]) out.unshift(dirname(out[0]));
  return out;
}

const describe = (s: Stat) => `mode ${(s.mode & 0o7777).toString(8).padStart(4, "0")}, owner ${s.uid}:${s.gid}`;
const describeWho = (w: Identity) => `${w.name} (uid ${w.uid}, gids ${w.gids.join(",")})`;

// ---- Pure judgement: facts in, problems out

export interface KvmFacts {
  /** Domain capabilities for virttype kvm: true, or the reason they were refused. */
  domainCaps: true | string;
  /** The capabilities XML lists <domain type='kvm'/> for the host architecture. */
  capsGuest: boolean;
  /** Whether KVM can run ordinary guests judging by the host CPU (core/host.ts kvmRunsGuests). */
  hardware: boolean;
  /** /dev/kvm: null when absent, undefined when not checked (remote daemon). */
  dev?: Stat | null;
  qemu?: Identity;
}

const TCG = "Guests still run with type 'qemu' (emulation, several times slower).";

export function kvmCheck(f: KvmFacts): { kvm: Kvm; problem?: Problem } {
  const no = (reason: string, fix: string) => ({ kvm: { available: false, reason }, problem: { severity: "warning" as const, problem: `no KVM acceleration: ${reason}`, fix: `${TCG} ${fix}` } });
  if (f.dev === null) {
    return no("/dev/kvm does not exist", "To get KVM: enable VT-x/AMD-V in the firmware (or nested virtualization if this host is a VM), load the module (`modprobe kvm_intel` or `modprobe kvm_amd`), and add the user that runs qemu to the kvm group.");
  }
  // libvirt may still advertise kvm here (its probe can run with more rights), yet every kvm guest
  // then fails with "Could not access KVM kernel module: Permission denied".
  if (f.dev && f.qemu && !canAccess(f.dev, f.qemu, R | W)) {
    return no(`/dev/kvm (${describe(f.dev)}) cannot be opened by the qemu user ${describeWho(f.qemu)}`,
      `To use KVM: \`chown root:kvm /dev/kvm && chmod 0660 /dev/kvm\` (udev's kvm rule normally does this at boot) and \`usermod -aG kvm ${f.qemu.name}\`.`);
  }
  if (f.domainCaps !== true) {
    return no(`libvirt offers no kvm domain type (${f.domainCaps})`, "Load kvm_intel or kvm_amd, then restart the daemon so it re-probes qemu.");
  }
  if (!f.capsGuest) return no("the capabilities list no kvm domain for the host architecture", "Restart the daemon so it re-probes qemu; install the qemu-system package for this architecture.");
  // /dev/kvm without vmx/svm (no nested virtualization, or a paravirtual KVM): kvm guests start and never boot.
  if (!f.hardware) return no("the host CPU offers no hardware virtualization (no vmx or svm flag), so kvm guests would start but never boot", "Enable VT-x/AMD-V in the firmware, or nested virtualization if this host is itself a VM. The Domain resource picks type qemu here by itself.");
  return { kvm: { available: true, reason: f.dev ? `/dev/kvm is usable by ${f.qemu?.name ?? "qemu"} and libvirt offers domain type kvm` : "libvirt offers domain type kvm" } };
}

const DEFAULT_POOL_FIX = `nothing to do for the quickstart, which creates its own pool; to add one: \`virsh pool-define-as default dir --target ${IMAGES} && virsh pool-start default && virsh pool-autostart default\``;

export function poolProblems(pools: PoolInfo[]): Problem[] {
  const out: Problem[] = [];
  if (pools.length === 0) out.push({ severity: "info", problem: "no storage pool is defined", fix: DEFAULT_POOL_FIX });
  else if (!pools.some((p) => p.name === "default")) out.push({ severity: "info", problem: "no storage pool named 'default'", fix: DEFAULT_POOL_FIX });
  for (const p of pools) {
    if (p.state === "inactive") {
      out.push(p.autostart
        ? { severity: "warning", problem: `storage pool '${p.name}' is inactive although set to autostart (it failed to start)`, fix: `\`virsh pool-start ${p.name}\` shows why` }
        : { severity: "warning", problem: `storage pool '${p.name}' is inactive and does not autostart`, fix: `virsh pool-start ${p.name} && virsh pool-autostart ${p.name}` });
    } else if (p.state !== "active") {
      out.push({ severity: "warning", problem: `storage pool '${p.name}' is ${p.state}`, fix: `virsh pool-refresh ${p.name}; check its target ${p.target ?? ""}`.trim() });
    }
  }
  return out;
}

/** `interfaces` lists the host's network devices; undefined (remote daemon) skips the bridge check. */
export function networkProblems(nets: NetworkInfo[], interfaces?: string[]): Problem[] {
  const out: Problem[] = [];
  const def = nets.find((n) => n.name === "default");
  if (!def) {
    out.push({ severity: "warning", problem: "there is no network named 'default'", fix: "virsh net-define /usr/share/libvirt/networks/default.xml && virsh net-start default && virsh net-autostart default" });
  } else if (def.state !== "active") {
    out.push({ severity: "warning", problem: "the 'default' network is inactive: guests attached to it cannot start", fix: `virsh net-start default${def.autostart ? "" : " && virsh net-autostart default"}` });
  } else if (!def.autostart) {
    out.push({ severity: "info", problem: "the 'default' network does not autostart: it will be inactive after a reboot", fix: "virsh net-autostart default" });
  }
  for (const n of interfaces ? nets : []) {
    if (!n.bridge || interfaces!.includes(n.bridge)) continue;
    // forward mode 'bridge' attaches to a host bridge libvirt does not create; other modes own theirs.
    if (n.forward === "bridge") {
      out.push({ severity: "warning", problem: `network '${n.name}' uses host bridge ${n.bridge}, which does not exist`, fix: `create ${n.bridge} in the host's network configuration (ifupdown, NetworkManager or systemd-networkd), or use a NAT network` });
    } else if (n.state === "active") {
      out.push({ severity: "warning", problem: `network '${n.name}' is active but its bridge ${n.bridge} is gone`, fix: `virsh net-destroy ${n.name} && virsh net-start ${n.name}` });
    }
  }
  return out;
}

/**
 * qemu opens disk images by path as the qemu user, so it needs search (x) on every directory above
 * them; read on the directory is not needed (libvirt lists it as root), which is why Debian's 0711
 * on /var/lib/libvirt/images is fine.
 */
export function permissionProblems(dirs: { path: string; pool?: string }[], stats: Record<string, Stat | null>, qemu: Identity): Problem[] {
  const out: Problem[] = [];
  for (const { path, pool } of dirs) {
    if (!stats[path]) continue; // absent: an inactive pool says so already
    const blocker = ancestors(path).find((p) => stats[p] && !canAccess(stats[p]!, qemu, X));
    if (!blocker) continue;
    out.push({
      severity: "warning",
      problem: `the qemu user ${describeWho(qemu)} cannot search ${blocker} (${describe(stats[blocker]!)}), so guests cannot open images in ${path}${pool ? ` (pool '${pool}')` : ""}`,
      fix: `chmod o+x ${blocker} (or \`setfacl -m u:${qemu.name}:x ${blocker}\`); qemu runs as the user/group set in /etc/libvirt/qemu.conf (default libvirt-qemu on Debian)`,
    });
  }
  return out;
}

export function securityProblems(models: string[], apparmor: boolean, selinux: boolean, pools: PoolInfo[]): Problem[] {
  const outside = pools.filter((p) => p.target && p.target !== IMAGES && !p.target.startsWith(IMAGES + "/")).map((p) => `'${p.name}' (${p.target})`);
  const where = outside.length ? `pools ${outside.join(", ")} are outside ${IMAGES}` : `images outside ${IMAGES} (kernels, ISOs, backing files)`;
  const out: Problem[] = [];
  if (apparmor && models.includes("apparmor")) {
    out.push({ severity: outside.length ? "warning" : "info", problem: `AppArmor confines every guest; ${where} need to be allowed by the profile`,
      fix: "add `\"/path/** rwk,\"` to /etc/apparmor.d/local/abstractions/libvirt-qemu and `systemctl reload apparmor`" });
  }
  if (selinux && models.includes("selinux")) {
    out.push({ severity: outside.length ? "warning" : "info", problem: `SELinux is enforcing; ${where} need the virt_image_t label`,
      fix: "semanage fcontext -a -t virt_image_t '/path(/.*)?' && restorecon -Rv /path" });
  }
  return out;
}

/** Host-dependent Domain inputs this host would refuse, as notes: nothing is wrong until a stack asks for them. */
export function featureProblems(f: FeatureSupport): Problem[] {
  const note = (problem: string, fix: string): Problem => ({ severity: "info", problem, fix });
  const out: Problem[] = [];
  if (!f.efi) out.push(note("no UEFI firmware: Domains with firmware: \"efi\" are refused", "apt-get install ovmf (Fedora/RHEL: dnf install edk2-ovmf)"));
  else if (!f.secureBoot) out.push(note("no secure-boot UEFI firmware for machine pc: Domains with secureBoot need machine: \"q35\"", "use machine: \"q35\" (the ovmf package has secure-boot builds for it)"));
  if (!f.tpmEmulator) out.push(note("no TPM emulator: Domains with tpm are refused", "apt-get install swtpm swtpm-tools"));
  if (f.hugepageBytes === 0) out.push(note("no huge pages reserved: Domains with hugepages are refused", "reserve them, e.g. sysctl vm.nr_hugepages=512 (1 GiB of 2 MiB pages) with hugetlbfs mounted"));
  if (f.blkioWeight === false) out.push(note("no bfq or cfq I/O scheduler: Domains with blkioWeight are refused", "modprobe bfq; echo bfq > /sys/block/<disk>/queue/scheduler"));
  return out;
}

/** A connection error becomes a problem; the client's dial errors already carry "To fix: ...". */
export function connectionProblem(e: unknown): Problem {
  const msg = e instanceof Error ? e.message : String(e);
  const i = msg.indexOf(". To fix: ");
  if (i >= 0) return { severity: "error", problem: msg.slice(0, i), fix: msg.slice(i + ". To fix: ".length) };
  const code = (e as { code?: number }).code;
  const fix = /system bus|polkit|authentication|authori[sz]|access denied/i.test(msg)
    ? "non-root access is granted by polkit (which needs D-Bus and polkitd running): run as root, or add your user to the libvirt group (`usermod -aG libvirt $USER`, then log in again), or use qemu:///session"
    : code === ErrorCode.NO_SUPPORT ? "run doctor on the hypervisor host with a local URI (qemu:///system or qemu:///session)"
    : code === ErrorCode.INVALID_ARG ? "pass a URI such as qemu:///system or qemu:///session"
    : "check the URI, and that libvirtd (or virtqemud) runs where it points";
  return { severity: "error", problem: msg, fix };
}

export function readOnlyProblem(why: string): Problem {
  return { severity: "error", problem: `only a read-only connection could be opened (read-write failed: ${why})`,
    fix: "pulumi-libvirt needs read-write access: run as root, or add your user to the libvirt group (`usermod -aG libvirt $USER`, then log in again), or use qemu:///session" };
}

// ---- Gathering

const read = (p: string) => { try { return readFileSync(p, "utf8"); } catch { return ""; } };
const stat = (p: string): Stat | null => { try { const s = statSync(p); return { mode: s.mode, uid: s.uid, gid: s.gid }; } catch { return null; } };

/** Connect read-write; if that is refused, read-only still lets doctor say what is wrong. */
async function open(uri: string): Promise<{ lv: Libvirt; readOnlyBecause?: string }> {
  try {
    return { lv: await Libvirt.connect(uri, { keepaliveInterval: 0 }) };
  } catch (rw) {
    try {
      return { lv: await Libvirt.connect(uri, { readOnly: true, keepaliveInterval: 0 }), readOnlyBecause: (rw as Error).message };
    } catch {
      throw rw;
    }
  }
}

function qemuIdentity(uri: LibvirtUri, label: string | undefined): Identity | undefined {
  if (uri.path === "/session") return { name: process.env.USER ?? `uid ${process.getuid!()}`, uid: process.getuid!(), gids: process.getgroups!() };
  const conf = parseQemuConf(read("/etc/libvirt/qemu.conf"));
  const [user, group] = label ? label.split(":") : [conf.user ?? "libvirt-qemu", conf.group ?? "libvirt-qemu"];
  return resolveIdentity(user, group, read("/etc/passwd"), read("/etc/group"));
}

export async function diagnose(uri: string = defaultUri()): Promise<DoctorReport> {
  const report: DoctorReport = { ok: false, uri: redactUri(uri), transport: "unknown", pools: [], networks: [], problems: [] };
  let parsed: LibvirtUri;
  try {
    parsed = parseUri(uri);
  } catch (e) {
    report.problems.push(connectionProblem(e));
    return report;
  }
  report.transport = parsed.transport;
  // Only over the unix socket are this machine's files the daemon's files.
  const local = parsed.transport === "unix";
  let lv: Libvirt | undefined;
  try {
    const opened = await open(uri);
    lv = opened.lv;
    report.socket = lv.rpc.peer.replace(/^unix socket /, "");
    report.readOnly = !!opened.readOnlyBecause;
    if (opened.readOnlyBecause) report.problems.push(readOnlyProblem(opened.readOnlyBecause));

    // In parallel: each of version, capabilities and domain capabilities may make the daemon
    // re-probe the qemu binary (seconds each), and concurrent lookups share a probe.
    const [type, hv, lib, hostname, capsXml, node, domainCaps] = await Promise.all([
      lv.getType(), lv.getVersion(), lv.getLibVersion(), lv.getHostname(), lv.getCapabilities(), lv.nodeGetInfo(),
      lv.getDomainCapabilities({ virttype: "kvm" })
        .then((x) => (/<domain>kvm<\/domain>/.test(x) ? (true as const) : "domain capabilities name another type"), (e: Error) => e.message),
    ]);
    const caps = parseCapabilities(capsXml);
    Object.assign(report, {
      hostname, libvirtVersion: formatVersion(lib), hypervisor: { type, version: formatVersion(hv) },
      host: { arch: caps.arch, cpus: node.cpus, memoryMiB: Math.round(Number(node.memory) / 1024) }, securityModels: caps.securityModels,
    });

    // An object deleted between the listing and the queries (transient networks come and go) is skipped.
    const unlessGone = <T>(p: Promise<T>) => p.catch((e) => (isNotFound(e) ? undefined : Promise.reject(e)));
    for (const net of await lv.listAllNetworks()) {
      const got = await unlessGone(Promise.all([lv.networkIsActive(net), lv.networkGetAutostart(net), lv.networkGetXmlDesc(net)]));
      if (!got) continue;
      const [active, autostart, xml] = got;
      report.networks.push({ name: net.name, state: active ? "active" : "inactive", autostart,
        bridge: /<bridge\s[^>]*name=['"]([^'"]+)/.exec(xml)?.[1], forward: /<forward\s[^>]*mode=['"]([^'"]+)/.exec(xml)?.[1] });
    }
    for (const pool of await lv.listAllStoragePools()) {
      const got = await unlessGone(Promise.all([lv.storagePoolGetInfo(pool), lv.storagePoolGetAutostart(pool), lv.storagePoolGetXmlDesc(pool)]));
      if (!got) continue;
      const [info, autostart, xml] = got;
      report.pools.push({ name: pool.name, type: /<pool type=['"]([^'"]+)/.exec(xml)?.[1] ?? "?", state: POOL_STATES[info.state] ?? `state ${info.state}`, autostart,
        target: /<target>\s*<path>([^<]+)<\/path>/.exec(xml)?.[1], capacityBytes: Number(info.capacity), availableBytes: Number(info.available) });
    }
    report.networks.sort((a, b) => a.name.localeCompare(b.name));
    report.pools.sort((a, b) => a.name.localeCompare(b.name));

    const qemu = local ? qemuIdentity(parsed, caps.qemuLabel) : undefined;
    report.qemuUser = qemu;
    const hardware = kvmRunsGuests(await parseHostFacts(capsXml));
    const { kvm, problem } = kvmCheck({ domainCaps, capsGuest: caps.kvmGuest, hardware, dev: local ? stat("/dev/kvm") : undefined, qemu });
    report.kvm = kvm;
    if (problem) report.problems.push(problem);
    const domcaps = await lv.getDomainCapabilities({ virttype: kvm.available ? "kvm" : "qemu" });
    report.features = { ...(await featureSupport(domcaps, capsXml)), blkioWeight: local ? localBlkioWeight() : undefined };
    report.problems.push(...featureProblems(report.features));
    report.problems.push(...networkProblems(report.networks, local && existsSync("/sys/class/net") ? readdirSync("/sys/class/net") : undefined));
    report.problems.push(...poolProblems(report.pools));
    if (local) {
      // Pool targets, plus the stock image directory even without a pool: the quickstart uses it.
      const dirs: { path: string; pool?: string }[] = report.pools.filter((p) => p.target?.startsWith("/")).map((p) => ({ path: p.target!, pool: p.name }));
      if (parsed.path !== "/session" && !dirs.some((d) => d.path === IMAGES)) dirs.push({ path: IMAGES });
      const stats = Object.fromEntries(dirs.flatMap((d) => ancestors(d.path)).map((p) => [p, stat(p)]));
      if (qemu) report.problems.push(...permissionProblems(dirs, stats, qemu));
      report.problems.push(...securityProblems(caps.securityModels, read("/sys/module/apparmor/parameters/enabled").trim() === "Y",
        read("/sys/fs/selinux/enforce").trim() === "1", report.pools));
    }
  } catch (e) {
    if (!lv && local && isLibvirtError(e, ErrorCode.NO_CONNECT)) report.socketsTried = socketCandidates(parsed, false);
    report.problems.push(connectionProblem(e));
  } finally {
    await lv?.close();
  }
  const rank: Record<Severity, number> = { error: 0, warning: 1, info: 2 };
  report.problems.sort((a, b) => rank[a.severity] - rank[b.severity]);
  // Rebuilt in reading order (ok first, lists last) so the JSON reads top-down.
  const { pools, networks, problems, ...facts } = report;
  return { ...facts, ok: !problems.some((p) => p.severity === "error"), pools, networks, problems };
}

// ---- Human output

function table(rows: string[][], indent = "  "): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => (indent + r.map((c, i) => c.padEnd(widths[i])).join("  ")).trimEnd()).join("\n");
}

const gib = (bytes?: number) => (bytes === undefined ? "" : `${(bytes / 2 ** 30).toFixed(1)} GiB`);

export function formatReport(r: DoctorReport): string {
  const out: string[] = [];
  const yes = (b: boolean) => (b ? "yes" : "no");
  const facts: string[][] = [["URI", r.uri], ["Transport", r.socket ? `${r.transport} (${r.socket})` : r.transport]];
  if (r.socketsTried) facts.push(["Sockets tried", r.socketsTried.join(", ")]);
  if (r.readOnly !== undefined) facts.push(["Access", r.readOnly ? "read-only" : "read-write"]);
  if (r.hostname) facts.push(["Host", `${r.hostname}${r.host ? ` (${r.host.arch ?? "?"}, ${r.host.cpus} CPUs, ${(r.host.memoryMiB / 1024).toFixed(1)} GiB)` : ""}`]);
  if (r.libvirtVersion) facts.push(["libvirt", r.libvirtVersion]);
  if (r.hypervisor) facts.push(["Hypervisor", `${r.hypervisor.type} ${r.hypervisor.version}`]);
  if (r.kvm) facts.push(["KVM", `${r.kvm.available ? "available" : "not available (emulation only)"}: ${r.kvm.reason}`]);
  if (r.features) {
    const f = r.features;
    facts.push(["Features", [`efi ${yes(f.efi)}`, `secure boot ${yes(f.secureBoot)}`, `tpm ${yes(f.tpmEmulator)}`,
      `hugepages ${gib(f.hugepageBytes)}`, `blkio weight ${f.blkioWeight === undefined ? "unknown (remote)" : yes(f.blkioWeight)}`].join(", ")]);
  }
  if (r.securityModels) facts.push(["Security", r.securityModels.join(", ")]);
  if (r.qemuUser) facts.push(["qemu runs as", describeWho(r.qemuUser)]);
  out.push("Connection", table(facts), "");
  if (r.hostname) {
    out.push("Networks", r.networks.length
      ? table([["NAME", "STATE", "AUTOSTART", "BRIDGE"], ...r.networks.map((n) => [n.name, n.state, yes(n.autostart), n.bridge ?? ""])]) : "  (none)", "");
    out.push("Storage pools", r.pools.length
      ? table([["NAME", "STATE", "AUTOSTART", "TYPE", "TARGET", "FREE"], ...r.pools.map((p) => [p.name, p.state, yes(p.autostart), p.type, p.target ?? "", gib(p.availableBytes)])]) : "  (none)", "");
  }
  out.push("Problems");
  if (!r.problems.length) out.push("  none found");
  for (const p of r.problems) out.push(`  ${p.severity.toUpperCase().padEnd(7)}  ${p.problem}`, `           fix: ${p.fix}`);
  const count = (s: Severity) => r.problems.filter((p) => p.severity === s).length;
  out.push("", `${r.ok ? "OK" : "FAILED"}: ${count("error")} error(s), ${count("warning")} warning(s), ${count("info")} note(s)`);
  return out.join("\n") + "\n";
}
