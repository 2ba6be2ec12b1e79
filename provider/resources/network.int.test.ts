/**
 * Network against the real daemon, one block per row of the field table, plus the test guest
 * (test/guest) for leases, live reservations and reconnection after a restart.
 *
 * Networks are isolated (no <forward>) unless the row is about the mode itself, on random
 * 10.x.y.0/24 subnets that no host route or libvirt network uses; names are unique per run and
 * everything is removed in afterAll, also after failures. The guest only does DHCP.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { checked, closeProviderConnections, revive, Revived } from "../../test/provider";
import { rowTest } from "../../test/rows";
import { TEST_URI, uniqueName, virsh, virshQuiet } from "../../test/util";

jest.setTimeout(120_000);

let p: Revived;
const networks: string[] = [];
const hostBridges: string[] = [];
const domains: string[] = [];
const dirs: string[] = [];

/**
 * Progress lines of the revived provider. It runs from bin/ outside jest's module registry, so
 * its lines are taken where they go: process.stderr, which both share.
 */
const said: string[] = [];
const stderrWrite = process.stderr.write;

beforeAll(async () => {
  p = await revive("Network", { "libvirt:uri": TEST_URI });
  process.stderr.write = ((chunk: any, ...rest: any[]) => {
    const text = String(chunk);
    if (text.startsWith("pulumi-libvirt: ")) {
      said.push(text.slice(16).trimEnd());
      return true;
    }
    return (stderrWrite as any).call(process.stderr, chunk, ...rest);
  }) as typeof process.stderr.write;
});

/** Stop a (transient) test domain, retrying: the shared daemon may be busy or restarting. */
async function destroyDomain(name: string): Promise<void> {
  for (let attempt = 1; attempt <= 5; attempt++) {
    try {
      await sh("virsh", ["-q", "-c", TEST_URI, "destroy", name], 60_000);
    } catch {
      // not running, or the daemon did not answer: check below
    }
    const listed = await sh("virsh", ["-q", "-c", TEST_URI, "list", "--all", "--name"], 60_000).catch(() => undefined);
    if (listed !== undefined && !listed.split("\n").map((l) => l.trim()).includes(name)) return;
    await sleep(2000 * attempt);
  }
  console.warn(`could not destroy test domain ${name}: remove it with virsh destroy ${name}`);
}

afterAll(async () => {
  process.stderr.write = stderrWrite;
  for (const d of domains) await destroyDomain(d);
  for (const n of networks) {
    virshQuiet("net-destroy", n);
    virshQuiet("net-undefine", n);
  }
  for (const b of hostBridges) await sh("ip", ["link", "del", b]).catch(() => undefined);
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  await closeProviderConnections();
});

function sh(cmd: string, args: string[], timeoutMs = 600_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: "utf8", timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(" ")}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

const hex = (n: number) => randomBytes(n).toString("hex");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** "10.a.b" prefixes in use: host addresses and routes, and every libvirt network's addresses. */
function usedPrefixes(): Set<string> {
  const used = new Set<string>();
  const scan = (text: string) => {
    for (const m of text.matchAll(/\b10\.(\d+)\.(\d+)\.\d+/g)) used.add(`10.${m[1]}.${m[2]}`);
  };
  scan(require("node:child_process").execFileSync("ip", ["-4", "route", "show", "table", "all"], { encoding: "utf8" }));
  for (const n of virsh("net-list", "--all", "--name").split("\n").map((s) => s.trim()).filter(Boolean)) {
    try {
      scan(virsh("net-dumpxml", "--inactive", n));
    } catch {
      // removed meanwhile
    }
  }
  return used;
}

/** A random 198.18.x or 198.19.x (benchmarking space, RFC 2544) with no route on this host or in a libvirt network now. */
function freeRouteNet(): string {
  const routes = require("node:child_process").execFileSync("ip", ["-4", "route", "show", "table", "all"], { encoding: "utf8" })
    + virsh("net-list", "--all", "--name").split("\n").map((s) => s.trim()).filter(Boolean).map((n) => { try { return virsh("net-dumpxml", "--inactive", n); } catch { return ""; } }).join("\n");
  for (;;) {
    const net = `198.${18 + Math.floor(Math.random() * 2)}.${Math.floor(Math.random() * 256)}`;
    if (!routes.includes(`${net}.`)) return net;
  }
}

/** A random 10.x.y (x 64..254) nobody uses now; a clash with a network started meanwhile is retried by createNet. */
function pickSubnet(): string {
  const used = usedPrefixes();
  for (;;) {
    const s = `10.${64 + Math.floor(Math.random() * 191)}.${Math.floor(Math.random() * 256)}`;
    if (!used.has(s)) return s;
  }
}

interface Made {
  id: string;
  outs: any;
  inputs: any;
  name: string;
  net: string;
}

/** Create a network from inputs built for a fresh subnet, retrying when the subnet turns out taken. */
async function createNet(build: (net: string, name: string) => Record<string, unknown>): Promise<Made> {
  for (let attempt = 1; ; attempt++) {
    const net = pickSubnet();
    const name = uniqueName("net");
    const inputs = await checked(p, build(net, name));
    networks.push(name);
    try {
      const { id, outs } = await p.create(inputs);
      return { id, outs, inputs, name, net };
    } catch (e) {
      if (attempt < 5 && /in use|overlap|already exists/i.test(String(e))) continue;
      throw e;
    }
  }
}

const liveXml = (name: string) => virsh("net-dumpxml", name);
const configXml = (name: string) => virsh("net-dumpxml", "--inactive", name);
const dnsmasqPid = (name: string) => fs.readFileSync(`/var/run/libvirt/network/${name}.pid`, "utf8").trim();
/** A recreated bridge gets a new ifindex: the proof of a restart (or of none). */
const ifindex = (bridge: string) => fs.readFileSync(`/sys/class/net/${bridge}/ifindex`, "utf8").trim();
const isActive = (name: string) => /^Active:\s+yes/m.test(virsh("net-info", name));
const autostartOn = (name: string) => /^Autostart:\s+yes/m.test(virsh("net-info", name));

/** update, then a read: the diff against the inputs must be empty. Returns the refreshed outputs. */
async function apply(m: Made, next: Record<string, unknown>): Promise<any> {
  const news = await checked(p, next, m.inputs);
  const d = await p.diff(m.id, m.outs, news);
  expect(d.changes).toBe(true);
  expect(d.replaces).toEqual([]);
  const { outs } = await p.update(m.id, m.outs, news);
  const r = await p.read(m.id, outs);
  expect(await p.diff(m.id, r.props, news)).toEqual({ changes: false });
  m.outs = r.props;
  m.inputs = news;
  return r.props;
}

describe("an isolated network with every field", () => {
  let m: Made;
  const bridge = `pltn${hex(4)}`;
  const domain = `n${hex(3)}.test`;
  const v6 = `fd00:${parseInt(hex(2), 16).toString(16)}:${parseInt(hex(2), 16).toString(16)}`;

  beforeAll(async () => {
    m = await createNet((net, name) => ({
      name, mode: "isolated",
      bridge: { name: bridge, stp: false },
      mtu: 9000,
      domain: { name: domain, localOnly: true },
      ipv4: { address: `${net}.1/24`, dhcpRanges: [{ start: `${net}.100`, end: `${net}.149` }] },
      ipv6: { address: `${v6}::1/64`, dhcpRanges: [{ start: `${v6}::100`, end: `${v6}::1ff` }] },
      dhcpHosts: [{ mac: "52:54:00:5e:00:11", ip: `${net}.11`, hostname: "h11" }, { ip: `${v6}::11`, hostname: "h11" }],
      dns: { forwarders: ["127.0.0.1"] },
      dnsHosts: [{ ip: `${net}.50`, hostnames: ["a", `b.${domain}`] }],
      dnsTxt: [{ name: "t1", value: "v1" }],
      dnsSrv: [{ service: "http", protocol: "tcp", target: `web.${domain}`, port: 80 }],
      routes: [{ destination: `${freeRouteNet()}.0/24`, gateway: `${net}.2` }],
      autostart: false,
    }));
  });

  test("create: libvirt holds every field; outputs", async () => {
    const xml = liveXml(m.name);
    for (const s of [
      `<bridge name='${bridge}' stp='off'`, "<mtu size='9000'/>", `<domain name='${domain}' localOnly='yes'/>`,
      `<ip address='${m.net}.1' prefix='24'>`, `<range start='${m.net}.100' end='${m.net}.149'/>`,
      `<ip family='ipv6' address='${v6}::1' prefix='64'>`, `<host mac='52:54:00:5e:00:11' name='h11' ip='${m.net}.11'/>`,
      `<host name='h11' ip='${v6}::11'/>`, "<forwarder addr='127.0.0.1'/>", `<host ip='${m.net}.50'>`,
      "<txt name='t1' value='v1'/>", `<srv service='http' protocol='tcp' target='web.${domain}' port='80'/>`, `gateway='${m.net}.2'`,
    ]) expect(xml).toContain(s);
    expect(xml).not.toMatch(/<forward[ />]/);
    expect(m.outs).toMatchObject({ uuid: virsh("net-uuid", m.name).trim(), bridgeName: bridge, active: true, leases: [], pendingRestart: [] });
    expect(m.id).toBe(m.outs.uuid);
    expect(isActive(m.name)).toBe(true);
    expect(autostartOn(m.name)).toBe(false);
  });

  test("no changes after create, nor after a read", async () => {
    expect(await p.diff(m.id, m.outs, m.inputs)).toEqual({ changes: false });
    const r = await p.read(m.id, m.outs);
    expect(r.id).toBe(m.id);
    expect(r.inputs).toEqual(Object.fromEntries(Object.entries(m.inputs).filter(([k]) => k !== "uri")));
    expect(await p.diff(m.id, r.props, m.inputs)).toEqual({ changes: false });
  });

  describe("live fields: no restart", () => {
    let pid: string, index: string;
    beforeEach(() => {
      pid = dnsmasqPid(m.name);
      index = ifindex(bridge);
      said.length = 0;
    });
    const noRestart = (samePid = true) => {
      expect(isActive(m.name)).toBe(true);
      expect(ifindex(bridge)).toBe(index);
      if (samePid) expect(dnsmasqPid(m.name)).toBe(pid);
      expect(said.filter((l) => /restart/.test(l))).toEqual([]);
    };
    const both = (s: string, present = true) => {
      for (const xml of [liveXml(m.name), configXml(m.name)]) (present ? expect(xml) : expect(xml).not).toContain(s);
    };

    rowTest("dhcpHosts: add", { Network: ["dhcpHosts"] }, async () => {
      await apply(m, { ...m.inputs, dhcpHosts: [...m.inputs.dhcpHosts, { mac: "52:54:00:5e:00:12", ip: `${m.net}.12`, hostname: "h12" }] });
      both(`<host mac='52:54:00:5e:00:12' name='h12' ip='${m.net}.12'/>`);
      noRestart();
    });

    rowTest("dhcpHosts: modify (address and name)", { Network: ["dhcpHosts"] }, async () => {
      const hosts = m.inputs.dhcpHosts.map((h: any) => (h.mac === "52:54:00:5e:00:12" ? { ...h, ip: `${m.net}.13`, hostname: "h13" } : h));
      await apply(m, { ...m.inputs, dhcpHosts: hosts });
      both(`<host mac='52:54:00:5e:00:12' name='h13' ip='${m.net}.13'/>`);
      both(`ip='${m.net}.12'`, false);
      noRestart();
    });

    rowTest("dhcpHosts: remove (IPv4 and IPv6)", { Network: ["dhcpHosts"] }, async () => {
      await apply(m, { ...m.inputs, dhcpHosts: m.inputs.dhcpHosts.filter((h: any) => h.mac !== "52:54:00:5e:00:12" && !h.ip.includes(":")) });
      both("52:54:00:5e:00:12", false);
      both(`ip='${v6}::11'`, false);
      both("52:54:00:5e:00:11");
      noRestart();
    });

    rowTest("dnsHosts: add, change names, remove", { Network: ["dnsHosts"] }, async () => {
      await apply(m, { ...m.inputs, dnsHosts: [...m.inputs.dnsHosts, { ip: `${m.net}.51`, hostnames: ["c"] }] });
      both(`<host ip='${m.net}.51'>`);
      await apply(m, { ...m.inputs, dnsHosts: [{ ip: `${m.net}.50`, hostnames: ["a2"] }, { ip: `${m.net}.51`, hostnames: ["c"] }] });
      both("<hostname>a2</hostname>");
      both(`<hostname>b.${domain}</hostname>`, false);
      await apply(m, { ...m.inputs, dnsHosts: [{ ip: `${m.net}.51`, hostnames: ["c"] }] });
      both(`<host ip='${m.net}.50'>`, false);
      noRestart();
    });

    // Each TXT/SRV change restarts dnsmasq (about 2 s each here).
    rowTest("dnsTxt and dnsSrv: add, change, remove (libvirt restarts dnsmasq, not the network)", { Network: ["dnsTxt", "dnsSrv"] }, async () => {
      await apply(m, { ...m.inputs, dnsTxt: [{ name: "t1", value: "v2" }, { name: "t2", value: "two words" }] });
      both("<txt name='t1' value='v2'/>");
      both("<txt name='t2' value='two words'/>");
      await apply(m, { ...m.inputs, dnsTxt: undefined });
      both("<txt", false);
      await apply(m, { ...m.inputs, dnsSrv: [{ service: "http", protocol: "tcp", target: `web.${domain}`, port: 8080, priority: 5 }, { service: "ldap", protocol: "tcp" }] });
      both(`<srv service='http' protocol='tcp' target='web.${domain}' port='8080' priority='5'/>`);
      both("<srv service='ldap' protocol='tcp'/>");
      await apply(m, { ...m.inputs, dnsSrv: [] });
      both("<srv", false);
      noRestart(false);
    }, 300_000);
  });

  describe("restart fields: definition only, then applied by an allowed restart", () => {
    const routeNets = [freeRouteNet(), ""];
    do routeNets[1] = freeRouteNet(); while (routeNets[1] === routeNets[0]);
    /** [field, value while restarts are not allowed, value with allowRestart: true, text in the XML for each] */
    const rows: [string, (m: Made) => unknown, (m: Made) => unknown, (m: Made, v: 1 | 2) => string][] = [
      ["bridge", () => ({ name: bridge, stp: true }), () => ({ name: bridge, stp: false, delay: 2 }), (_m, v) => (v === 1 ? `stp='on'` : `stp='off' delay='2'`)],
      ["mtu", () => 1400, () => 1500, (_m, v) => `<mtu size='${v === 1 ? 1400 : 1500}'/>`],
      ["domain", () => ({ name: `one.${domain}` }), () => ({ name: `two.${domain}`, localOnly: true }), (_m, v) => (v === 1 ? `<domain name='one.${domain}'/>` : `<domain name='two.${domain}' localOnly='yes'/>`)],
      ["ipv4", (m) => ({ address: `${m.net}.1/24`, dhcpRanges: [{ start: `${m.net}.150`, end: `${m.net}.159` }] }), (m) => ({ address: `${m.net}.1/24`, dhcpRanges: [{ start: `${m.net}.160`, end: `${m.net}.169` }] }), (m, v) => `<range start='${m.net}.1${v === 1 ? 5 : 6}0'`],
      ["ipv6", () => ({ address: `${v6}::1/64`, dhcpRanges: [{ start: `${v6}::300`, end: `${v6}::3ff` }] }), () => ({ address: `${v6}::1/64`, dhcpRanges: [{ start: `${v6}::200`, end: `${v6}::2ff` }] }), (_m, v) => `<range start='${v6}::${v === 1 ? 3 : 2}00'`],
      ["dns", () => ({ forwarders: ["127.0.0.2"] }), () => ({ forwarders: ["127.0.0.3", "::1"] }), (_m, v) => (v === 1 ? "<forwarder addr='127.0.0.2'/>" : "<forwarder addr='::1'/>")],
      ["routes", (m) => [{ destination: `${routeNets[0]}.0/24`, gateway: `${m.net}.3` }], (m) => [{ destination: `${routeNets[1]}.0/24`, gateway: `${m.net}.4` }], (_m, v) => `<route address='${routeNets[v - 1]}.0'`],
    ];

    rowTest("bridge, mtu, domain, ipv4, ipv6, dns and routes, one after another", { Network: ["bridge", "mtu", "domain", "ipv4", "ipv6", "dns", "routes"] }, async () => {
      for (const [field, first, second, text] of rows) {
        await restartRow(field, first, second, text).catch((e) => Promise.reject(Object.assign(e, { message: `${field}: ${e.message}` })));
      }
    }, 300_000);

    async function restartRow(field: string, first: (m: Made) => unknown, second: (m: Made) => unknown, text: (m: Made, v: 1 | 2) => string): Promise<void> {
      const index = ifindex(bridge);
      said.length = 0;
      // allowRestart false: the definition changes, the running network does not.
      let outs = await apply(m, { ...m.inputs, [field]: first(m), allowRestart: false });
      expect(configXml(m.name)).toContain(text(m, 1));
      expect(liveXml(m.name)).not.toContain(text(m, 1));
      expect(ifindex(bridge)).toBe(index);
      expect(outs.pendingRestart).toContain(field);
      expect(said.join("\n")).toMatch(new RegExp(`${field}.* changed in the definition only; they take effect when the network next starts`));

      // allowRestart true with another value: restarted, applied, nothing pending.
      said.length = 0;
      outs = await apply(m, { ...m.inputs, [field]: second(m), allowRestart: true });
      expect(liveXml(m.name)).toContain(text(m, 2));
      expect(configXml(m.name)).toContain(text(m, 2));
      expect(ifindex(bridge)).not.toBe(index);
      expect(outs.pendingRestart).toEqual([]);
      expect(outs.active).toBe(true);
      expect(said.join("\n")).toMatch(new RegExp(`restarting to apply ${field}`));
      await apply(m, { ...m.inputs, allowRestart: false });
    }

    rowTest("mode, on an IPv4-only network (forwarding modes would turn on host-wide IPv6 forwarding): isolated -> nat waits, -> route restarts", { Network: ["mode"] }, async () => {
      const n = await createNet((net, name) => ({ name, mode: "isolated", bridge: { name: `pltm${hex(4)}`, stp: false }, ipv4: { address: `${net}.1/24` } }));
      const index = ifindex(n.outs.bridgeName);
      let outs = await apply(n, { ...n.inputs, mode: "nat" });
      expect(configXml(n.name)).toContain("<forward mode='nat'");
      expect(liveXml(n.name)).not.toContain("<forward");
      expect(outs.pendingRestart).toEqual(["mode"]);
      outs = await apply(n, { ...n.inputs, mode: "route", allowRestart: true });
      expect(liveXml(n.name)).toContain("<forward mode='route'/>");
      expect(ifindex(n.outs.bridgeName)).not.toBe(index);
      expect(outs).toMatchObject({ pendingRestart: [], mode: "route" });
      await p.delete(n.id, n.outs);
    });

    test("the bridge keeps its MAC across restarts (guests' ARP caches stay valid)", () => {
      const mac = /<mac address='([^']+)'/.exec(configXml(m.name))?.[1];
      expect(mac).toBeDefined();
      expect(fs.readFileSync(`/sys/class/net/${bridge}/address`, "utf8").trim()).toBe(mac);
    });

    rowTest("switching allowRestart on applies what was waiting", { Network: ["allowRestart"] }, async () => {
      const index = ifindex(bridge);
      let outs = await apply(m, { ...m.inputs, mtu: 1450, routes: undefined, allowRestart: false });
      expect(outs.pendingRestart).toEqual(["mtu", "routes"]);
      outs = await apply(m, { ...m.inputs, allowRestart: true });
      expect(outs.pendingRestart).toEqual([]);
      expect(liveXml(m.name)).toContain("<mtu size='1450'/>");
      expect(liveXml(m.name)).not.toContain("<route");
      expect(ifindex(bridge)).not.toBe(index);
      await apply(m, { ...m.inputs, allowRestart: false });
    });

    test("a live field and a restart field together, restart not allowed", async () => {
      const index = ifindex(bridge);
      const outs = await apply(m, { ...m.inputs, mtu: 1400, dhcpHosts: [...m.inputs.dhcpHosts, { mac: "52:54:00:5e:00:21", ip: `${m.net}.21` }] });
      expect(liveXml(m.name)).toContain("52:54:00:5e:00:21");
      expect(configXml(m.name)).toContain("52:54:00:5e:00:21");
      expect(outs.pendingRestart).toEqual(["mtu"]);
      expect(ifindex(bridge)).toBe(index);
    });
  });

  rowTest("start and autostart: live", { Network: ["start", "autostart"] }, async () => {
    let outs = await apply(m, { ...m.inputs, start: false });
    expect(isActive(m.name)).toBe(false);
    expect(outs).toMatchObject({ active: false, start: false, leases: [], pendingRestart: [] });
    outs = await apply(m, { ...m.inputs, start: true, autostart: true });
    expect(isActive(m.name)).toBe(true);
    expect(autostartOn(m.name)).toBe(true);
    expect(outs.active).toBe(true);
    // It started with its definition: what was pending is applied now.
    expect(liveXml(m.name)).toContain("<mtu size='1400'/>");
  });

  rowTest("timeoutSeconds is the provider's own: libvirt's definition and the running bridge stay as they were", { Network: ["timeoutSeconds"] }, async () => {
    const [live, config, index] = [liveXml(m.name), configXml(m.name), ifindex(bridge)];
    await apply(m, { ...m.inputs, timeoutSeconds: 42 });
    expect([liveXml(m.name), configXml(m.name), ifindex(bridge)]).toEqual([live, config, index]);
    await apply(m, { ...m.inputs, timeoutSeconds: undefined });
  });

  describe("refresh after changes made with virsh", () => {
    test("net-update adds a reservation: read shows it, update removes it (live and definition)", async () => {
      virsh("net-update", m.name, "add", "ip-dhcp-host", `<host mac='52:54:00:5e:00:99' ip='${m.net}.99'/>`, "--live", "--config");
      const r = await p.read(m.id, m.outs);
      expect(r.props.dhcpHosts).toContainEqual({ mac: "52:54:00:5e:00:99", ip: `${m.net}.99` });
      expect((await p.diff(m.id, r.props, m.inputs)).changes).toBe(true);
      const { outs } = await p.update(m.id, r.props, m.inputs);
      expect(liveXml(m.name)).not.toContain("52:54:00:5e:00:99");
      expect(configXml(m.name)).not.toContain("52:54:00:5e:00:99");
      m.outs = outs;
    });

    test("net-update --live only removes one: update puts it back in the running network alone", async () => {
      const h = m.inputs.dhcpHosts.find((x: any) => x.mac === "52:54:00:5e:00:21");
      virsh("net-update", m.name, "delete", "ip-dhcp-host", `<host mac='${h.mac}' ip='${h.ip}'/>`, "--live");
      const r = await p.read(m.id, m.outs);
      expect(r.props.dhcpHosts).not.toContainEqual(h);
      const { outs } = await p.update(m.id, r.props, m.inputs);
      expect(liveXml(m.name)).toContain(h.mac);
      expect(configXml(m.name).split(h.mac).length).toBe(2); // once, not twice
      m.outs = outs;
    });

    test("net-autostart --disable: read shows it, update restores it", async () => {
      virsh("net-autostart", "--disable", m.name);
      const r = await p.read(m.id, m.outs);
      expect(r.props.autostart).toBe(false);
      expect(await p.diff(m.id, r.props, m.inputs)).toMatchObject({ changes: true, replaces: [] });
      m.outs = (await p.update(m.id, r.props, m.inputs)).outs;
      expect(autostartOn(m.name)).toBe(true);
    });

    test("net-destroy: read shows it stopped, update starts it", async () => {
      virsh("net-destroy", m.name);
      const r = await p.read(m.id, m.outs);
      expect(r.props).toMatchObject({ start: false, active: false });
      expect(await p.diff(m.id, r.props, m.inputs)).toMatchObject({ changes: true, replaces: [] });
      m.outs = (await p.update(m.id, r.props, m.inputs)).outs;
      expect(isActive(m.name)).toBe(true);
      expect(await p.diff(m.id, (await p.read(m.id, m.outs)).props, m.inputs)).toEqual({ changes: false });
    });
  });

  rowTest("replacements: a new name makes a second network before the first goes; mode to or from a host bridge or device, and uri, replace too", { Network: ["name"] }, async () => {
    // Renamed on the same bridge or subnet it must go first (libvirt refuses both at once); on its own it need not.
    expect(await p.diff(m.id, m.outs, await checked(p, { ...m.inputs, name: `${m.name}-2` }, m.inputs))).toMatchObject({ changes: true, replaces: ["name"], deleteBeforeReplace: true });
    const old = await createNet((_net, name) => ({ name, mode: "isolated", bridge: { name: `pltr${hex(4)}`, stp: false } }));
    const renamed = await checked(p, { ...old.inputs, name: `${old.name}-2`, bridge: { name: `pltr${hex(4)}`, stp: false } }, old.inputs);
    expect(await p.diff(old.id, old.outs, renamed)).toMatchObject({ changes: true, replaces: ["name"], deleteBeforeReplace: false });
    networks.push(renamed.name);
    const made = await p.create(renamed);
    expect([isActive(old.name), isActive(renamed.name), virsh("net-uuid", renamed.name).trim()]).toEqual([true, true, made.id]);
    expect(liveXml(renamed.name)).toContain(`<bridge name='${renamed.bridge.name}'`);
    await p.delete(old.id, old.outs);
    expect(() => virsh("net-info", old.name)).toThrow();
    await p.delete(made.id, made.outs);
    expect(() => virsh("net-info", renamed.name)).toThrow();
    for (const [patch, field] of [
      [{ mode: "bridge", bridge: { name: "br0" }, ipv4: undefined, ipv6: undefined, dhcpHosts: undefined, dns: undefined, dnsHosts: undefined, domain: undefined, mtu: undefined, routes: undefined, dnsTxt: undefined, dnsSrv: undefined }, "mode"],
      [{ uri: "qemu+ssh://root@elsewhere/system" }, "uri"],
    ] as const) {
      const d = await p.diff(m.id, m.outs, await checked(p, { ...m.inputs, ...patch }));
      expect(d.replaces).toContain(field);
    }
  });

  test("delete", async () => {
    await p.delete(m.id, m.outs);
    expect(() => virsh("net-info", m.name)).toThrow();
    expect(await p.read(m.id, m.outs)).toEqual({});
    await p.delete(m.id, m.outs); // already gone: fine
  });
});

describe("host bridge and macvtap modes", () => {
  rowTest("bridge: create, no-op diff, bridge.name by restart, delete", { Network: ["bridge"] }, async () => {
    const [br1, br2] = [`pltb${hex(4)}`, `pltb${hex(4)}`];
    for (const b of [br1, br2]) {
      hostBridges.push(b);
      await sh("ip", ["link", "add", b, "type", "bridge"]);
    }
    const name = uniqueName("net");
    networks.push(name);
    const inputs = await checked(p, { name, mode: "bridge", bridge: { name: br1 } });
    const { id, outs } = await p.create(inputs);
    const m: Made = { id, outs, inputs, name, net: "" };
    expect(liveXml(name)).toContain("<forward mode='bridge'/>");
    expect(outs).toMatchObject({ bridgeName: br1, active: true, leases: [], mode: "bridge" });
    expect(await p.diff(id, (await p.read(id, outs)).props, inputs)).toEqual({ changes: false });
    let o = await apply(m, { ...m.inputs, bridge: { name: br2 } });
    expect(o.pendingRestart).toEqual(["bridge"]);
    o = await apply(m, { ...m.inputs, allowRestart: true });
    expect(liveXml(name)).toContain(`<bridge name='${br2}'/>`);
    expect(o).toMatchObject({ bridgeName: br2, pendingRestart: [] });
    await p.delete(id, o);
    expect(() => virsh("net-info", name)).toThrow();
  });

  rowTest("macvtap: create, no-op diff, sourceDevices by restart, delete", { Network: ["sourceDevices"] }, async () => {
    // Devices that do not exist: libvirt checks them only when a guest attaches, and none does.
    const [d1, d2, d3] = [`pltm${hex(4)}`, `pltm${hex(4)}`, `pltm${hex(4)}`];
    const name = uniqueName("net");
    networks.push(name);
    const inputs = await checked(p, { name, mode: "macvtap", sourceDevices: [d1] });
    const { id, outs } = await p.create(inputs);
    const m: Made = { id, outs, inputs, name, net: "" };
    expect(liveXml(name)).toContain(`<interface dev='${d1}'/>`);
    expect(outs).toMatchObject({ active: true, leases: [], mode: "macvtap" });
    expect(outs.bridgeName).toBeUndefined();
    expect(await p.diff(id, (await p.read(id, outs)).props, inputs)).toEqual({ changes: false });
    let o = await apply(m, { ...m.inputs, sourceDevices: [d1, d2] });
    expect(o.pendingRestart).toEqual(["sourceDevices"]);
    expect(configXml(name)).toContain(`<interface dev='${d2}'/>`);
    expect(liveXml(name)).not.toContain(d2);
    o = await apply(m, { ...m.inputs, sourceDevices: [d3], allowRestart: true });
    expect(liveXml(name)).toContain(`<interface dev='${d3}'/>`);
    expect(o.pendingRestart).toEqual([]);
    await p.delete(id, o);
  });
});

describe("create failures leave nothing behind", () => {
  test("a subnet another network holds: start fails, the definition is removed", async () => {
    const first = await createNet((net, name) => ({ name, mode: "isolated", ipv4: { address: `${net}.1/24` } }));
    const name = uniqueName("net");
    networks.push(name);
    const inputs = await checked(p, { name, mode: "isolated", ipv4: { address: `${first.net}.1/24` } });
    await expect(p.create(inputs)).rejects.toThrow(new RegExp(`network "${name}" on ${TEST_URI.replace(/[/+]/g, "\\$&")}: .*in use`, "i"));
    expect(virsh("net-list", "--all", "--name")).not.toContain(name);
    await p.delete(first.id, first.outs);
  });
});

// ---- the test guest ---------------------------------------------------------------------------

const GUEST_BUILD = path.resolve(__dirname, "../../test/guest/build.sh");

/** Console lines of the guest (\r stripped). */
const consoleLines = (log: string) => (fs.existsSync(log) ? fs.readFileSync(log, "utf8").replace(/\r/g, "").split("\n") : []);

async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(500);
  }
}

describe("with the test guest running on the network", () => {
  let m: Made;
  let dom: string;
  let log: string;
  let mac: string;
  let tap: string;
  const bridge = `pltg${hex(4)}`;
  const timing: Record<string, number> = {};

  /** The guest's lease lines after line `from`, as {ip, event}. */
  const leases = (from = 0) => consoleLines(log).slice(from).map((l) => /^GUEST-LEASE iface=\S+ ip=(\S+) .* event=(\w+)/.exec(l)).filter(Boolean).map((x) => ({ ip: x![1], event: x![2] }));
  const tapMaster = async () => /master (\S+)/.exec(await sh("ip", ["-o", "link", "show", tap]))?.[1];

  beforeAll(async () => {
    let t = Date.now();
    const out = (await sh(GUEST_BUILD, [])).trim().split("\n");
    const guestDir = out[out.length - 1].trim();
    timing.build = Date.now() - t;
    m = await createNet((net, name) => ({
      name, mode: "isolated", bridge: { name: bridge, stp: false },
      ipv4: { address: `${net}.1/24`, dhcpRanges: [{ start: `${net}.100`, end: `${net}.149` }] },
      autostart: false,
    }));
    dom = uniqueName("guest");
    const dir = `/var/lib/libvirt/images/${dom}`;
    fs.mkdirSync(dir, { recursive: true });
    dirs.push(dir);
    log = `${dir}/console.log`;
    mac = `52:54:00:${hex(1)}:${hex(1)}:${hex(1)}`;
    const xml = `<domain type='qemu'>
  <name>${dom}</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>${guestDir}/vmlinuz</kernel>
    <initrd>${guestDir}/initrd.img</initrd>
    <cmdline>console=ttyS0 quiet renew=3 cidata_wait=0 hostname=${dom.slice(-8)}</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <interface type='network'>
      <source network='${m.name}'/>
      <mac address='${mac}'/>
      <model type='virtio'/>
    </interface>
    <serial type='file'>
      <source path='${log}'/>
      <target port='0'/>
    </serial>
  </devices>
</domain>`;
    fs.writeFileSync(`${dir}/domain.xml`, xml);
    domains.push(dom);
    t = Date.now();
    // Minutes on this host: libvirt re-probes QEMU on every define/create (test/guest/README.md, gotchas).
    await sh("virsh", ["-q", "-c", TEST_URI, "create", `${dir}/domain.xml`], 15 * 60_000);
    timing.create = Date.now() - t;
    tap = /<target dev='([^']+)'/.exec(virsh("dumpxml", dom))![1];
    t = Date.now();
    await waitFor("the guest's first lease (GUEST-LEASE)", () => leases()[0], 120_000);
    timing.firstLease = Date.now() - t;
  }, 20 * 60_000);

  afterAll(() => {
    console.log(`guest timings (ms): ${JSON.stringify(timing)}`);
  });

  test("its lease shows in the network's outputs", async () => {
    const first = leases()[0];
    expect(first.ip.startsWith(`${m.net}.`)).toBe(true);
    const outs = await waitFor("the lease in read() outputs", async () => {
      const r = await p.read(m.id, m.outs);
      return r.props.leases.some((l: any) => l.mac === mac) ? r.props : undefined;
    }, 60_000);
    const lease = outs.leases.find((l: any) => l.mac === mac);
    expect(lease).toMatchObject({ ip: first.ip, prefix: 24, family: "ipv4", hostname: dom.slice(-8) });
    expect(Date.parse(lease.expiry)).toBeGreaterThan(Date.now());
    m.outs = outs;
  });

  test("a reservation added live: the guest gets its reserved address on renewal, without a network restart", async () => {
    const reserved = `${m.net}.42`;
    const [pid, index, from] = [dnsmasqPid(m.name), ifindex(bridge), consoleLines(log).length];
    const t = Date.now();
    await apply(m, { ...m.inputs, dhcpHosts: [{ mac, ip: reserved, hostname: "reserved" }] });
    expect(dnsmasqPid(m.name)).toBe(pid);
    expect(ifindex(bridge)).toBe(index);
    await waitFor(`GUEST-LEASE ip=${reserved}`, () => leases(from).find((l) => l.ip === reserved), 60_000);
    timing.reservation = Date.now() - t;
    const outs = await waitFor("the reserved lease in outputs", async () => {
      const r = await p.read(m.id, m.outs);
      return r.props.leases.some((l: any) => l.mac === mac && l.ip === reserved) ? r.props : undefined;
    }, 30_000);
    expect(outs.leases.filter((l: any) => l.mac === mac).map((l: any) => l.ip)).toEqual([reserved]);
    m.outs = outs;
  });

  test("a restart that is not allowed leaves the guest alone", async () => {
    const [index, from] = [ifindex(bridge), consoleLines(log).length];
    const outs = await apply(m, { ...m.inputs, mtu: 1400 });
    expect(outs.pendingRestart).toEqual(["mtu"]);
    expect(ifindex(bridge)).toBe(index);
    expect(await tapMaster()).toBe(bridge);
    await waitFor("a renewal", () => leases(from).find((l) => l.event === "renew"), 30_000);
  });

  test("an allowed restart puts the guest's tap back on the bridge; DHCP keeps answering", async () => {
    const [index, from] = [ifindex(bridge), consoleLines(log).length];
    const t = Date.now();
    const outs = await apply(m, { ...m.inputs, allowRestart: true });
    timing.restart = Date.now() - t;
    expect(ifindex(bridge)).not.toBe(index);
    expect(outs.pendingRestart).toEqual([]);
    expect(said.join("\n")).toContain(`(${dom}) are put back on the bridge`);
    expect(await tapMaster()).toBe(bridge);
    // A renewal answered after the restart: the guest reaches dnsmasq on the recreated bridge.
    await waitFor("a renewal after the restart", () => leases(from).find((l) => l.event === "renew" && l.ip === `${m.net}.42`), 30_000);
    // libvirt counts the guest's port on the recreated network again.
    expect(liveXml(m.name)).toMatch(/<network connections='1'/);
  });

  test("renaming the bridge moves the guest to the new one", async () => {
    const renamed = `pltg${hex(4)}`;
    const from = consoleLines(log).length;
    await apply(m, { ...m.inputs, bridge: { name: renamed, stp: false } });
    expect(await tapMaster()).toBe(renamed);
    expect(fs.existsSync(`/sys/class/net/${bridge}`)).toBe(false);
    await waitFor("a renewal on the renamed bridge", () => leases(from).find((l) => l.event === "renew"), 30_000);
  });

  rowTest("delete is refused while the guest runs, naming it; forceDelete deletes anyway", { Network: ["forceDelete"] }, async () => {
    await expect(p.delete(m.id, m.outs)).rejects.toThrow(new RegExp(`running domains use it: ${dom}\\. .*forceDelete: true`));
    expect(isActive(m.name)).toBe(true);
    const outs = await apply(m, { ...m.inputs, forceDelete: true });
    said.length = 0;
    await p.delete(m.id, outs);
    expect(said.join("\n")).toContain(`while ${dom} run on it (forceDelete)`);
    expect(() => virsh("net-info", m.name)).toThrow();
  });
});
