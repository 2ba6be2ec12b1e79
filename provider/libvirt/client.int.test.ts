/**
 * Every typed procedure of client.ts against the real daemon, cross-checked with virsh (libvirt's
 * own C client) both ways: what our client defines, virsh reads back, and what virsh defines, our
 * client reads.
 *
 * Domains are type 'qemu' (TCG) with no bootable disk: SeaBIOS just sits there, which is all the
 * lifecycle tests need. The domain tests start the main domain only twice.
 */
import { randomBytes, randomInt } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { awaitDaemon, rejection, sleep, TEST_URI, uniqueName, virshQuiet, vsh, waitFor } from "../../test/util";
import {
  DomainRef, formatVersion, LifecycleEvent, Libvirt, NetworkRef, NetworkUpdateCommand, NetworkUpdateSection,
  StoragePoolRef, StorageVolRef, uuidString,
} from "./client";
import {
  DomainCreateFlags, DomainDefineFlags, DomainDestroyFlags, DomainEventType, DomainState, DomainUndefineFlags,
  DomainXmlFlags, Impact, InterfaceAddressSource, MemoryFlags, NetworkUpdateFlags, NetworkXmlFlags, PoolBuildFlags,
  PoolDeleteFlags, PoolState, PoolXmlFlags, SnapshotCreateFlags, SnapshotDeleteFlags, VcpuFlags, VolResizeFlags, VolType,
} from "./constants";
import { ErrorCode, isConnectionLost, isLibvirtError, isNotFound, LibvirtError } from "./errors";

// Generous: with /dev/kvm left root-only (no udev; scripts/setup-host.sh fixes it) libvirtd
// re-probes QEMU's capabilities on nearly every call, and a single define or start can take a
// minute on a busy machine. Normally the whole file runs in about 20 s.
jest.setTimeout(600_000);

const IMAGES = "/var/lib/libvirt/images";
const MiB = 1024 * 1024;
/** virErrorNumber values the client does not name. */
const VIR_ERR_NO_DOMAIN_METADATA = 80;
const VIR_ERR_XML_DETAIL = 35;
const LIST_DOMAINS_ACTIVE = 1;
const LIST_DOMAINS_INACTIVE = 2;

// ---------------------------------------------------------------------------------------------
// helpers

const scratch = mkdtempSync(join(tmpdir(), "plt-client-"));

/** virsh reads definitions from files. */
function xmlFile(xml: string): string {
  const p = join(scratch, `${randomBytes(4).toString("hex")}.xml`);
  writeFileSync(p, xml);
  return p;
}

/** "Key:   value" lines of virsh dominfo / pool-info / net-info / vol-info. */
function fields(out: string): Record<string, string> {
  const r: Record<string, string> = {};
  for (const line of out.split("\n")) {
    const m = /^([^:]+):\s*(.*)$/.exec(line.trim());
    if (m) r[m[1].trim()] = m[2].trim();
  }
  return r;
}

/** Text of the first <tag ...>text</tag>. */
function tagText(xml: string, tag: string): string | undefined {
  return new RegExp(`<${tag}(?:\\s[^>]*)?>([^<]*)</${tag}>`).exec(xml)?.[1];
}




async function vshFails(...args: string[]): Promise<boolean> {
  try {
    await vsh(...args);
    return false;
  } catch {
    return true;
  }
}

/** A /24 that no route on this host uses yet. */
function freeSubnet(): string {
  const routes = execFileSync("ip", ["-4", "route"], { encoding: "utf8" });
  for (;;) {
    const net = `10.${randomInt(100, 240)}.${randomInt(0, 256)}`;
    if (!routes.includes(`${net}.`)) return net;
  }
}

/** A network name is short enough to serve as a bridge name too (15 characters). */
function bridgeFor(name: string): string {
  return `pltb${name.slice(-8)}`;
}

function networkXml(name: string, subnet: string): string {
  return `<network>
  <name>${name}</name>
  <bridge name='${bridgeFor(name)}' stp='on' delay='0'/>
  <ip address='${subnet}.1' netmask='255.255.255.0'>
    <dhcp><range start='${subnet}.100' end='${subnet}.200'/></dhcp>
  </ip>
</network>`;
}

function dirPoolXml(name: string): string {
  return `<pool type='dir'><name>${name}</name><target><path>${IMAGES}/${name}</path></target></pool>`;
}

function volXml(name: string, bytes: number, format: "raw" | "qcow2"): string {
  return `<volume><name>${name}</name><capacity unit='bytes'>${bytes}</capacity><target><format type='${format}'/></target></volume>`;
}

async function collect(fn: (w: Writable) => Promise<number>): Promise<{ bytes: number; data: Buffer }> {
  const parts: Buffer[] = [];
  const w = new Writable({ write(chunk, _enc, cb) { parts.push(chunk); cb(); } });
  const bytes = await fn(w);
  return { bytes, data: Buffer.concat(parts) };
}

// ---------------------------------------------------------------------------------------------
// fixtures, made with virsh (so the client reads what virsh defined) and removed in afterAll

let lv: Libvirt;
const fx = {
  pool: uniqueName("fxpool"),
  net: uniqueName("fxnet"),
  subnet: "",
  disk: "disk.qcow2",
  media: "media.iso",
  diskPath: "",
  mediaPath: "",
};
const domains: string[] = [];
const networks: string[] = [fx.net];
const pools: string[] = [fx.pool];

beforeAll(async () => {
  fx.subnet = freeSubnet();
  await vsh("net-define", xmlFile(networkXml(fx.net, fx.subnet)));
  await vsh("net-start", fx.net);
  await vsh("pool-define", xmlFile(dirPoolXml(fx.pool)));
  await vsh("pool-build", fx.pool);
  await vsh("pool-start", fx.pool);
  await vsh("vol-create-as", fx.pool, fx.disk, "16M", "--format", "qcow2");
  await vsh("vol-create-as", fx.pool, fx.media, "1M", "--format", "raw");
  fx.diskPath = (await vsh("vol-path", "--pool", fx.pool, fx.disk)).trim();
  fx.mediaPath = (await vsh("vol-path", "--pool", fx.pool, fx.media)).trim();
  lv = await Libvirt.connect(TEST_URI);
});


afterAll(async () => {
  await awaitDaemon();
  await lv?.close();
  for (const d of domains) {
    virshQuiet("destroy", d);
    virshQuiet("undefine", d, "--managed-save", "--snapshots-metadata");
  }
  for (const n of networks) {
    virshQuiet("net-destroy", n);
    virshQuiet("net-undefine", n);
  }
  for (const p of pools) {
    const vols = await vsh("vol-list", "--pool", p).catch(() => "");
    for (const v of vols.split("\n").map((x) => x.trim().split(/\s+/)[0]).filter(Boolean)) virshQuiet("vol-delete", "--pool", p, v);
    virshQuiet("pool-destroy", p);
    virshQuiet("pool-delete", p);
    virshQuiet("pool-undefine", p);
    rmSync(`${IMAGES}/${p}`, { recursive: true, force: true });
  }
  rmSync(scratch, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------

describe("connection", () => {
  test("negotiated the features a libvirt 9 daemon has", () => {
    expect(lv.features).toEqual({ keepalive: true, eventCallbacks: true, networkUpdateCorrectOrder: true });
    expect(lv.closed).toBe(false);
  });

  test("getType and getVersion match virsh version's hypervisor line", async () => {
    const m = /Running hypervisor:\s*(\S+)\s+(\S+)/.exec(await vsh("version"));
    expect(m).not.toBeNull();
    expect(await lv.getType()).toBe(m![1]);
    expect(formatVersion(await lv.getVersion())).toBe(m![2]);
  });

  test("getLibVersion, formatted, is virsh version's library", async () => {
    const m = /Using library: libvirt (\S+)/.exec(await vsh("version"));
    expect(m).not.toBeNull();
    const v = await lv.getLibVersion();
    expect(v).toBeGreaterThanOrEqual(1_000_000);
    expect(formatVersion(v)).toBe(m![1]);
  });

  test("getHostname and getUri match virsh", async () => {
    expect(await lv.getHostname()).toBe((await vsh("hostname")).trim());
    expect(await lv.getUri()).toBe((await vsh("uri")).trim());
  });

  test("getCapabilities describes the same host as virsh capabilities", async () => {
    const caps = await lv.getCapabilities();
    expect(caps).toContain("<capabilities>");
    const hostUuid = (x: string) => /<host>\s*<uuid>([^<]+)<\/uuid>/.exec(x)?.[1];
    expect(hostUuid(caps)).toBeDefined();
    expect(hostUuid(caps)).toBe(hostUuid(await vsh("capabilities")));
    expect(caps).toMatch(/<arch name='x86_64'>/);
  });

  test("getDomainCapabilities for virttype qemu matches virsh domcapabilities", async () => {
    const caps = await lv.getDomainCapabilities({ virttype: "qemu" });
    expect(caps).toContain("<domain>qemu</domain>");
    const ref = await vsh("domcapabilities", "--virttype", "qemu");
    for (const tag of ["path", "domain", "machine", "arch"]) expect(tagText(caps, tag)).toBe(tagText(ref, tag));
    expect(caps.trim()).toBe(ref.trim());
  });

  test("nodeGetInfo matches virsh nodeinfo", async () => {
    const info = await lv.nodeGetInfo();
    const ref = fields(await vsh("nodeinfo"));
    expect(info.model).toBe(ref["CPU model"]);
    expect(info.cpus).toBe(Number(ref["CPU(s)"]));
    expect(info.mhz).toBe(Number(ref["CPU frequency"].split(" ")[0]));
    expect(info.sockets).toBe(Number(ref["CPU socket(s)"]));
    expect(info.cores).toBe(Number(ref["Core(s) per socket"]));
    expect(info.threads).toBe(Number(ref["Thread(s) per core"]));
    expect(info.nodes).toBe(Number(ref["NUMA cell(s)"]));
    expect(info.memory).toBe(Number(ref["Memory size"].split(" ")[0]));
  });

  test("listAllNetworks and listAllStoragePools include what virsh defined", async () => {
    const nets = await lv.listAllNetworks();
    const net = nets.find((n) => n.name === fx.net);
    expect(net).toBeDefined();
    expect(uuidString(net!.uuid)).toBe((await vsh("net-uuid", fx.net)).trim());
    const pools = await lv.listAllStoragePools();
    const pool = pools.find((p) => p.name === fx.pool);
    expect(pool).toBeDefined();
    expect(uuidString(pool!.uuid)).toBe((await vsh("pool-uuid", fx.pool)).trim());
    // and virsh sees everything we list (objects of other tests may come and go meanwhile)
    const virshNets = (await vsh("net-list", "--all", "--name")).split("\n").map((s) => s.trim()).filter(Boolean);
    expect(virshNets).toContain(fx.net);
  });
});

// ---------------------------------------------------------------------------------------------

describe("domain", () => {
  const name = uniqueName("dom");
  const other = uniqueName("vdom");
  const meta = { uri: "https://example.org/pulumi-libvirt/test", key: "plt" };
  let dom: DomainRef;
  const events: LifecycleEvent[] = [];
  const filtered: LifecycleEvent[] = [];
  let unsubscribeAll: (() => Promise<void>) | undefined;
  let unsubscribeOne: (() => Promise<void>) | undefined;
  const mac = `52:54:00:${randomBytes(3).toString("hex").match(/../g)!.join(":")}`;

  const domainXml = () => `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='KiB'>131072</memory>
  <currentMemory unit='KiB'>131072</currentMemory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <on_reboot>restart</on_reboot>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='${fx.diskPath}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='network'>
      <mac address='${mac}'/>
      <source network='${fx.net}'/>
      <model type='virtio'/>
      <rom enabled='no'/>
    </interface>
    <memballoon model='virtio'/>
  </devices>
</domain>`;

  const seen = (list: LifecycleEvent[], event: number) => list.some((e) => e.dom.name === name && e.event === event);

  afterAll(async () => {
    await unsubscribeAll?.().catch(() => undefined);
    await unsubscribeOne?.().catch(() => undefined);
  });

  test("domainDefineXml (VALIDATE) defines a persistent domain virsh sees shut off", async () => {
    domains.push(name);
    const bad = await rejection(lv.domainDefineXml("<domain type='qemu'><name>x</name><bogus/></domain>", DomainDefineFlags.VALIDATE));
    expect(bad.message).toMatch(/schema|XML|element/i);

    dom = await lv.domainDefineXml(domainXml(), DomainDefineFlags.VALIDATE);
    expect(dom.name).toBe(name);
    expect(dom.id).toBe(-1);
    const info = fields(await vsh("dominfo", name));
    expect(info["State"]).toBe("shut off");
    expect(info["Persistent"]).toBe("yes");
    expect(info["Max memory"]).toBe("131072 KiB");
    expect(info["UUID"]).toBe(uuidString(dom.uuid));
  });

  test("domainLookupByName and domainLookupByUuid (string and bytes) find it", async () => {
    const byName = await lv.domainLookupByName(name);
    expect(byName).toEqual(dom);
    expect(await lv.domainLookupByUuid(uuidString(dom.uuid))).toEqual(dom);
    expect(await lv.domainLookupByUuid(dom.uuid)).toEqual(dom);
    expect(await lv.domainLookupByUuid((await vsh("domuuid", name)).trim())).toEqual(dom);
  });

  test("listAllDomains with INACTIVE/ACTIVE flags places it correctly", async () => {
    expect((await lv.listAllDomains()).map((d) => d.name)).toContain(name);
    expect((await lv.listAllDomains(LIST_DOMAINS_INACTIVE)).map((d) => d.name)).toContain(name);
    expect((await lv.listAllDomains(LIST_DOMAINS_ACTIVE)).map((d) => d.name)).not.toContain(name);
    expect(await vsh("list", "--all", "--name")).toContain(name);
  });

  test("domainIsActive, domainIsPersistent, domainGetState, domainGetInfo of a shut off domain", async () => {
    expect(await lv.domainIsActive(dom)).toBe(false);
    expect(await lv.domainIsPersistent(dom)).toBe(true);
    expect((await lv.domainGetState(dom)).state).toBe(DomainState.SHUTOFF);
    const info = await lv.domainGetInfo(dom);
    expect(info).toMatchObject({ state: DomainState.SHUTOFF, maxMem: 131072, memory: 131072, nrVirtCpu: 1, cpuTime: 0 });
  });

  test("domainGetXmlDesc returns the definition, INACTIVE flag included", async () => {
    const xml = await lv.domainGetXmlDesc(dom);
    expect(xml).toContain(`<name>${name}</name>`);
    expect(xml).toContain(`<uuid>${uuidString(dom.uuid)}</uuid>`);
    expect(xml).toContain(fx.diskPath);
    expect(await lv.domainGetXmlDesc(dom, DomainXmlFlags.INACTIVE)).toBe(await vsh("dumpxml", "--inactive", name));
  });

  test("domainSetAutostart / domainGetAutostart agree with virsh dominfo both ways", async () => {
    expect(await lv.domainGetAutostart(dom)).toBe(false);
    await lv.domainSetAutostart(dom, true);
    expect(fields(await vsh("dominfo", name))["Autostart"]).toBe("enable");
    expect(await lv.domainGetAutostart(dom)).toBe(true);
    await vsh("autostart", "--disable", name);
    expect(await lv.domainGetAutostart(dom)).toBe(false);
    expect(fields(await vsh("dominfo", name))["Autostart"]).toBe("disable");
  });

  test("domainSetMemory with MAXIMUM|CONFIG and CONFIG changes the definition", async () => {
    await lv.domainSetMemory(dom, 122880, MemoryFlags.MAXIMUM | MemoryFlags.CONFIG);
    await lv.domainSetMemory(dom, 98304, MemoryFlags.CONFIG);
    const info = fields(await vsh("dominfo", name));
    expect(info["Max memory"]).toBe("122880 KiB");
    expect(info["Used memory"]).toBe("98304 KiB");
    const xml = await vsh("dumpxml", "--inactive", name);
    expect(xml).toContain("<memory unit='KiB'>122880</memory>");
    expect(xml).toContain("<currentMemory unit='KiB'>98304</currentMemory>");
    expect(await lv.domainGetInfo(dom)).toMatchObject({ maxMem: 122880, memory: 98304 });
    // LIVE on a domain that is not running is refused
    const e = await rejection(lv.domainSetMemory(dom, 65536, MemoryFlags.LIVE));
    expect(e.code).toBe(ErrorCode.OPERATION_INVALID);
  });

  test("domainSetVcpus / domainGetVcpus: maximum 2 and current 1 in the config", async () => {
    await lv.domainSetVcpus(dom, 2, VcpuFlags.MAXIMUM | VcpuFlags.CONFIG);
    await lv.domainSetVcpus(dom, 1, VcpuFlags.CONFIG);
    expect(await lv.domainGetVcpus(dom, VcpuFlags.MAXIMUM | VcpuFlags.CONFIG)).toBe(2);
    expect(await lv.domainGetVcpus(dom, VcpuFlags.CONFIG)).toBe(1);
    expect((await vsh("vcpucount", name, "--maximum", "--config")).trim()).toBe("2");
    expect((await vsh("vcpucount", name, "--current", "--config")).trim()).toBe("1");
    expect(await vsh("dumpxml", "--inactive", name)).toMatch(/<vcpu placement='static' current='1'>2<\/vcpu>/);
    // virsh sets, we read
    await vsh("setvcpus", name, "2", "--config");
    expect(await lv.domainGetVcpus(dom, VcpuFlags.CONFIG)).toBe(2);
    await lv.domainSetVcpus(dom, 1, VcpuFlags.CONFIG);
    expect((await vsh("vcpucount", name, "--current", "--config")).trim()).toBe("1");
  });

  const cdrom = (dev: string, source?: string) =>
    `<disk type='file' device='cdrom'><driver name='qemu' type='raw'/>${source ? `<source file='${source}'/>` : ""}<target dev='${dev}' bus='ide'/><readonly/></disk>`;

  test("domainAttachDevice / domainUpdateDevice with CONFIG on the stopped domain", async () => {
    await lv.domainAttachDevice(dom, cdrom("hdc"), Impact.CONFIG);
    let xml = await vsh("dumpxml", "--inactive", name);
    expect(xml).toMatch(/<disk type='file' device='cdrom'>[\s\S]*?<target dev='hdc' bus='ide'\/>/);
    expect(await lv.domainGetXmlDesc(dom, DomainXmlFlags.INACTIVE)).toContain("<target dev='hdc' bus='ide'/>");

    await lv.domainUpdateDevice(dom, cdrom("hdc", fx.mediaPath), Impact.CONFIG);
    xml = await vsh("dumpxml", "--inactive", name);
    expect(xml).toMatch(new RegExp(`<source file='${fx.mediaPath}'/>\\s*<target dev='hdc'`));
    expect(await vsh("domblklist", "--inactive", name)).toMatch(new RegExp(`hdc\\s+${fx.mediaPath}`));
    // the interface of the definition is there too
    expect(xml).toContain(`<mac address='${mac}'/>`);
    expect(xml).toContain(`<source network='${fx.net}'/>`);
  });

  test("domainSetMetadata / domainGetMetadata (ELEMENT under a namespace) agree with virsh metadata", async () => {
    await lv.domainSetMetadata(dom, meta.uri, meta.key, `<stack name="dev"><owner>test</owner></stack>`, Impact.CONFIG);
    const viaVirsh = await vsh("metadata", name, meta.uri, "--config");
    expect(viaVirsh).toMatch(/^<stack name="dev">\s*<owner>test<\/owner>\s*<\/stack>\s*$/);
    const got = await lv.domainGetMetadata(dom, meta.uri, Impact.CONFIG);
    expect(got).toMatch(/^<stack name="dev">\s*<owner>test<\/owner>\s*<\/stack>$/);
    expect(got.trim()).toBe(viaVirsh.trim());
    // in the definition it sits under the key as namespace prefix
    expect(await vsh("dumpxml", "--inactive", name)).toContain(`<plt:stack xmlns:plt="${meta.uri}" name="dev">`);

    // virsh sets, we read
    const uri2 = "https://example.org/pulumi-libvirt/other";
    await vsh("metadata", name, uri2, "--key", "o", "--set", "<thing id='7'/>", "--config");
    expect(await lv.domainGetMetadata(dom, uri2, Impact.CONFIG)).toMatch(/^<thing id=["']7["']\/>$/);

    // undefined removes it; reading then fails with NO_DOMAIN_METADATA
    await lv.domainSetMetadata(dom, uri2, "o", undefined, Impact.CONFIG);
    const e = await rejection(lv.domainGetMetadata(dom, uri2, Impact.CONFIG));
    expect(e.code).toBe(VIR_ERR_NO_DOMAIN_METADATA);
    expect(await vsh("dumpxml", "--inactive", name)).not.toContain(uri2);
  });

  test("domainSetDescription sets and removes <description> (CONFIG), as virsh desc reads it", async () => {
    await lv.domainSetDescription(dom, "made by pulumi-libvirt's tests", Impact.CONFIG);
    expect((await vsh("desc", name, "--config")).trim()).toBe("made by pulumi-libvirt's tests");
    expect(await lv.domainGetXmlDesc(dom, DomainXmlFlags.INACTIVE)).toContain("<description>made by pulumi-libvirt&apos;s tests</description>");
    await lv.domainSetDescription(dom, undefined, Impact.CONFIG);
    expect(await lv.domainGetXmlDesc(dom, DomainXmlFlags.INACTIVE)).not.toContain("<description>");
  });

  test("onDomainLifecycle subscribes (all domains, and one domain): a redefinition arrives as DEFINED on both", async () => {
    unsubscribeAll = await lv.onDomainLifecycle((e) => events.push(e));
    unsubscribeOne = await lv.onDomainLifecycle((e) => filtered.push(e), dom);
    dom = await lv.domainDefineXml(await lv.domainGetXmlDesc(dom, DomainXmlFlags.INACTIVE | DomainXmlFlags.SECURE)); // as it is
    await waitFor(() => seen(events, DomainEventType.DEFINED), "DEFINED event");
    await waitFor(() => seen(filtered, DomainEventType.DEFINED), "DEFINED event (domain filter)");
  });

  test("domainCreate starts it: STARTED event, virsh domstate running", async () => {
    const started = await lv.domainCreate(dom);
    expect(started.name).toBe(name);
    expect(started.id).toBeGreaterThan(0);
    dom = started;
    expect((await vsh("domstate", name)).trim()).toBe("running");
    expect(await lv.domainIsActive(dom)).toBe(true);
    expect(await lv.domainGetState(dom)).toEqual({ state: DomainState.RUNNING, reason: 1 /* BOOTED */ });
    await waitFor(() => seen(events, DomainEventType.STARTED), "STARTED event");
    await waitFor(() => seen(filtered, DomainEventType.STARTED), "STARTED event (domain filter)");
    expect(filtered.every((e) => e.dom.name === name)).toBe(true);
    expect(fields(await vsh("dominfo", name))["Id"]).toBe(String(started.id));
  });

  test("domainGetInfo / domainGetVcpus / domainGetXmlDesc of the running domain", async () => {
    const info = await lv.domainGetInfo(dom);
    expect(info.state).toBe(DomainState.RUNNING);
    expect(info.maxMem).toBe(122880);
    expect(info.nrVirtCpu).toBe(1);
    await waitFor(async () => (await lv.domainGetInfo(dom)).cpuTime > 0, "cpu time to accrue");
    expect(await lv.domainGetVcpus(dom, Impact.LIVE)).toBe(1);
    expect(await lv.domainGetVcpus(dom, VcpuFlags.MAXIMUM | VcpuFlags.LIVE)).toBe(2);
    const live = await lv.domainGetXmlDesc(dom);
    expect(live).toMatch(new RegExp(`<domain type='qemu' id='${dom.id}'`));
    expect(live).toContain("<alias name='balloon0'/>");
  });

  test("domainSetMemory LIVE asks the balloon (a BIOS-only guest has no driver to obey)", async () => {
    await lv.domainSetMemory(dom, 65536, MemoryFlags.LIVE);
    // QEMU accepted the balloon target, but with no guest driver nothing moves: the live
    // <currentMemory> is what the balloon device reports, which for a BIOS-only guest stays the
    // whole of its RAM. So assert the call and that our view agrees with virsh's.
    // (the balloon may still report asynchronously: compare once two reads agree)
    let cur = 0;
    await waitFor(async () => {
      const fromXml = Number(/<currentMemory unit='KiB'>(\d+)</.exec(await lv.domainGetXmlDesc(dom))![1]);
      const fromVirsh = fields(await vsh("dominfo", name))["Used memory"];
      cur = (await lv.domainGetInfo(dom)).memory;
      return fromXml === cur && fromVirsh === `${cur} KiB`;
    }, "our live memory to agree with virsh dominfo", 10_000);
    expect([65536, 98304, 122880]).toContain(cur);
    // above the maximum is refused
    const e = await rejection(lv.domainSetMemory(dom, 1048576, MemoryFlags.LIVE));
    expect(e.code).toBe(ErrorCode.INVALID_ARG);
    // the definition is untouched by LIVE
    expect(await vsh("dumpxml", "--inactive", name)).toContain("<currentMemory unit='KiB'>98304</currentMemory>");
  });

  test("domainSuspend / domainResume: PAUSED then RUNNING, with events", async () => {
    await lv.domainSuspend(dom);
    expect((await lv.domainGetState(dom)).state).toBe(DomainState.PAUSED);
    expect((await vsh("domstate", name)).trim()).toBe("paused");
    await waitFor(() => seen(events, DomainEventType.SUSPENDED), "SUSPENDED event");
    await lv.domainResume(dom);
    expect((await lv.domainGetState(dom)).state).toBe(DomainState.RUNNING);
    expect((await vsh("domstate", name)).trim()).toBe("running");
    await waitFor(() => seen(events, DomainEventType.RESUMED), "RESUMED event");
  });

  test("domainReboot and domainShutdown (ACPI) are accepted; the BIOS ignores them", async () => {
    await lv.domainReboot(dom);
    await lv.domainShutdown(dom);
    await new Promise((r) => setTimeout(r, 500));
    expect(await lv.domainIsActive(dom)).toBe(true);
    expect((await vsh("domstate", name)).trim()).toBe("running");
  });

  test("domainUpdateDevice LIVE ejects the cdrom media of the running domain", async () => {
    await lv.domainUpdateDevice(dom, "<disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>", Impact.LIVE);
    expect(await vsh("domblklist", name)).toMatch(/hdc\s+-/);
    // config keeps the media
    expect(await vsh("domblklist", "--inactive", name)).toMatch(new RegExp(`hdc\\s+${fx.mediaPath}`));
  });

  test("domainInterfaceAddresses (LEASE) of a guest without a lease is []; so are the network's leases", async () => {
    expect(await lv.domainInterfaceAddresses(dom, InterfaceAddressSource.LEASE)).toEqual([]);
    expect((await vsh("domifaddr", name, "--source", "lease")).trim()).toBe("");
    const net = await lv.networkLookupByName(fx.net);
    expect(await lv.networkGetDhcpLeases(net)).toEqual([]);
    expect(await lv.networkGetDhcpLeases(net, mac)).toEqual([]);
    expect((await vsh("net-dhcp-leases", fx.net)).trim()).toBe("");
    // the interface is there, live
    expect(await vsh("domiflist", name)).toContain(mac);
  });

  test("domainBlockResize grows the running qcow2 disk (KiB, then BYTES)", async () => {
    await lv.domainBlockResize(dom, "vda", 32 * 1024);
    expect(fields(await vsh("domblkinfo", name, "vda"))["Capacity"]).toBe(String(32 * MiB));
    await lv.domainBlockResize(dom, "vda", 48 * MiB, 1 /* VIR_DOMAIN_BLOCK_RESIZE_BYTES */);
    expect(fields(await vsh("domblkinfo", name, "vda"))["Capacity"]).toBe(String(48 * MiB));
    const e = await rejection(lv.domainBlockResize(dom, "vdz", 64 * 1024));
    expect(e.message).toMatch(/vdz/);
  });

  test("domainDestroy (GRACEFUL) stops it: STOPPED event, virsh domstate shut off", async () => {
    await lv.domainDestroy(dom, DomainDestroyFlags.GRACEFUL);
    expect((await vsh("domstate", name)).trim()).toBe("shut off");
    expect(await lv.domainIsActive(dom)).toBe(false);
    await waitFor(() => seen(events, DomainEventType.STOPPED), "STOPPED event");
    await waitFor(() => seen(filtered, DomainEventType.STOPPED), "STOPPED event (domain filter)");
    // the disk kept its new size
    expect(fields(await vsh("vol-info", "--bytes", "--pool", fx.pool, fx.disk))["Capacity"]).toBe(`${48 * MiB} bytes`);
  });

  test("domainDetachDevice with CONFIG removes the cdrom from the definition", async () => {
    await lv.domainDetachDevice(dom, cdrom("hdc", fx.mediaPath), Impact.CONFIG);
    const xml = await vsh("dumpxml", "--inactive", name);
    expect(xml).not.toContain("device='cdrom'");
    expect(xml).not.toContain("<target dev='hdc'");
    expect(xml).toContain("<target dev='vda' bus='virtio'/>");
  });

  test("domainManagedSave / domainHasManagedSaveImage / domainManagedSaveRemove", async () => {
    await lv.domainCreate(dom, DomainCreateFlags.START_PAUSED);
    expect((await lv.domainGetState(dom)).state).toBe(DomainState.PAUSED);
    expect(await lv.domainHasManagedSaveImage(dom)).toBe(false);
    const before = events.length;
    await lv.domainManagedSave(dom);
    expect(await lv.domainIsActive(dom)).toBe(false);
    expect(await lv.domainHasManagedSaveImage(dom)).toBe(true);
    expect(fields(await vsh("dominfo", name))["Managed save"]).toBe("yes");
    expect((await vsh("domstate", name)).trim()).toBe("shut off");
    await waitFor(() => events.slice(before).some((e) => e.dom.name === name && e.event === DomainEventType.STOPPED && e.detail === 4 /* SAVED */),
      "STOPPED/SAVED event");

    // undefining without MANAGED_SAVE is refused while the image exists
    const refused = await rejection(lv.domainUndefine(dom));
    expect(refused.code).toBe(ErrorCode.OPERATION_INVALID);

    await lv.domainManagedSaveRemove(dom);
    expect(await lv.domainHasManagedSaveImage(dom)).toBe(false);
    expect(fields(await vsh("dominfo", name))["Managed save"]).toBe("no");
  });

  test("unsubscribing stops delivery; the other subscription still gets DEFINED", async () => {
    await unsubscribeAll!();
    unsubscribeAll = undefined;
    const before = events.length;
    const beforeFiltered = filtered.length;
    await lv.domainDefineXml(await lv.domainGetXmlDesc(dom, DomainXmlFlags.INACTIVE)); // emits DEFINED/UPDATED
    await waitFor(() => filtered.slice(beforeFiltered).some((e) => e.event === DomainEventType.DEFINED), "DEFINED event");
    await new Promise((r) => setTimeout(r, 300));
    expect(events.length).toBe(before);
    await unsubscribeOne!();
    unsubscribeOne = undefined;
  });

  test("snapshots: create / list / lookup / getXmlDesc / revert / delete, cross-checked with virsh", async () => {
    // an internal snapshot of a shut off domain (qemu-img snapshot on its qcow2 disk)
    const s1 = await lv.domainSnapshotCreate(dom, "<domainsnapshot><name>s1</name><description>first</description></domainsnapshot>");
    expect(s1.name).toBe("s1");
    expect(s1.dom.name).toBe(name);
    expect((await vsh("snapshot-list", name, "--name")).trim()).toBe("s1");
    expect(execFileSync("qemu-img", ["snapshot", "-U", "-l", fx.diskPath], { encoding: "utf8" })).toContain("s1");

    // virsh creates, we read
    await vsh("snapshot-create-as", name, "s2", "second");
    const list = await lv.domainListSnapshots(dom);
    expect(list.map((s) => s.name).sort()).toEqual(["s1", "s2"]);
    const s2 = await lv.domainSnapshotLookupByName(dom, "s2");
    expect(s2).toEqual({ name: "s2", dom: expect.objectContaining({ name, uuid: dom.uuid }) });
    const xml2 = await lv.domainSnapshotGetXmlDesc(s2);
    expect(xml2).toContain("<name>s2</name>");
    expect(xml2).toContain("<description>second</description>");
    expect(xml2).toContain("<state>shutoff</state>");
    expect(xml2).toMatch(/<parent>\s*<name>s1<\/name>/);
    expect(await lv.domainSnapshotGetXmlDesc(s1)).toBe(await vsh("snapshot-dumpxml", name, "s1"));

    await lv.domainRevertToSnapshot(s1);
    expect((await vsh("snapshot-current", name, "--name")).trim()).toBe("s1");
    expect((await vsh("domstate", name)).trim()).toBe("shut off");

    await lv.domainSnapshotDelete(s2);
    expect((await vsh("snapshot-list", name, "--name")).trim()).toBe("s1");
    expect(isNotFound(await rejection(lv.domainSnapshotLookupByName(dom, "s2")))).toBe(true);

    // a snapshot created with flags: NO_METADATA leaves nothing for libvirt to list
    const s3 = await lv.domainSnapshotCreate(dom, "<domainsnapshot><name>s3</name></domainsnapshot>", SnapshotCreateFlags.NO_METADATA);
    expect(s3.name).toBe("s3");
    expect((await vsh("snapshot-list", name, "--name")).trim()).toBe("s1");
    // deleting with CHILDREN removes s1 and anything below it
    await lv.domainSnapshotDelete(s1, SnapshotDeleteFlags.CHILDREN);
    expect((await vsh("snapshot-list", name, "--name")).trim()).toBe("");
    // s1 again, to undefine with SNAPSHOTS_METADATA below
    await lv.domainSnapshotCreate(dom, "<domainsnapshot><name>s1</name></domainsnapshot>");
  });

  test("domainUndefine with flags removes it (snapshot metadata too)", async () => {
    const refused = await rejection(lv.domainUndefine(dom));
    expect(refused.code).toBe(ErrorCode.OPERATION_INVALID);
    expect(refused.message).toMatch(/snapshot/);
    await lv.domainUndefine(dom, DomainUndefineFlags.SNAPSHOTS_METADATA | DomainUndefineFlags.MANAGED_SAVE);
    expect(await vshFails("dominfo", name)).toBe(true);
    expect(isNotFound(await rejection(lv.domainLookupByName(name)))).toBe(true);
  });

  test("a domain virsh defines, our client reads and undefines", async () => {
    domains.push(other);
    await vsh("define", xmlFile(`<domain type='qemu'><name>${other}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
      <os><type arch='x86_64' machine='pc'>hvm</type></os><description>made by virsh</description></domain>`));
    const d = await lv.domainLookupByName(other);
    expect(uuidString(d.uuid)).toBe((await vsh("domuuid", other)).trim());
    expect(await lv.domainGetXmlDesc(d)).toContain("<description>made by virsh</description>");
    expect(await lv.domainGetInfo(d)).toMatchObject({ state: DomainState.SHUTOFF, maxMem: 65536, nrVirtCpu: 1 });
    expect(await lv.domainIsPersistent(d)).toBe(true);
    await lv.domainUndefine(d);
    expect(await vshFails("dominfo", other)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------

describe("network", () => {
  const name = uniqueName("net");
  let subnet = "";
  let net: NetworkRef;
  const host = () => `<host mac='52:54:00:12:34:56' name='plt-host' ip='${subnet}.50'/>`;

  test("networkDefineXml defines an isolated network virsh reads back", async () => {
    networks.push(name);
    subnet = freeSubnet();
    net = await lv.networkDefineXml(networkXml(name, subnet));
    expect(net.name).toBe(name);
    const xml = await vsh("net-dumpxml", name);
    expect(xml).toContain(`<ip address='${subnet}.1' netmask='255.255.255.0'>`);
    expect(xml).toContain(`<range start='${subnet}.100' end='${subnet}.200'`);
    expect(xml).not.toContain("<forward");
    expect((await vsh("net-uuid", name)).trim()).toBe(uuidString(net.uuid));
    expect(fields(await vsh("net-info", name))["Active"]).toBe("no");
  });

  test("networkLookupByName / ByUuid, networkIsActive", async () => {
    expect(await lv.networkLookupByName(name)).toEqual(net);
    expect(await lv.networkLookupByUuid(uuidString(net.uuid))).toEqual(net);
    expect(await lv.networkLookupByUuid(net.uuid)).toEqual(net);
    expect(await lv.networkIsActive(net)).toBe(false);
  });

  test("networkCreate starts it; networkGetBridgeName matches virsh net-info", async () => {
    await lv.networkCreate(net);
    expect(await lv.networkIsActive(net)).toBe(true);
    const info = fields(await vsh("net-info", name));
    expect(info["Active"]).toBe("yes");
    expect(await lv.networkGetBridgeName(net)).toBe(bridgeFor(name));
    expect(info["Bridge"]).toBe(bridgeFor(name));
  });

  test("networkGetXmlDesc, live and INACTIVE, equals virsh net-dumpxml", async () => {
    expect(await lv.networkGetXmlDesc(net)).toBe(await vsh("net-dumpxml", name));
    expect(await lv.networkGetXmlDesc(net, NetworkXmlFlags.INACTIVE)).toBe(await vsh("net-dumpxml", "--inactive", name));
  });

  test("networkSetAutostart / networkGetAutostart agree with virsh net-info", async () => {
    expect(await lv.networkGetAutostart(net)).toBe(false);
    await lv.networkSetAutostart(net, true);
    expect(fields(await vsh("net-info", name))["Autostart"]).toBe("yes");
    expect(await lv.networkGetAutostart(net)).toBe(true);
    await vsh("net-autostart", name, "--disable");
    expect(await lv.networkGetAutostart(net)).toBe(false);
  });

  test("networkUpdate adds and deletes an ip-dhcp-host, live and config", async () => {
    const flags = NetworkUpdateFlags.LIVE | NetworkUpdateFlags.CONFIG;
    await lv.networkUpdate(net, NetworkUpdateCommand.ADD_LAST, NetworkUpdateSection.IP_DHCP_HOST, host(), flags);
    expect(await vsh("net-dumpxml", name)).toContain(host());
    expect(await vsh("net-dumpxml", "--inactive", name)).toContain(host());
    // dnsmasq got it too
    const hostsFile = `/var/lib/libvirt/dnsmasq/${name}.hostsfile`;
    expect(readFileSync(hostsFile, "utf8")).toContain(`52:54:00:12:34:56,${subnet}.50,plt-host`);

    await lv.networkUpdate(net, NetworkUpdateCommand.DELETE, NetworkUpdateSection.IP_DHCP_HOST, host(), flags);
    expect(await vsh("net-dumpxml", name)).not.toContain("plt-host");
    expect(await vsh("net-dumpxml", "--inactive", name)).not.toContain("plt-host");

    // virsh updates, we read
    await vsh("net-update", name, "add", "ip-dhcp-host", host(), "--live", "--config");
    expect(await lv.networkGetXmlDesc(net)).toContain(host());
    await lv.networkUpdate(net, NetworkUpdateCommand.DELETE, NetworkUpdateSection.IP_DHCP_HOST, host(), flags, 0);
    expect(await lv.networkGetXmlDesc(net, NetworkXmlFlags.INACTIVE)).not.toContain("plt-host");
  });

  test("networkGetDhcpLeases of a network with no guests is []", async () => {
    expect(await lv.networkGetDhcpLeases(net)).toEqual([]);
    expect((await vsh("net-dhcp-leases", name)).trim()).toBe("");
  });

  test("networkDestroy / networkUndefine", async () => {
    await lv.networkDestroy(net);
    expect(await lv.networkIsActive(net)).toBe(false);
    expect(fields(await vsh("net-info", name))["Active"]).toBe("no");
    await lv.networkUndefine(net);
    expect(await vshFails("net-info", name)).toBe(true);
    expect(isNotFound(await rejection(lv.networkLookupByName(name)))).toBe(true);
  });

  test("a network virsh defines, our client reads", async () => {
    const net2 = await lv.networkLookupByName(fx.net);
    expect(await lv.networkIsActive(net2)).toBe(true);
    expect(await lv.networkGetXmlDesc(net2)).toContain(`<ip address='${fx.subnet}.1'`);
    expect(await lv.networkGetBridgeName(net2)).toBe(fields(await vsh("net-info", fx.net))["Bridge"]);
  });
});

// ---------------------------------------------------------------------------------------------

describe("storage pool and volumes", () => {
  const name = uniqueName("pool");
  const dir = `${IMAGES}/${name}`;
  let pool: StoragePoolRef;
  let raw: StorageVolRef;
  let qcow: StorageVolRef;
  let clone: StorageVolRef;
  const payload = randomBytes(300 * 1024 + 17); // crosses the 256 KiB stream chunk

  const volInfo = async (vol: string) => fields(await vsh("vol-info", "--bytes", "--pool", name, vol));
  // virsh 9.0's vol-list has no --name: the first column is the name
  const volNames = async () => (await vsh("vol-list", "--pool", name)).split("\n").map((s) => s.trim().split(/\s+/)[0]).filter(Boolean);

  test("storagePoolDefineXml defines a dir pool; virsh pool-info sees it inactive", async () => {
    pools.push(name);
    pool = await lv.storagePoolDefineXml(dirPoolXml(name));
    expect(pool.name).toBe(name);
    const info = fields(await vsh("pool-info", name));
    expect(info["State"]).toBe("inactive");
    expect(info["Persistent"]).toBe("yes");
    expect(info["UUID"]).toBe(uuidString(pool.uuid));
    expect(await lv.storagePoolIsActive(pool)).toBe(false);
    expect(existsSync(dir)).toBe(false);
  });

  test("storagePoolLookupByName / ByUuid", async () => {
    expect(await lv.storagePoolLookupByName(name)).toEqual(pool);
    expect(await lv.storagePoolLookupByUuid(uuidString(pool.uuid))).toEqual(pool);
    expect(await lv.storagePoolLookupByUuid(pool.uuid)).toEqual(pool);
  });

  test("storagePoolBuild creates the directory; storagePoolCreate starts the pool", async () => {
    await lv.storagePoolBuild(pool, PoolBuildFlags.NEW);
    expect(existsSync(dir)).toBe(true);
    await lv.storagePoolCreate(pool);
    expect(await lv.storagePoolIsActive(pool)).toBe(true);
    expect(fields(await vsh("pool-info", name))["State"]).toBe("running");
  });

  test("storagePoolGetInfo and storagePoolGetXmlDesc match virsh", async () => {
    const info = await lv.storagePoolGetInfo(pool);
    expect(info.state).toBe(PoolState.RUNNING);
    const ref = await vsh("pool-dumpxml", name);
    expect(info.capacity).toBe(Number(tagText(ref, "capacity")));
    expect(info.capacity).toBeGreaterThan(0);
    expect(info.available).toBeGreaterThan(0);
    expect(info.available).toBeLessThanOrEqual(info.capacity);
    const xml = await lv.storagePoolGetXmlDesc(pool);
    expect(xml).toContain(`<path>${dir}</path>`);
    expect(xml).toContain(`<name>${name}</name>`);
    expect(await lv.storagePoolGetXmlDesc(pool, PoolXmlFlags.INACTIVE)).toBe(await vsh("pool-dumpxml", "--inactive", name));
  });

  test("storagePoolSetAutostart / storagePoolGetAutostart agree with virsh pool-info", async () => {
    expect(await lv.storagePoolGetAutostart(pool)).toBe(false);
    await lv.storagePoolSetAutostart(pool, true);
    expect(fields(await vsh("pool-info", name))["Autostart"]).toBe("yes");
    expect(await lv.storagePoolGetAutostart(pool)).toBe(true);
    await vsh("pool-autostart", name, "--disable");
    expect(await lv.storagePoolGetAutostart(pool)).toBe(false);
  });

  test("storageVolCreateXml: a raw volume", async () => {
    raw = await lv.storageVolCreateXml(pool, volXml("r.raw", MiB, "raw"));
    expect(raw).toEqual({ pool: name, name: "r.raw", key: `${dir}/r.raw` });
    expect((await volInfo("r.raw"))["Capacity"]).toBe(`${MiB} bytes`);
    expect(await vsh("vol-dumpxml", "--pool", name, "r.raw")).toContain("<format type='raw'/>");
    expect(await lv.storageVolGetInfo(raw)).toMatchObject({ type: VolType.FILE, capacity: MiB });
  });

  test("storageVolCreateXml: a qcow2 volume", async () => {
    qcow = await lv.storageVolCreateXml(pool, volXml("q.qcow2", 8 * MiB, "qcow2"));
    expect(await vsh("vol-dumpxml", "--pool", name, "q.qcow2")).toContain("<format type='qcow2'/>");
    const img = JSON.parse(execFileSync("qemu-img", ["info", "-U", "--output=json", `${dir}/q.qcow2`], { encoding: "utf8" }));
    expect(img.format).toBe("qcow2");
    expect(img["virtual-size"]).toBe(8 * MiB);
    const info = await lv.storageVolGetInfo(qcow);
    expect(info.capacity).toBe(8 * MiB);
    expect(info.allocation).toBeLessThan(8 * MiB);
  });

  test("storageVolUpload / storageVolDownload round-trip (and virsh reads what we wrote)", async () => {
    const sent = await lv.storageVolUpload(raw, Readable.from([payload]));
    expect(sent).toBe(payload.length);
    const { bytes, data } = await collect((w) => lv.storageVolDownload(raw, w, { length: payload.length }));
    expect(bytes).toBe(payload.length);
    expect(data.equals(payload)).toBe(true);
    // virsh downloads the same bytes
    const file = join(scratch, "vd.bin");
    await vsh("vol-download", "--pool", name, "r.raw", file, "--length", String(payload.length));
    expect(readFileSync(file).equals(payload)).toBe(true);
    // offset/length
    const part = await collect((w) => lv.storageVolDownload(raw, w, { offset: 1000, length: 5000 }));
    expect(part.data.equals(payload.subarray(1000, 6000))).toBe(true);
  });

  test("virsh vol-upload writes, our storageVolDownload reads it", async () => {
    const other = randomBytes(70_000);
    const file = join(scratch, "vu.bin");
    writeFileSync(file, other);
    await vsh("vol-upload", "--pool", name, "r.raw", file, "--offset", "4096");
    const { data } = await collect((w) => lv.storageVolDownload(raw, w, { offset: 4096, length: other.length }));
    expect(data.equals(other)).toBe(true);
  });

  test("storageVolCreateXmlFrom clones a volume; virsh vol-list sees it; contents equal", async () => {
    clone = await lv.storageVolCreateXmlFrom(pool, volXml("c.raw", MiB, "raw"), raw);
    expect(clone.name).toBe("c.raw");
    expect(await volNames()).toContain("c.raw");
    expect(readFileSync(`${dir}/c.raw`).equals(readFileSync(`${dir}/r.raw`))).toBe(true);
  });

  test("storageVolLookupByName / ByKey / ByPath, storageVolGetPath, storagePoolLookupByVolume", async () => {
    expect(await lv.storageVolLookupByName(pool, "c.raw")).toEqual(clone);
    expect(await lv.storageVolLookupByKey(clone.key)).toEqual(clone);
    const path = (await vsh("vol-path", "--pool", name, "c.raw")).trim();
    expect(await lv.storageVolLookupByPath(path)).toEqual(clone);
    expect(await lv.storageVolGetPath(clone)).toBe(path);
    expect((await vsh("vol-key", "--pool", name, "c.raw")).trim()).toBe(clone.key);
    expect(await lv.storagePoolLookupByVolume(clone)).toEqual(pool);
    // volumes of the fixture pool (made by virsh) too
    const disk = await lv.storageVolLookupByPath(fx.diskPath);
    expect(disk.name).toBe(fx.disk);
    expect(disk.pool).toBe(fx.pool);
  });

  test("storageVolGetXmlDesc equals virsh vol-dumpxml", async () => {
    const xml = await lv.storageVolGetXmlDesc(qcow);
    expect(xml.trim()).toBe((await vsh("vol-dumpxml", "--pool", name, "q.qcow2")).trim());
    expect(xml).toContain("<name>q.qcow2</name>");
    expect(xml).toContain(`<path>${dir}/q.qcow2</path>`);
    expect(xml).toContain(`<capacity unit='bytes'>${8 * MiB}</capacity>`);
  });

  test("storagePoolRefresh picks up a file dropped into the directory; storagePoolListVolumes lists it", async () => {
    writeFileSync(`${dir}/dropped.img`, Buffer.alloc(4096, 1));
    expect((await lv.storagePoolListVolumes(pool)).map((v) => v.name)).not.toContain("dropped.img");
    await lv.storagePoolRefresh(pool);
    const vols = await lv.storagePoolListVolumes(pool);
    expect(vols.map((v) => v.name).sort()).toEqual(["c.raw", "dropped.img", "q.qcow2", "r.raw"]);
    expect(vols.map((v) => v.name).sort()).toEqual((await volNames()).sort());
    expect(vols.every((v) => v.pool === name)).toBe(true);
  });

  test("storageVolWipe zeroes the volume", async () => {
    expect(readFileSync(`${dir}/c.raw`).some((b) => b !== 0)).toBe(true);
    await lv.storageVolWipe(clone);
    const after = readFileSync(`${dir}/c.raw`);
    expect(after.length).toBe(MiB);
    expect(after.every((b) => b === 0)).toBe(true);
  });

  test("storageVolResize grows it (absolute, then DELTA); virsh vol-info shows the capacity", async () => {
    await lv.storageVolResize(raw, 2 * MiB);
    expect((await volInfo("r.raw"))["Capacity"]).toBe(`${2 * MiB} bytes`);
    await lv.storageVolResize(raw, MiB, VolResizeFlags.DELTA);
    expect((await volInfo("r.raw"))["Capacity"]).toBe(`${3 * MiB} bytes`);
    expect((await lv.storageVolGetInfo(raw)).capacity).toBe(3 * MiB);
    const shrink = await rejection(lv.storageVolResize(raw, MiB));
    expect(shrink.message).toMatch(/shrink/i);
  });

  test("storageVolDelete removes each volume", async () => {
    for (const v of await lv.storagePoolListVolumes(pool)) await lv.storageVolDelete(v);
    expect(await volNames()).toEqual([]);
    expect(isNotFound(await rejection(lv.storageVolLookupByName(pool, "r.raw")))).toBe(true);
  });

  test("storagePoolDestroy / storagePoolDelete (removes the built directory) / storagePoolUndefine", async () => {
    await lv.storagePoolDestroy(pool);
    expect(await lv.storagePoolIsActive(pool)).toBe(false);
    expect(fields(await vsh("pool-info", name))["State"]).toBe("inactive");
    expect(existsSync(dir)).toBe(true);
    await lv.storagePoolDelete(pool, PoolDeleteFlags.NORMAL);
    expect(existsSync(dir)).toBe(false);
    await lv.storagePoolUndefine(pool);
    expect(await vshFails("pool-info", name)).toBe(true);
    expect(isNotFound(await rejection(lv.storagePoolLookupByName(name)))).toBe(true);
  });

  test("a pool and volumes virsh defines, our client reads", async () => {
    const p = await lv.storagePoolLookupByName(fx.pool);
    expect(await lv.storagePoolIsActive(p)).toBe(true);
    const names = (await lv.storagePoolListVolumes(p)).map((v) => v.name).sort();
    expect(names).toEqual([fx.disk, fx.media].sort());
    const media = await lv.storageVolLookupByName(p, fx.media);
    expect(await lv.storageVolGetPath(media)).toBe(fx.mediaPath);
    expect((await lv.storageVolGetInfo(media)).capacity).toBe(MiB);
  });
});

// ---------------------------------------------------------------------------------------------

describe("errors", () => {
  const missing = uniqueName("missing");

  test("isNotFound for a missing object of each kind, with libvirt's code, domain and message", async () => {
    const dom = await rejection(lv.domainLookupByName(missing));
    expect(isNotFound(dom)).toBe(true);
    expect(dom.code).toBe(ErrorCode.NO_DOMAIN);
    expect(dom.domain).toBeGreaterThan(0);
    expect(dom.message).toContain(missing);
    expect(isNotFound(await rejection(lv.domainLookupByUuid(randomBytes(16))))).toBe(true);

    const net = await rejection(lv.networkLookupByName(missing));
    expect(isNotFound(net)).toBe(true);
    expect(net.code).toBe(ErrorCode.NO_NETWORK);
    expect(net.message).toContain(missing);
    expect(isNotFound(await rejection(lv.networkLookupByUuid(randomBytes(16))))).toBe(true);

    const pool = await rejection(lv.storagePoolLookupByName(missing));
    expect(isNotFound(pool)).toBe(true);
    expect(pool.code).toBe(ErrorCode.NO_STORAGE_POOL);
    expect(pool.message).toContain(missing);
    expect(isNotFound(await rejection(lv.storagePoolLookupByUuid(randomBytes(16))))).toBe(true);

    const fxPool = await lv.storagePoolLookupByName(fx.pool);
    for (const call of [
      () => lv.storageVolLookupByName(fxPool, missing),
      () => lv.storageVolLookupByKey(`/nonexistent/${missing}`),
      () => lv.storageVolLookupByPath(`/nonexistent/${missing}`),
    ]) {
      const e = await rejection(call());
      expect(isNotFound(e)).toBe(true);
      expect(e.code).toBe(ErrorCode.NO_STORAGE_VOL);
      expect(e.message).toContain(missing);
    }
  });

  test("isNotFound for a missing snapshot, false for other errors", async () => {
    const name = uniqueName("edom");
    domains.push(name);
    const d = await lv.domainDefineXml(`<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
      <os><type arch='x86_64' machine='pc'>hvm</type></os></domain>`);
    try {
      const e = await rejection(lv.domainSnapshotLookupByName(d, "nope"));
      expect(isNotFound(e)).toBe(true);
      expect(e.code).toBe(ErrorCode.NO_DOMAIN_SNAPSHOT);
      // not "not found": suspending a domain that is not running
      const inv = await rejection(lv.domainSuspend(d));
      expect(inv.code).toBe(ErrorCode.OPERATION_INVALID);
      expect(isNotFound(inv)).toBe(false);
      expect(isConnectionLost(inv)).toBe(false);
      expect(isLibvirtError(inv, ErrorCode.OPERATION_INVALID)).toBe(true);
      const xml = await rejection(lv.domainDefineXml("<domain"));
      expect(xml.code).toBe(VIR_ERR_XML_DETAIL);
      expect(isNotFound(xml)).toBe(false);
    } finally {
      await lv.domainUndefine(d).catch(() => virshQuiet("undefine", name));
    }
    // the connection survives all of these
    expect(await lv.getType()).toBe("QEMU");
  });

  test("client-side argument errors are LibvirtErrors too", async () => {
    const e = await rejection(lv.domainLookupByUuid("not-a-uuid"));
    expect(e.code).toBe(ErrorCode.INVALID_ARG);
    expect(e.name).toBe("LibvirtError");
  });

  test("a socket that does not exist gives NO_CONNECT naming the socket and how to start the daemon", async () => {
    const e = await rejection(Libvirt.connect("qemu:///system?socket=/tmp/nope.sock"));
    expect(e.code).toBe(ErrorCode.NO_CONNECT);
    expect(isConnectionLost(e)).toBe(true);
    expect(e.message).toContain("/tmp/nope.sock");
    expect(e.message).toMatch(/start the daemon/);
    expect(e.message).toMatch(/libvirtd -d|systemctl start libvirtd/);
  });
});
