/**
 * Benchmark: our TypeScript libvirt client against libvirt's own C client, on the same daemon in
 * the same run (python3-libvirt for calls and keepalive, virsh for uploads). Prints figures and ratios; it
 * never fails on slowness — the targets are for people to read, not assertions. See README.md.
 *
 *   npx tsc -p tsconfig.json && node bin/bench/run.js
 *
 * Environment: LIBVIRT_BENCH_URI (default qemu:///system); PYTHON (default /usr/bin/python3, the
 * interpreter Debian's python3-libvirt is installed for); BENCH_ROUNDS (default 5);
 * BENCH_QUICK=1 (small sizes, one round: a smoke test of the bench itself).
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes, randomFillSync } from "node:crypto";
import { closeSync, createReadStream, existsSync, openSync, rmSync, writeSync } from "node:fs";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { formatVersion, Libvirt, StoragePoolRef } from "../provider/libvirt/client";
import { KEEPALIVE, keepaliveRound } from "./keepalive";

const run = promisify(execFile);
const URI = process.env.LIBVIRT_BENCH_URI ?? "qemu:///system";
const PYTHON = process.env.PYTHON ?? (existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3");
const REFERENCE = resolve(__dirname, "..", "..", "bench", "reference.py"); // run from bin/bench/
const quick = process.env.BENCH_QUICK === "1";

const PAIRS = quick ? 300 : 2000;
const WARMUP = quick ? 50 : 200;
const CONCURRENT_PAIRS = quick ? 500 : 5000;
const IN_FLIGHT = 16;
/**
 * Rounds alternate ours / reference, so drift in the host's load (other users of this daemon and
 * of its CPUs, page-cache writeback) hits both sides alike; five, because on a shared 2-CPU host
 * one round in three is often disturbed.
 */
const ROUNDS = quick ? 1 : Number(process.env.BENCH_ROUNDS ?? 5);
const MiB = 1024 * 1024;
const UPLOAD_BYTES = (quick ? 32 : 256) * MiB;

/** The median, not the mean: one round disturbed by something else on the host should not move the figure. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function seconds(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function reference(...args: (string | number)[]): Promise<any> {
  const { stdout } = await run(PYTHON, [REFERENCE, ...args.map(String)], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout);
}

async function virsh(...args: string[]): Promise<string> {
  return (await run("virsh", ["-q", "-c", URI, ...args], { maxBuffer: 16 << 20 })).stdout;
}

async function pair(lv: Libvirt, name: string): Promise<void> {
  const net = await lv.networkLookupByName(name);
  await lv.networkGetXmlDesc(net);
}

/** 1. Sequential lookup + XML-desc pairs on a fresh connection: wall and CPU seconds per pair. */
async function oursLatency(network: string): Promise<{ wall: number; cpu: number }> {
  const lv = await Libvirt.connect(URI);
  try {
    // Warm-up: V8 compiles the hot path and the daemon's worker threads wake up; neither is
    // what a long-running provider sees, so it stays out of the timed loop (both sides do it).
    for (let i = 0; i < WARMUP; i++) await pair(lv, network);
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < PAIRS; i++) await pair(lv, network);
    const wall = seconds(t0);
    const c = process.cpuUsage(c0);
    return { wall: wall / PAIRS, cpu: (c.user + c.system) / 1e6 / PAIRS };
  } finally {
    await lv.close();
  }
}

/** 2. IN_FLIGHT workers on one connection, each always waiting on one call: calls per second. */
async function oursConcurrent(network: string): Promise<number> {
  const lv = await Libvirt.connect(URI);
  try {
    for (let i = 0; i < WARMUP; i++) await pair(lv, network);
    let left = CONCURRENT_PAIRS;
    const worker = async () => {
      while (left > 0) {
        left--;
        await pair(lv, network);
      }
    };
    const t0 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    return (2 * CONCURRENT_PAIRS) / seconds(t0);
  } finally {
    await lv.close();
  }
}

/**
 * 3. Upload, timed end to end as a user runs it: connect, look the volume up, stream the file,
 * wait for the daemon's confirmation, close. virsh does the same plus starting its process (a
 * fixed cost, measured separately so the reader can weigh it).
 */
async function oursUpload(pool: StoragePoolRef, vol: string, file: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  const lv = await Libvirt.connect(URI);
  try {
    const v = await lv.storageVolLookupByName(pool, vol);
    // 1 MiB reads, as the Volume resource reads local files (provider/content/source.ts).
    const sent = await lv.storageVolUpload(v, createReadStream(file, { highWaterMark: MiB }));
    if (sent !== UPLOAD_BYTES) throw new Error(`upload sent ${sent} bytes, expected ${UPLOAD_BYTES}`);
  } finally {
    await lv.close();
  }
  return seconds(t0);
}

async function virshUpload(pool: string, vol: string, file: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  await virsh("vol-upload", "--pool", pool, vol, file);
  return seconds(t0);
}

async function sha256(file: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * MiB })) h.update(chunk as Buffer);
  return h.digest("hex");
}

/** Random bytes, not zeros: neither side nor the filesystem may shortcut sparse data. */
function makeSourceFile(path: string): void {
  const fd = openSync(path, "wx", 0o600);
  try {
    const buf = Buffer.allocUnsafe(4 * MiB);
    for (let done = 0; done < UPLOAD_BYTES; done += buf.length) writeSync(fd, randomFillSync(buf));
  } finally {
    closeSync(fd);
  }
}

/** Cleanup steps, run in reverse order of creation once main() has settled, however it did. */
const cleanups: (() => Promise<unknown> | void)[] = [];
async function cleanUp(): Promise<void> {
  for (let step = cleanups.pop(); step; step = cleanups.pop()) {
    try {
      await step();
    } catch (e) {
      console.error(`cleanup: ${(e as Error).message}`);
    }
  }
}

/**
 * Ctrl-C stops the run at the next checkpoint (at most a round, ~1 s, away) rather than at once,
 * so main() never races its own cleanup and every object it created is removed. A second Ctrl-C
 * exits immediately.
 */
let interrupted = false;
process.on("SIGINT", () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  console.error("interrupted: cleaning up after the current step (Ctrl-C again to leave things behind)");
});
function checkpoint(): void {
  if (interrupted) throw new Error("interrupted");
}

/**
 * The C-client reference needs Debian's python3-libvirt, which only Debian's /usr/bin/python3
 * sees (a pyenv python3 earlier on PATH does not): fail at once with the fix, not a traceback.
 */
async function checkReferences(): Promise<void> {
  try {
    await run(PYTHON, ["-c", "import libvirt"]);
  } catch (e) {
    throw new Error(`bench: ${PYTHON} cannot import libvirt (the C-client reference). ` +
      `Install it with \`bash scripts/setup-host.sh\` (or \`apt-get install python3-libvirt\`), ` +
      `or set PYTHON to an interpreter that has it.\n${(e as { stderr?: string }).stderr ?? (e as Error).message}`);
  }
  try {
    await run("virsh", ["--version"]);
  } catch {
    throw new Error("bench: `virsh` not found (the upload reference): install libvirt-clients (scripts/setup-host.sh)");
  }
}

async function main(): Promise<void> {
  await checkReferences();
  const id = randomBytes(4).toString("hex");
  const netName = `bench-net-${id}`;
  const poolName = `bench-pool-${id}`;
  const poolDir = `/var/lib/libvirt/images/${poolName}`;
  const volName = `bench-vol-${id}.raw`;
  const sourceFile = `/tmp/bench-upload-${id}.bin`;

  // The setup connection; cleanup reconnects if it was lost (the daemon restarted meanwhile).
  let setup = await Libvirt.connect(URI);
  const admin = async () => (setup.closed ? (setup = await Libvirt.connect(URI)) : setup);
  cleanups.push(() => setup.close());

  // Our own objects, never the host's: an inactive network (lookups and XML work the same on it)
  // and a dir pool holding one raw volume.
  const net = await setup.networkDefineXml(`<network><name>${netName}</name></network>`);
  cleanups.push(async () => (await admin()).networkUndefine(net));
  const pool = await setup.storagePoolDefineXml(
    `<pool type="dir"><name>${poolName}</name><target><path>${poolDir}</path></target></pool>`,
  );
  cleanups.push(async () => (await admin()).storagePoolUndefine(pool));
  cleanups.push(() => rmSync(poolDir, { recursive: true, force: true })); // whatever the daemon left
  await setup.storagePoolBuild(pool);
  await setup.storagePoolCreate(pool);
  cleanups.push(async () => (await admin()).storagePoolDestroy(pool));
  const vol = await setup.storageVolCreateXml(
    pool,
    `<volume><name>${volName}</name><capacity unit="bytes">${UPLOAD_BYTES}</capacity><target><format type="raw"/></target></volume>`,
  );
  cleanups.push(async () => (await admin()).storageVolDelete(vol));
  cleanups.push(() => rmSync(sourceFile, { force: true }));
  checkpoint();
  makeSourceFile(sourceFile);
  const volPath = await setup.storageVolGetPath(vol);

  const env = { uri: URI, libvirt: formatVersion(await setup.getLibVersion()), node: process.version, python: PYTHON };
  console.log(`bench: ${URI}, libvirt ${env.libvirt}, node ${env.node}; objects ${netName}, ${poolName}${quick ? " (quick)" : ""}`);

  // 1. Latency.
  const oursLat: number[] = [];
  const oursCpu: number[] = [];
  const cLat: number[] = [];
  const cCpu: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    checkpoint();
    const o = await oursLatency(netName);
    oursLat.push(o.wall);
    oursCpu.push(o.cpu);
    const c = await reference("latency", URI, netName, PAIRS, WARMUP);
    cLat.push(c.usPerPair / 1e6);
    cCpu.push(c.cpuUsPerPair / 1e6);
  }

  // 2. Throughput with IN_FLIGHT calls outstanding; the C client with as many threads is context.
  const oursConc: number[] = [];
  const cConc: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    checkpoint();
    oursConc.push(await oursConcurrent(netName));
    cConc.push((await reference("concurrent", URI, netName, CONCURRENT_PAIRS, IN_FLIGHT, WARMUP)).callsPerSec);
  }

  // 3. Upload. One untimed upload first allocates the volume's blocks, so no timed run pays for
  // that alone; `sync` before each run flushes the previous run's dirty pages, so no run pays for
  // another's writeback. Our upload is checked against the source: speed without the right bytes
  // would mean nothing.
  await virshUpload(poolName, volName, sourceFile);
  const expected = await sha256(sourceFile);
  const oursUp: number[] = [];
  const virshUp: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    checkpoint();
    await run("sync");
    oursUp.push(await oursUpload(pool, volName, sourceFile));
    if ((await sha256(volPath)) !== expected) throw new Error("the volume's content differs from the uploaded file");
    checkpoint();
    await run("sync");
    virshUp.push(await virshUpload(poolName, volName, sourceFile));
  }
  const startup: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    await virsh("pool-info", poolName);
    startup.push(seconds(t0));
  }

  // 4. Keepalive: how long each client takes to give up on a daemon that stopped answering.
  // (Only over the local socket: the proxy in bench/keepalive.ts fronts libvirtd's own.)
  const kaOurs: number[] = [];
  const kaC: number[] = [];
  for (let r = 0; r < (URI === "qemu:///system" ? ROUNDS : 0); r++) {
    checkpoint();
    const k = await keepaliveRound(PYTHON, REFERENCE);
    kaOurs.push(k.ours);
    kaC.push(k.c);
  }

  const lat = { ours: median(oursLat), c: median(cLat) };
  const cpu = { ours: median(oursCpu), c: median(cCpu) };
  const cSeqRate = 2 / lat.c; // the C client's sequential calls per second
  const conc = median(oursConc);
  const up = { ours: UPLOAD_BYTES / MiB / median(oursUp), virsh: UPLOAD_BYTES / MiB / median(virshUp) };
  // virsh's rate without its process start-up (a pessimistic view of ours; NaN if start-up dominates).
  const upVirshNet = median(virshUp) > median(startup) ? UPLOAD_BYTES / MiB / (median(virshUp) - median(startup)) : NaN;
  const us = (s: number) => round(s * 1e6);

  const rows: string[][] = [
    ["measure", "ours", "C client", "ratio", "target"],
    ["lookup+XML pair, µs", fmt(lat.ours * 1e6), fmt(lat.c * 1e6), fmt(lat.ours / lat.c, 2), "<= 1.0"],
    ["  (client CPU per pair, µs)", fmt(cpu.ours * 1e6), fmt(cpu.c * 1e6), fmt(cpu.ours / cpu.c, 2), ""],
    [`${IN_FLIGHT} in flight, calls/s`, fmt(conc, 0), `${fmt(cSeqRate, 0)} seq`, fmt(conc / cSeqRate, 2), ">= 2"],
    [`  (C, ${IN_FLIGHT} threads, calls/s)`, "", fmt(median(cConc), 0), "", ""],
    [`upload ${UPLOAD_BYTES / MiB} MiB, MiB/s`, fmt(up.ours), `${fmt(up.virsh)} virsh`, fmt(up.ours / up.virsh, 2), ">= 0.9"],
  ];
  // Each side against its own rule: ours gives up after interval × count silent seconds, libvirt's
  // client after interval × (count + 1).
  const ka = { ours: median(kaOurs), c: median(kaC), oursRule: KEEPALIVE.interval * KEEPALIVE.count, cRule: KEEPALIVE.interval * (KEEPALIVE.count + 1) };
  if (kaOurs.length) {
    rows.push([`keepalive ${KEEPALIVE.interval} s × ${KEEPALIVE.count}: dead after, s`, fmt(ka.ours, 2), fmt(ka.c, 2), "", ""]);
    rows.push([`  (÷ its own rule: ${ka.oursRule} s ours, ${ka.cRule} s C)`, fmt(ka.ours / ka.oursRule, 2), fmt(ka.c / ka.cRule, 2), "", ""]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  "));
  console.log(`(medians of ${ROUNDS} alternating rounds; virsh's time includes its start-up, ${fmt(median(startup) * 1e3)} ms;`
    + ` without it the upload ratio would be ${fmt(up.ours / upVirshNet, 2)})`);

  console.log(JSON.stringify({
    latencyUsPerPair: { ours: us(lat.ours), c: us(lat.c), ratio: round(lat.ours / lat.c, 3), target: "<= 1.0" },
    clientCpuUsPerPair: { ours: us(cpu.ours), c: us(cpu.c), ratio: round(cpu.ours / cpu.c, 3) },
    concurrentCallsPerSec: {
      ours: Math.round(conc), cSequential: Math.round(cSeqRate), ratio: round(conc / cSeqRate, 3), target: ">= 2",
      c16Threads: Math.round(median(cConc)),
    },
    uploadMiBPerSec: {
      ours: round(up.ours), virsh: round(up.virsh), ratio: round(up.ours / up.virsh, 3), target: ">= 0.9",
      virshStartupMs: round(median(startup) * 1e3), ratioWithoutVirshStartup: round(up.ours / upVirshNet, 3),
    },
    ...(kaOurs.length ? { keepaliveDeadAfterSeconds: { ours: round(ka.ours, 3), c: round(ka.c, 3), oursRule: ka.oursRule, cRule: ka.cRule, ...KEEPALIVE } } : {}),
    // Every round, for judging the noise behind the medians.
    samples: {
      latencyUs: { ours: oursLat.map(us), c: cLat.map(us) },
      concurrentCallsPerSec: { ours: oursConc.map(Math.round), c16Threads: cConc.map(Math.round) },
      uploadSeconds: { ours: oursUp.map((x) => round(x, 3)), virsh: virshUp.map((x) => round(x, 3)) },
      keepaliveSeconds: { ours: kaOurs.map((x) => round(x, 3)), c: kaC.map((x) => round(x, 3)) },
    },
    rounds: ROUNDS,
    pairs: PAIRS, concurrentPairs: CONCURRENT_PAIRS, inFlight: IN_FLIGHT, uploadMiB: UPLOAD_BYTES / MiB,
    ...env,
  }));
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function fmt(x: number, digits = 1): string {
  return x.toFixed(digits);
}

main()
  .catch((e) => {
    if (!interrupted) console.error(e);
    process.exitCode = interrupted ? 130 : 1;
  })
  .finally(cleanUp);
