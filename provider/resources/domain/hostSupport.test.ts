import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { explainStartFailure, featureSupport, localBlkioWeight, offersKvm, unsupportedInputs } from "./hostSupport";
import type { DomainInputs } from "./inputs";

/** Trimmed from `virsh domcapabilities` / `virsh capabilities` on Debian bookworm (QEMU 7.2). */
const domcaps = (efi: boolean, tpm: boolean) => `<domainCapabilities><path>/usr/bin/qemu-system-x86_64</path>
  <os supported='yes'>
    <enum name='firmware'>${efi ? "<value>efi</value>" : ""}</enum>
    <loader supported='yes'>${efi ? "<value>/usr/share/OVMF/OVMF_CODE_4M.ms.fd</value>" : ""}
      <enum name='type'><value>rom</value><value>pflash</value></enum>
      <enum name='secure'>${efi ? "<value>yes</value>" : ""}<value>no</value></enum>
    </loader>
  </os>
  <devices><tpm supported='${tpm ? "yes" : "no"}'><enum name='backendModel'>${tpm ? "<value>emulator</value>" : ""}<value>passthrough</value></enum></tpm></devices>
</domainCapabilities>`;
const caps = (pages2m: number) => `<capabilities><host><topology><cells num='1'><cell id='0'>
  <memory unit='KiB'>24000000</memory>
  <pages unit='KiB' size='4'>6000000</pages><pages unit='KiB' size='2048'>${pages2m}</pages><pages unit='KiB' size='1048576'>0</pages>
</cell></cells></topology></host></capabilities>`;

const MiB = 1024 ** 2;

test("KVM is offered where the capabilities list a kvm domain type for the arch", async () => {
  const guests = `<capabilities><guest><arch name='x86_64'><domain type='qemu'/><domain type='kvm'/></arch></guest>
    <guest><arch name='i686'><domain type='qemu'/></arch></guest></capabilities>`;
  expect(await offersKvm(guests)).toBe(true);
  expect(await offersKvm(guests, "x86_64")).toBe(true);
  expect(await offersKvm(guests, "i686")).toBe(false);
  expect(await offersKvm("<capabilities><guest><arch name='x86_64'><domain type='qemu'/></arch></guest></capabilities>")).toBe(false);
});
const inputs = (extra: Partial<DomainInputs>) => ({ name: "vm", memory: 256 * MiB, vcpus: 1, disks: [], interfaces: [], ...extra }) as unknown as DomainInputs;

test("the host facts come from libvirt's capability reports", async () => {
  expect(await featureSupport(domcaps(true, true), caps(128))).toEqual({ efi: true, secureBoot: true, tpmEmulator: true, hugepageBytes: 128 * 2 * MiB });
  expect(await featureSupport(domcaps(false, false), caps(0))).toEqual({ efi: false, secureBoot: false, tpmEmulator: false, hugepageBytes: 0 });
});

describe("inputs the host cannot honour are refused, naming the field, the host fact and the fix", () => {
  const none = { efi: false, secureBoot: false, tpmEmulator: false, hugepageBytes: 0, blkioWeight: false };
  const all = { efi: true, secureBoot: true, tpmEmulator: true, hugepageBytes: 1024 * MiB, blkioWeight: true };
  test.each([
    ["firmware", { firmware: "efi" }, /^firmware: efi needs UEFI firmware.*on hv1.*apt-get install ovmf.*firmware: "bios"/],
    ["secureBoot", { firmware: "efi", secureBoot: true }, /^firmware: efi/],
    ["tpm", { tpm: { model: "tpm-crb" } }, /^tpm: .*swtpm.*apt-get install swtpm swtpm-tools/],
    ["hugepages", { hugepages: true }, /^hugepages: the guest needs 268435456 bytes of huge pages and hv1 has 0 reserved.*vm.nr_hugepages=128/],
    ["blkioWeight", { blkioWeight: 300 }, /^blkioWeight: hv1 has no bfq or cfq I\/O scheduler.*modprobe bfq.*remove blkioWeight/],
  ])("%s", (_f, extra, reason) => {
    const out = unsupportedInputs(inputs(extra as Partial<DomainInputs>), none, "hv1");
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(reason);
    expect(unsupportedInputs(inputs(extra as Partial<DomainInputs>), all, "hv1")).toEqual([]);
  });

  test("secure boot alone missing, and too few huge pages", () => {
    expect(unsupportedInputs(inputs({ firmware: "efi", secureBoot: true } as Partial<DomainInputs>), { ...all, secureBoot: false }, "hv1")[0]).toMatch(/^secureBoot: .*secure-boot/);
    expect(unsupportedInputs(inputs({ hugepages: true } as Partial<DomainInputs>), { ...all, hugepageBytes: 128 * MiB }, "hv1")[0]).toMatch(/has 134217728 reserved/);
  });

  test("a blkio weight on a host whose support is unknown (remote) is left to libvirt", () => {
    expect(unsupportedInputs(inputs({ blkioWeight: 300 }), { ...none, blkioWeight: undefined }, "hv1")).toEqual([]);
  });
});

describe("localBlkioWeight looks for the files libvirt's cgroup layer writes", () => {
  let root: string;
  beforeEach(() => (root = mkdtempSync(join(tmpdir(), "cg-"))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));
  const touch = (path: string) => {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), "");
  };
  test("cgroup v1 without bfq or cfq: no", () => {
    touch("blkio/blkio.throttle.read_bps_device");
    expect(localBlkioWeight(root)).toBe(false);
  });
  test.each(["blkio/blkio.weight", "blkio/blkio.bfq.weight", "machine.slice/io.bfq.weight", "machine/io.weight"])("%s: yes", (f) => {
    touch(f);
    expect(localBlkioWeight(root)).toBe(true);
  });
  test("no cgroup tree at all: no", () => expect(localBlkioWeight(join(root, "absent"))).toBe(false));
});

test("start failures libvirt words in its own terms are explained in the input's, others pass through", () => {
  // libvirt 9.0 under a daemon without CAP_SYS_RESOURCE (a container), and on a host without bfq/cfq.
  const memlock = new Error("internal error: Process exited prior to exec: libvirt:  error : cannot limit locked memory of process 4037 to 1073741824: Operation not permitted");
  expect((explainStartFailure(memlock, inputs({ memtune: { hardLimit: 2 ** 30 } })) as Error).message).toMatch(/^memtune\.hardLimit: .*cannot limit locked memory.*CAP_SYS_RESOURCE.*remove memtune\.hardLimit$/);
  expect(explainStartFailure(memlock, inputs({}))).toBe(memlock);
  const blkio = new Error("unsupported configuration: blkio weight is not supported without the bfq or cfq I/O scheduler");
  expect((explainStartFailure(blkio, inputs({ blkioWeight: 300 })) as Error).message).toMatch(/^blkioWeight: .*modprobe bfq/);
  const other = new Error("Cannot access storage file");
  expect(explainStartFailure(other, inputs({ blkioWeight: 300, memtune: { hardLimit: 1 } }))).toBe(other);
});
