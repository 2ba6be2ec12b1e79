/**
 * A second libvirt "host" on this machine, for live-migration tests (see README.md here):
 * a privileged libvirtd that libvirt treats as another machine, migrating to and from the
 * system daemon (qemu:///system) or another second host.
 *
 * - Namespaces (`unshare -m -u -p -f --kill-child --mount-proc`): its own hostname (UTS), its own
 *   mounts, its own pid namespace. The network namespace is shared, so it listens on 127.0.0.1
 *   (tcp, auth "none") and qemu-to-qemu migration data stays on loopback.
 * - Private (tmp dirs bind-mounted in its mount namespace only): /run/libvirt (sockets, pid
 *   files, domain status), /var/lib/libvirt (except images/), /var/cache/libvirt, /etc/libvirt
 *   (libvirtd.conf with its own host_uuid, qemu.conf, virtlogd.conf, domain/network/pool XML),
 *   /var/log/libvirt.
 * - Shared: /var/lib/libvirt/images (kernel-boot guests, console logs and "shared storage" disks
 *   need no copy) and the net namespace (bridges made outside libvirt work for both).
 * - localDir = /var/lib/libvirt/images/NAME-local: a real directory for the system daemon, a
 *   different (private) directory at the same path for this host: non-shared storage with equal
 *   paths, as --copy-storage-all expects.
 * - Its own virtlogd (libvirtd's privileged log manager does not spawn one) and libvirtd, run from
 *   copies named virtlogd-mig / libvirtd-mig, so `pidof libvirtd` / `pidof virtlogd` (used by the
 *   daemon-restart tests to find the system daemon) never return them.
 * - PID 1 of the namespace is a small sh (reaps the qemu processes libvirt daemonises). When its
 *   stdin (a pipe from this process) closes, i.e. on stop() or when the test process dies, it
 *   TERMs libvirtd and then kills everything left in the namespace; the kernel ends the namespace
 *   with it. Nothing is found or killed by name.
 */
import { ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { accepts, freePort } from "../ports";
import { alive } from "../util";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const IMAGES = "/var/lib/libvirt/images";
/** Where the source's qemu sends migration data: libvirt refuses 127.0.0.1 itself as migration_host. */
const MIGRATION_ADDRESS = "127.0.0.2";
/** The system daemon's default migration/NBD ports (qemu.conf migration_port_min/max). */
const SYSTEM_MIGRATION_PORTS = [49152, 49215];

export interface SecondHost {
  /** qemu+tcp://127.0.0.1:PORT/system */
  uri: string;
  /** Its UTS hostname (`virsh hostname`); not resolvable, which is why migrateUri exists. */
  hostname: string;
  /** host_uuid from its libvirtd.conf (`virsh capabilities` /capabilities/host/uuid). */
  hostUuid: string;
  /**
   * tcp://127.0.0.2: where migration data to this host goes. It is also its qemu.conf
   * migration_host, so plain `virsh migrate --live --p2p DOM URI` works without it.
   */
  migrateUri: string;
  /**
   * The system daemon as this host's libvirtd reaches it (its own /run/libvirt is private):
   * qemu+unix:///system?socket=DIR/hostrun/libvirt-sock. The destination of --p2p migrations back.
   */
  backUri: string;
  /** Same path, different directory on each side: see the file comment. Removed by stop(). */
  localDir: string;
  /** The temp dir holding its private dirs, config and binaries. */
  dir: string;
  tcpPort: number;
  /** Its migration/NBD port range (qemu.conf migration_port_min/max). */
  migrationPorts: [number, number];
  /** virsh -q -c uri ARGS */
  virsh(...args: string[]): Promise<string>;
  /**
   * Define and start here a network `name` with <forward mode='bridge'/> on an existing bridge:
   * the destination side of a guest whose <interface type='network'> is on the source's network
   * `name` (pass that network's bridge, e.g. virbr-xyz): the guest stays on the same L2 segment.
   */
  aliasNetwork(name: string, bridge: string): Promise<void>;
  /** Host pids of everything in its pid namespace (libvirtd, virtlogd, qemu, dnsmasq...). */
  processes(): number[];
  /** Last 20 KB of libvirtd/virtlogd stderr (warnings and errors). */
  log(): string;
  /** Destroy + undefine its domains, stop its networks, end the namespace, remove all files. */
  stop(): Promise<void>;
}


const exited = (c: ChildProcess) => c.exitCode !== null || c.signalCode !== null;

async function waitForPort(port: number, child: ChildProcess, log: () => string, ms = 60_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await accepts(port))) {
    if (exited(child)) throw new Error(`second libvirtd exited (${child.exitCode ?? child.signalCode}) before listening on ${port}:\n${log()}`);
    if (Date.now() > until) throw new Error(`second libvirtd did not listen on 127.0.0.1:${port} within ${ms} ms:\n${log()}`);
    await sleep(100);
  }
}

/** A migration port range of 8 away from the system daemon's (its allocator skips busy ports). */
async function migrationRange(): Promise<[number, number]> {
  for (;;) {
    const p = await freePort();
    if (p + 7 < 65536 && (p + 7 < SYSTEM_MIGRATION_PORTS[0] || p > SYSTEM_MIGRATION_PORTS[1])) return [p, p + 7];
  }
}

/**
 * Remove what a test process that died without stop() left (its namespace went with it: the
 * watchdog saw its stdin close): temp dirs whose owner pid is gone, and their localDir.
 */
function sweepStale(): void {
  for (const e of readdirSync(tmpdir())) {
    const m = /^(plt-mig-[0-9a-f]{8})-/.exec(e);
    if (!m) continue;
    let owner = 0;
    try {
      owner = Number(readFileSync(join(tmpdir(), e, "owner"), "utf8").trim());
    } catch {
      continue; // being created, or not ours
    }
    if (!owner || alive(owner)) continue;
    rmSync(join(tmpdir(), e), { recursive: true, force: true });
    rmSync(join(IMAGES, `${m[1]}-local`), { recursive: true, force: true });
  }
}

/** PID 1 of the namespace. $1 dir, $2 hostname, $3 localDir. */
const INIT = String.raw`#!/bin/sh
set -eu
B=$1; H=$2; LOCAL=$3
mount --make-rprivate /
hostname "$H"
mount --bind /run/libvirt "$B/hostrun"                 # the system daemon's sockets (backUri)
mount --bind /var/lib/libvirt/images "$B/lib/images"   # images stay shared...
mount --rbind "$B/lib" /var/lib/libvirt                # ...the rest of /var/lib/libvirt is private
mount --bind "$B/local" "$LOCAL"
mount --bind "$B/run" /run/libvirt
mount --bind "$B/cache" /var/cache/libvirt
mount --bind "$B/etc" /etc/libvirt
mount --bind "$B/log" /var/log/libvirt
exec 3<&0 </dev/null
"$B/bin/virtlogd-mig" -p /run/libvirt/virtlogd.pid -f /etc/libvirt/virtlogd.conf &
"$B/bin/libvirtd-mig" --listen -p /run/libvirt/libvirtd.pid -f /etc/libvirt/libvirtd.conf &
LPID=$!
( cat <&3 >/dev/null || true; kill -TERM "$LPID" 2>/dev/null || true ) &   # stdin closed: stop
exec 3<&-
wait "$LPID" || true     # (dash's wait reaps every child meanwhile: orphaned qemu processes too)
kill -KILL -1 2>/dev/null || true
`;

export async function startSecondHost(): Promise<SecondHost> {
  sweepStale();
  const name = `plt-mig-${randomBytes(4).toString("hex")}`;
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  const localDir = join(IMAGES, `${name}-local`);
  const hostUuid = randomUUID();
  writeFileSync(join(dir, "owner"), `${process.pid}\n`);
  for (const d of ["bin", "hostrun", "lib", "lib/images", "run", "cache", "etc", "log", "local"]) mkdirSync(join(dir, d));
  // Mount roots qemu (libvirt-qemu) walks through: /var/lib/libvirt, /var/cache/libvirt, localDir.
  for (const d of ["lib", "run", "cache", "etc", "log", "local"]) chmodSync(join(dir, d), 0o755);
  mkdirSync(localDir, { mode: 0o755 });
  chmodSync(localDir, 0o755);
  copyFileSync("/usr/sbin/libvirtd", join(dir, "bin", "libvirtd-mig"));
  copyFileSync("/usr/sbin/virtlogd", join(dir, "bin", "virtlogd-mig"));
  for (const b of ["libvirtd-mig", "virtlogd-mig"]) chmodSync(join(dir, "bin", b), 0o755);
  writeFileSync(join(dir, "init.sh"), INIT, { mode: 0o755 });
  writeFileSync(join(dir, "etc", "virtlogd.conf"), "");
  const removeAll = () => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(localDir, { recursive: true, force: true });
  };

  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const tcpPort = await freePort();
    const migrationPorts = await migrationRange();
    writeFileSync(join(dir, "etc", "libvirtd.conf"), [
      "listen_tls = 0",
      "listen_tcp = 1",
      'listen_addr = "127.0.0.1"',
      `tcp_port = "${tcpPort}"`,
      'auth_tcp = "none"',
      `host_uuid = "${hostUuid}"`,
      'log_outputs = "3:stderr"',
      "",
    ].join("\n"));
    writeFileSync(join(dir, "etc", "qemu.conf"), [
      `migration_address = "${MIGRATION_ADDRESS}"`, // incoming qemu listens on loopback only
      `migration_host = "${MIGRATION_ADDRESS}"`, // what sources connect to (the hostname does not resolve)
      `migration_port_min = ${migrationPorts[0]}`,
      `migration_port_max = ${migrationPorts[1]}`,
      // no cgroups: machine/qemu-ID-NAME.libvirt-qemu could collide with the system daemon's
      "cgroup_controllers = [ ]",
      "",
    ].join("\n"));

    let log = "";
    const child = spawn("unshare", ["-m", "-u", "-p", "-f", "--kill-child", "--mount-proc", "sh", join(dir, "init.sh"), dir, name, localDir], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C" },
    });
    const keep = (d: Buffer) => { log = (log + d.toString()).slice(-20_000); };
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    child.stdin!.on("error", () => undefined);
    const gone = new Promise<void>((r) => child.once("exit", () => r()));

    // The namespace's PID 1 (unshare's only child) and its pid namespace, to list what runs in it.
    let nsInode = "";
    const processes = (): number[] => {
      if (!nsInode) return [];
      const pids: number[] = [];
      for (const e of readdirSync("/proc")) {
        if (!/^\d+$/.test(e)) continue;
        try {
          if (readlinkSync(`/proc/${e}/ns/pid`) === nsInode) pids.push(Number(e));
        } catch {
          // gone meanwhile
        }
      }
      return pids;
    };
    const endNamespace = async () => {
      child.stdin!.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000); // --kill-child: PID 1 dies, the namespace with it
      if (!exited(child)) await gone;
      clearTimeout(timer);
      for (let i = 0; i < 100 && processes().length; i++) await sleep(100);
      const left = processes();
      if (left.length) throw new Error(`second host ${name}: processes left in its pid namespace: ${left.join(" ")}`);
    };

    const uri = `qemu+tcp://127.0.0.1:${tcpPort}/system`;
    const virsh = async (...args: string[]) => (await execFileAsync("virsh", ["-q", "-c", uri, ...args], { encoding: "utf8" })).stdout;
    const quiet = (...args: string[]) => virsh(...args).catch(() => "");

    try {
      for (let i = 0; !nsInode && i < 100; i++) {
        try {
          const init = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8").trim().split(/\s+/)[0];
          if (init) nsInode = readlinkSync(`/proc/${init}/ns/pid`);
        } catch {
          // not forked yet
        }
        if (!nsInode) await sleep(50);
      }
      await waitForPort(tcpPort, child, () => log);
      // The first call that needs QEMU capabilities probes the binaries (a few seconds): do it now.
      await virsh("capabilities");
    } catch (e) {
      lastError = e as Error;
      await endNamespace().catch(() => undefined);
      continue; // most likely a port taken between freePort() and libvirtd's bind
    }

    return {
      uri, hostname: name, hostUuid, migrateUri: `tcp://${MIGRATION_ADDRESS}`,
      backUri: `qemu+unix:///system?socket=${join(dir, "hostrun", "libvirt-sock")}`,
      localDir, dir, tcpPort, migrationPorts, virsh, processes,
      log: () => log,
      async aliasNetwork(net: string, bridge: string) {
        const xml = join(dir, `net-${net}.xml`);
        writeFileSync(xml, `<network><name>${net}</name><forward mode='bridge'/><bridge name='${bridge}'/></network>\n`);
        await virsh("net-define", xml);
        await virsh("net-start", net);
      },
      async stop() {
        try {
          if (!exited(child)) {
            // Through libvirt, not by killing qemu: that restores the owner of shared files
            // (vmlinuz, disks in images/), whose xattr refcount both daemons share.
            const doms = (await quiet("list", "--all", "--name")).split("\n").map((s) => s.trim()).filter(Boolean);
            for (const d of doms) {
              await quiet("destroy", d);
              await quiet("undefine", "--managed-save", "--snapshots-metadata", "--checkpoints-metadata", "--nvram", d);
            }
            // Bridges and iptables rules of its networks live in the shared net namespace.
            const nets = (await quiet("net-list", "--name")).split("\n").map((s) => s.trim()).filter(Boolean);
            for (const n of nets) await quiet("net-destroy", n);
          }
          await endNamespace();
        } finally {
          removeAll();
        }
      },
    };
  }
  removeAll();
  throw lastError ?? new Error("the second libvirtd did not start");
}
