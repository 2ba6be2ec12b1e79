/**
 * doctor against the real daemon, cross-checked with virsh (libvirt's own client) and, for KVM,
 * with the ground truth: whether a type='kvm' guest actually starts.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TEST_URI, uniqueName, virsh, virshQuiet } from "../test/util";
import { diagnose, DoctorReport } from "./doctor";

const ROOT = join(__dirname, "..");
const CLI = join(ROOT, "bin", "provider", "cli.js");
const BAD_SOCKET = "/tmp/does-not-exist.sock";

type Run = { code: number | null; stdout: string; stderr: string };
const ENV = { ...process.env, LIBVIRT_DEFAULT_URI: TEST_URI };

function cli(...args: string[]): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", env: ENV });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Async, so the slow runs overlap: capabilities calls can take seconds when the daemon re-probes qemu. */
function cliAsync(...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: ENV });
    let stdout = "", stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** `virsh version --daemon` lines, e.g. "Running hypervisor" -> "QEMU 7.2.22". */
function virshVersion(): Record<string, string> {
  return Object.fromEntries(virsh("version", "--daemon").split("\n").filter((l) => l.includes(": ")).map((l) => l.split(": ")));
}

/**
 * Does a type='kvm' guest start? Boots nothing (no disk), so it is cheap and destroyed at once.
 * A failure must be about KVM, so an unrelated error cannot make the comparison pass vacuously.
 */
function kvmGuestStarts(): boolean {
  const name = uniqueName("kvmprobe");
  const xml = `<domain type='kvm'><name>${name}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>`;
  const file = join(tmpdir(), `${name}.xml`);
  writeFileSync(file, xml);
  const r = spawnSync("virsh", ["-q", "-c", TEST_URI, "create", file], { encoding: "utf8" });
  virshQuiet("destroy", name);
  rmSync(file, { force: true });
  if (r.status === 0) return true;
  if (/kvm/i.test(r.stderr)) return false;
  throw new Error(`kvm probe guest failed for another reason: ${r.stderr}`);
}

let report: DoctorReport;
let jsonRun: Run;
let humanRun: Run;

beforeAll(async () => {
  // Build the bin entry as users get it. tsc emits even when other files have type errors, so only
  // a missing output fails here; doctor's own type errors show up in ts-jest.
  const tsc = spawnSync("npx", ["tsc", "-p", "tsconfig.json"], { cwd: ROOT, encoding: "utf8" });
  if (!existsSync(CLI)) throw new Error(`build produced no ${CLI}:\n${tsc.stdout}${tsc.stderr}`);
  [report, jsonRun, humanRun] = await Promise.all([diagnose(TEST_URI), cliAsync("doctor", "--json"), cliAsync("doctor", "--uri", TEST_URI)]);
}, 600_000); // slow daemons re-probe qemu on each capabilities call: minutes under load

test("versions match what virsh reports", () => {
  const v = virshVersion();
  expect(report.ok).toBe(true);
  expect(report.libvirtVersion).toBe((v["Running against daemon"] ?? v["Using library"]).replace("libvirt ", ""));
  expect(`${report.hypervisor?.type} ${report.hypervisor?.version}`).toBe(v["Running hypervisor"]);
  expect(report.hostname).toBe(virsh("hostname").trim());
}, 300_000);

test("names the socket it used", () => {
  expect(report.transport).toBe("unix");
  expect(report.socket).toMatch(/^\/.*sock$/);
  expect(existsSync(report.socket!)).toBe(true);
  expect(report.readOnly).toBe(false);
});

test("kvm.available agrees with whether kvm guests can run: a kvm guest starts and the CPU has vmx or svm; if not, a warning with the fix", () => {
  // A kvm guest may start on a host without hardware virtualization (a paravirtual KVM) and then
  // never boot, so the kernel's own view of the CPU is part of the ground truth.
  const hardware = /\b(vmx|svm)\b/.test(readFileSync("/proc/cpuinfo", "utf8"));
  const starts = hardware && kvmGuestStarts();
  expect(report.kvm?.available).toBe(starts);
  if (!starts) {
    const p = report.problems.find((x) => x.problem.startsWith("no KVM acceleration"));
    expect(p).toEqual({ severity: "warning", problem: expect.stringContaining(report.kvm!.reason), fix: expect.stringContaining("type 'qemu'") });
  }
});

test("host features agree with the host's own files, and each missing one is a note with its fix", () => {
  const firmware = existsSync("/usr/share/qemu/firmware")
    ? readdirSync("/usr/share/qemu/firmware").map((f) => readFileSync(join("/usr/share/qemu/firmware", f), "utf8")) : [];
  const efi = firmware.some((j) => /"uefi"/.test(j) && /"x86_64"/.test(j));
  const swtpm = spawnSync("sh", ["-c", "command -v swtpm"]).status === 0;
  const meminfo = readFileSync("/proc/meminfo", "utf8");
  const hugetlbKiB = Number(/^Hugetlb:\s+(\d+) kB/m.exec(meminfo)?.[1] ?? 0);
  const f = report.features!;
  expect({ efi: f.efi, tpmEmulator: f.tpmEmulator, hugepageBytes: f.hugepageBytes }).toEqual({ efi, tpmEmulator: swtpm, hugepageBytes: hugetlbKiB * 1024 });
  expect(typeof f.blkioWeight).toBe("boolean"); // local: looked up, not unknown
  const notes = report.problems.filter((p) => p.severity === "info").map((p) => p.problem);
  expect(notes.some((n) => n.startsWith("no UEFI firmware"))).toBe(!efi);
  expect(notes.some((n) => n.startsWith("no TPM emulator"))).toBe(!swtpm);
  expect(notes.some((n) => n.startsWith("no huge pages"))).toBe(hugetlbKiB === 0);
  expect(notes.some((n) => n.startsWith("no bfq or cfq"))).toBe(!f.blkioWeight);
  expect(humanRun.stdout).toMatch(/Features\s+efi (yes|no), secure boot (yes|no), tpm (yes|no), hugepages [\d.]+ GiB, blkio weight (yes|no)/);
});

test("the default network and the pools have the states virsh reports", () => {
  // Other suites create networks and pools concurrently: compare only what both listings contain.
  const rows = (text: string) => new Map(text.split("\n").filter(Boolean).map((l) => l.trim().split(/\s+/)).map((c) => [c[0], c]));
  const nets = rows(virsh("net-list", "--all"));
  const def = nets.get("default");
  const mine = report.networks.find((n) => n.name === "default");
  if (def) {
    expect(mine).toEqual(expect.objectContaining({ state: def[1], autostart: def[2] === "yes" }));
    if (def[1] !== "active") expect(report.problems).toContainEqual(expect.objectContaining({ severity: "warning", fix: expect.stringContaining("virsh net-start default") }));
  } else {
    expect(mine).toBeUndefined();
  }
  const pools = rows(virsh("pool-list", "--all"));
  for (const p of report.pools.filter((x) => pools.has(x.name))) {
    expect([p.name, p.state, p.autostart ? "yes" : "no"]).toEqual(pools.get(p.name));
  }
});

test("the built CLI prints one JSON object and exits by its verdict", () => {
  const { code, stdout } = jsonRun;
  const json = JSON.parse(stdout);
  expect(json).toEqual(expect.objectContaining({ ok: true, libvirtVersion: report.libvirtVersion, hypervisor: report.hypervisor, socket: report.socket, kvm: report.kvm }));
  expect(json.networks.map((n: { name: string }) => n.name)).toContain("default");
  expect(code).toBe(0);
});

test("an unreachable socket: non-zero exit, ok:false, a problem naming the socket", () => {
  const { code, stdout } = cli("doctor", "--uri", `qemu:///system?socket=${BAD_SOCKET}`, "--json");
  expect(code).toBe(1);
  const json = JSON.parse(stdout);
  expect(json.ok).toBe(false);
  expect(json.socketsTried).toEqual([BAD_SOCKET]);
  expect(json.problems).toEqual([expect.objectContaining({ severity: "error", problem: expect.stringContaining(BAD_SOCKET), fix: expect.stringContaining("libvirtd") })]);
});

test("human output has the sections and the versions; bad usage exits 2", () => {
  const { code, stdout } = humanRun;
  expect(code).toBe(0);
  for (const s of ["Connection", "Networks", "Storage pools", "Problems", report.libvirtVersion!, `${report.hypervisor!.type} ${report.hypervisor!.version}`]) {
    expect(stdout).toContain(s);
  }
  expect(cli("frobnicate")).toEqual(expect.objectContaining({ code: 2, stderr: expect.stringContaining("Usage: pulumi-libvirt") }));
  expect(cli("--help")).toEqual(expect.objectContaining({ code: 0, stdout: expect.stringContaining("doctor") }));
});
