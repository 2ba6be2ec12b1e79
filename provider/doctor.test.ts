import {
  ancestors, canAccess, connectionProblem, DoctorReport, featureProblems, formatReport, Identity, kvmCheck, networkProblems, NetworkInfo,
  parseCapabilities, parseQemuConf, permissionProblems, poolProblems, PoolInfo, readOnlyProblem, resolveIdentity,
  securityProblems, Stat,
} from "./doctor";
import { ErrorCode, LibvirtError } from "./libvirt/errors";

// Canned inputs shaped like Debian bookworm's.
const PASSWD = "root:x:0:0:root:/root:/bin/bash\nlibvirt-qemu:x:64055:107:Libvirt Qemu,,,:/var/lib/libvirt:/usr/sbin/nologin\nalice:x:1000:1000::/home/alice:/bin/bash\n";
const GROUP = "root:x:0:\nkvm:x:107:\nlibvirt:x:108:alice\nlibvirt-qemu:x:64055:libvirt-qemu\nalice:x:1000:\n";
const QEMU: Identity = { name: "libvirt-qemu", uid: 64055, gids: [64055, 107] };
const dir = (mode: number, uid = 0, gid = 0): Stat => ({ mode: 0o40000 | mode, uid, gid });
const CAPS = `<capabilities>
  <host><cpu><arch>x86_64</arch><model>kvm64</model></cpu>
    <secmodel><model>apparmor</model><doi>0</doi></secmodel>
    <secmodel><model>dac</model><doi>0</doi><baselabel type='kvm'>+64055:+64055</baselabel><baselabel type='qemu'>+64055:+64055</baselabel></secmodel>
  </host>
  <guest><os_type>hvm</os_type><arch name='i686'><domain type='qemu'/><domain type='kvm'/></arch></guest>
  <guest><os_type>hvm</os_type><arch name='x86_64'><domain type='qemu'/>KVM</arch></guest>
</capabilities>`;

describe("parsing", () => {
  test("capabilities: host arch, kvm for that arch only, security models, qemu's DAC label", () => {
    expect(parseCapabilities(CAPS.replace("KVM", "<domain type='kvm'/>"))).toEqual({
      arch: "x86_64", kvmGuest: true, securityModels: ["apparmor", "dac"], qemuLabel: "+64055:+64055",
    });
    // kvm under i686 does not count for an x86_64 host
    expect(parseCapabilities(CAPS.replace("KVM", "")).kvmGuest).toBe(false);
  });

  test("qemu.conf: commented settings are ignored", () => {
    expect(parseQemuConf('#user = "libvirt-qemu"\n#group = "libvirt-qemu"\n')).toEqual({ user: undefined, group: undefined });
    expect(parseQemuConf('user = "qemu"\n  group = "kvm"\n')).toEqual({ user: "qemu", group: "kvm" });
  });

  test("identity: names and +uid forms, primary and member groups", () => {
    expect(resolveIdentity("+64055", "+64055", PASSWD, GROUP)).toEqual(QEMU);
    expect(resolveIdentity("libvirt-qemu", "libvirt-qemu", PASSWD, GROUP)).toEqual(QEMU);
    expect(resolveIdentity("alice", undefined, PASSWD, GROUP)).toEqual({ name: "alice", uid: 1000, gids: [1000, 108] });
    expect(resolveIdentity("+0", "+0", PASSWD, GROUP)).toEqual({ name: "root", uid: 0, gids: [0] });
    expect(resolveIdentity("+4242", "+4242", PASSWD, GROUP)).toEqual({ name: "uid 4242", uid: 4242, gids: [4242] });
    expect(resolveIdentity("nobody-here", undefined, PASSWD, GROUP)).toBeUndefined();
  });

  test("permissions: owner, then group, then other; root always passes", () => {
    expect(canAccess(dir(0o711), QEMU, 1)).toBe(true);
    expect(canAccess(dir(0o711), QEMU, 4)).toBe(false);
    expect(canAccess(dir(0o750, 0, 107), QEMU, 5)).toBe(true);
    expect(canAccess(dir(0o077, 64055), QEMU, 1)).toBe(false); // owner bits win even when other allows
    expect(canAccess(dir(0o000), { name: "root", uid: 0, gids: [0] }, 7)).toBe(true);
    expect(ancestors("/var/lib/libvirt/images")).toEqual(["/", "/var", "/var/lib", "/var/lib/libvirt", "/var/lib/libvirt/images"]);
  });
});

describe("kvm", () => {
  const dev = (mode: number, gid = 0): Stat => ({ mode: 0o20000 | mode, uid: 0, gid });
  const ok = { domainCaps: true as const, capsGuest: true, hardware: true };

  test("absent /dev/kvm: warning, guests still run with type qemu, fix names the modules", () => {
    const { kvm, problem } = kvmCheck({ ...ok, dev: null, qemu: QEMU });
    expect(kvm).toEqual({ available: false, reason: "/dev/kvm does not exist" });
    expect(problem?.severity).toBe("warning");
    expect(problem?.fix).toMatch(/type 'qemu'.*VT-x\/AMD-V.*kvm_intel.*kvm_amd.*kvm group/);
  });

  test("/dev/kvm the qemu user cannot open: unavailable even though libvirt advertises kvm", () => {
    const { kvm, problem } = kvmCheck({ ...ok, dev: dev(0o600), qemu: QEMU });
    expect(kvm.available).toBe(false);
    expect(kvm.reason).toMatch(/mode 0600.*libvirt-qemu/);
    expect(problem?.fix).toContain("usermod -aG kvm libvirt-qemu");
  });

  test("usable /dev/kvm (group kvm) and kvm in the capabilities: available, no problem", () => {
    expect(kvmCheck({ ...ok, dev: dev(0o660, 107), qemu: QEMU })).toEqual({ kvm: { available: true, reason: expect.stringContaining("libvirt-qemu") } });
    expect(kvmCheck(ok).kvm.available).toBe(true); // remote: /dev/kvm not checked
  });

  test("a /dev/kvm without vmx or svm in the host CPU is no KVM: guests would start and never boot", () => {
    const { kvm, problem } = kvmCheck({ ...ok, hardware: false, dev: dev(0o660, 107), qemu: QEMU });
    expect(kvm.available).toBe(false);
    expect(problem?.problem).toMatch(/no hardware virtualization/);
  });

  test("the daemon refusing kvm domain capabilities, or capabilities without kvm", () => {
    const refused = kvmCheck({ ...ok, domainCaps: "unsupported configuration: KVM is not supported", dev: dev(0o666) });
    expect(refused.kvm).toEqual({ available: false, reason: expect.stringContaining("KVM is not supported") });
    expect(kvmCheck({ ...ok, capsGuest: false }).kvm.available).toBe(false);
  });
});

describe("networks", () => {
  const net = (o: Partial<NetworkInfo>): NetworkInfo => ({ name: "default", state: "active", autostart: true, bridge: "virbr0", forward: "nat", ...o });

  test("default network: absent, inactive, not autostarted, fine", () => {
    expect(networkProblems([])).toEqual([expect.objectContaining({ severity: "warning", fix: expect.stringContaining("net-define /usr/share/libvirt/networks/default.xml") })]);
    expect(networkProblems([net({ state: "inactive", autostart: false })])).toEqual([
      { severity: "warning", problem: expect.stringContaining("inactive"), fix: "virsh net-start default && virsh net-autostart default" },
    ]);
    expect(networkProblems([net({ state: "inactive" })])[0].fix).toBe("virsh net-start default");
    expect(networkProblems([net({ autostart: false })])).toEqual([expect.objectContaining({ severity: "info", fix: "virsh net-autostart default" })]);
    expect(networkProblems([net({})], ["lo", "virbr0"])).toEqual([]);
  });

  test("missing bridges: active libvirt bridge gone, host bridge absent; inactive NAT networks have none yet", () => {
    const nets = [net({}), net({ name: "lan", forward: "bridge", bridge: "br0", state: "inactive" }), net({ name: "iso", state: "inactive", bridge: "virbr9" })];
    const problems = networkProblems(nets, ["lo"]);
    expect(problems.map((p) => p.problem)).toEqual([
      "network 'default' is active but its bridge virbr0 is gone",
      "network 'lan' uses host bridge br0, which does not exist",
    ]);
    expect(problems[0].fix).toBe("virsh net-destroy default && virsh net-start default");
    expect(networkProblems(nets, undefined)).toEqual([]); // remote daemon: bridges not checked
  });
});

describe("pools", () => {
  const pool = (o: Partial<PoolInfo>): PoolInfo => ({ name: "default", type: "dir", state: "active", autostart: true, target: "/var/lib/libvirt/images", ...o });

  test("no pool at all, or no 'default' pool, is informational (the quickstart makes its own)", () => {
    expect(poolProblems([])).toEqual([expect.objectContaining({ severity: "info", problem: "no storage pool is defined", fix: expect.stringContaining("quickstart") })]);
    expect(poolProblems([pool({ name: "images" })])).toEqual([expect.objectContaining({ severity: "info", problem: "no storage pool named 'default'" })]);
    expect(poolProblems([pool({})])).toEqual([]);
  });

  test("inactive pools: the fix depends on autostart; degraded pools are reported", () => {
    expect(poolProblems([pool({ state: "inactive", autostart: false })])).toEqual([
      { severity: "warning", problem: "storage pool 'default' is inactive and does not autostart", fix: "virsh pool-start default && virsh pool-autostart default" },
    ]);
    expect(poolProblems([pool({ state: "inactive" })])[0].problem).toContain("failed to start");
    expect(poolProblems([pool({ state: "degraded" })])[0].problem).toBe("storage pool 'default' is degraded");
  });
});

describe("image directory permissions", () => {
  const debian = { "/": dir(0o755), "/var": dir(0o755), "/var/lib": dir(0o755), "/var/lib/libvirt": dir(0o755), "/var/lib/libvirt/images": dir(0o711) };

  test("Debian's 0711 images directory is fine: qemu only needs search, not read", () => {
    expect(permissionProblems([{ path: "/var/lib/libvirt/images" }], debian, QEMU)).toEqual([]);
  });

  test("a pool under a private home directory names the blocking component and the fix", () => {
    const stats = { ...debian, "/home": dir(0o755), "/home/alice": dir(0o700, 1000, 1000), "/home/alice/vms": dir(0o755, 1000, 1000) };
    const [p, ...rest] = permissionProblems([{ path: "/home/alice/vms", pool: "vms" }, { path: "/var/lib/libvirt/images" }], stats, QEMU);
    expect(rest).toEqual([]);
    expect(p.severity).toBe("warning");
    expect(p.problem).toMatch(/libvirt-qemu .* cannot search \/home\/alice \(mode 0700, owner 1000:1000\).*\/home\/alice\/vms \(pool 'vms'\)/);
    expect(p.fix).toMatch(/chmod o\+x \/home\/alice .*qemu\.conf/);
  });

  test("absent directories are skipped; a qemu running as root passes", () => {
    expect(permissionProblems([{ path: "/nope" }], { "/": dir(0o755), "/nope": null }, QEMU)).toEqual([]);
    expect(permissionProblems([{ path: "/var/lib/libvirt/images" }], { ...debian, "/var/lib/libvirt": dir(0o700) }, { name: "root", uid: 0, gids: [0] })).toEqual([]);
  });
});

describe("AppArmor and SELinux", () => {
  const pools: PoolInfo[] = [{ name: "vms", type: "dir", state: "active", autostart: true, target: "/srv/vms" }];

  test("AppArmor enabled and used by libvirt: a note, a warning naming pools outside the images directory", () => {
    expect(securityProblems(["apparmor", "dac"], true, false, [])).toEqual([expect.objectContaining({ severity: "info", fix: expect.stringContaining("/etc/apparmor.d/local/abstractions/libvirt-qemu") })]);
    expect(securityProblems(["apparmor", "dac"], true, false, pools)[0]).toEqual(expect.objectContaining({ severity: "warning", problem: expect.stringContaining("'vms' (/srv/vms)") }));
  });

  test("silent when the module is off or libvirt does not use it; SELinux enforcing needs virt_image_t", () => {
    expect(securityProblems(["apparmor", "dac"], false, false, pools)).toEqual([]);
    expect(securityProblems(["none", "dac"], true, true, pools)).toEqual([]);
    expect(securityProblems(["selinux", "dac"], false, true, pools)[0].fix).toContain("virt_image_t");
  });
});

describe("connection problems", () => {
  test("the client's own 'To fix' is split into problem and fix", () => {
    const e = new LibvirtError("cannot connect to libvirt at qemu:///system: tried /x.sock (absent). To fix: start the daemon", ErrorCode.NO_CONNECT);
    expect(connectionProblem(e)).toEqual({ severity: "error", problem: "cannot connect to libvirt at qemu:///system: tried /x.sock (absent)", fix: "start the daemon" });
  });

  test("polkit refusals, unsupported transports and read-only connections get specific fixes", () => {
    expect(connectionProblem(new LibvirtError("internal error: Unable to get system bus connection")).fix).toContain("libvirt group");
    expect(connectionProblem(new LibvirtError("the ssh transport is not supported yet", ErrorCode.NO_SUPPORT)).fix).toContain("local URI");
    expect(readOnlyProblem("authentication failed")).toEqual(expect.objectContaining({ severity: "error", problem: expect.stringContaining("authentication failed") }));
  });
});

describe("formatReport", () => {
  const report: DoctorReport = {
    ok: true, uri: "qemu:///system", transport: "unix", socket: "/var/run/libvirt/libvirt-sock", readOnly: false, hostname: "vm",
    libvirtVersion: "9.0.0", hypervisor: { type: "QEMU", version: "7.2.22" }, host: { arch: "x86_64", cpus: 2, memoryMiB: 4096 },
    kvm: { available: true, reason: "libvirt offers domain type kvm" }, securityModels: ["none", "dac"],
    networks: [{ name: "default", state: "active", autostart: true, bridge: "virbr0" }, { name: "isolated-long-name", state: "inactive", autostart: false }],
    pools: [],
    problems: [{ severity: "info", problem: "no storage pool is defined", fix: "nothing to do" }],
  };

  test("sections with aligned columns, versions, problems with fixes, verdict", () => {
    const text = formatReport(report);
    expect(text).toContain("  libvirt     9.0.0\n");
    expect(text).toContain("  Hypervisor  QEMU 7.2.22\n");
    expect(text).toContain("  Transport   unix (/var/run/libvirt/libvirt-sock)\n");
    expect(text).toContain("Networks\n  NAME                STATE     AUTOSTART  BRIDGE\n  default             active    yes        virbr0\n  isolated-long-name  inactive  no\n");
    expect(text).toContain("Storage pools\n  (none)\n");
    expect(text).toContain("  INFO     no storage pool is defined\n           fix: nothing to do\n");
    expect(text).toMatch(/OK: 0 error\(s\), 0 warning\(s\), 1 note\(s\)\n$/);
  });

  test("a failed connection shows the sockets tried and FAILED, without empty inventories", () => {
    const text = formatReport({
      ok: false, uri: "qemu:///system", transport: "unix", socketsTried: ["/a-sock", "/b-sock"], pools: [], networks: [],
      problems: [{ severity: "error", problem: "cannot connect", fix: "start it" }],
    });
    expect(text).toContain("Sockets tried  /a-sock, /b-sock");
    expect(text).not.toContain("Networks");
    expect(text).toMatch(/FAILED: 1 error/);
  });
});

describe("host features", () => {
  const all = { efi: true, secureBoot: true, tpmEmulator: true, hugepageBytes: 2 ** 30, blkioWeight: true };

  test("a host with everything: no notes", () => {
    expect(featureProblems(all)).toEqual([]);
    expect(featureProblems({ ...all, blkioWeight: undefined })).toEqual([]); // remote: unknown is not a problem
  });

  test("each missing feature is a note naming the Domain input it refuses and the fix", () => {
    const notes = featureProblems({ efi: false, secureBoot: false, tpmEmulator: false, hugepageBytes: 0, blkioWeight: false });
    expect(notes.every((n) => n.severity === "info")).toBe(true);
    expect(notes.map((n) => [n.problem.split(":")[0], n.fix.split(" ").slice(0, 3).join(" ")])).toEqual([
      ["no UEFI firmware", "apt-get install ovmf"],
      ["no TPM emulator", "apt-get install swtpm"],
      ["no huge pages reserved", "reserve them, e.g."],
      ["no bfq or cfq I/O scheduler", "modprobe bfq; echo"],
    ]);
    expect(featureProblems({ ...all, secureBoot: false })[0].problem).toContain('machine: "q35"');
  });
});
