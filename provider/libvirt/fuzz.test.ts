/**
 * Fuzzing the decoders: the framing (PacketDecoder) and every procedure's argument and reply
 * codec, fed random, truncated and mutated bytes. Whatever arrives from the socket, decoding
 * must throw nothing but LibvirtError, do work bounded by its input (reads, counted, not timed:
 * decode speed is the bench's business), and never allocate more than the bytes it was given (so
 * never more than MAX_PACKET).
 *
 * Reproducible: the PRNG is seeded. On failure the seed and iteration are printed; rerun with
 *   FUZZ_SEED=<seed> npx jest provider/libvirt/fuzz.test.ts
 * FUZZ_SEED=random picks a fresh seed; FUZZ_ITERATIONS scales the run (default 20000).
 */
import { LibvirtError } from "./errors";
import { HEADER_SIZE, Header, LENGTH_WORD, MAX_PACKET, MessageType, Packet, PacketDecoder, Program, Status, packetHeader, parsePacket, startPacket, finishPacket } from "./packet";
import { Domain, Events, Network, P, RemoteError, StoragePool, StorageVol, TypedParam } from "./protocol";
import { Codec, XdrReader, decode, encode } from "./xdr";

// ---------------------------------------------------------------------------------------------
// Seeded PRNG
// ---------------------------------------------------------------------------------------------

const SEED = (() => {
  const s = process.env.FUZZ_SEED;
  if (s === "random") return (Math.random() * 2 ** 32) >>> 0;
  if (s) return Number(s) >>> 0;
  return 0x5eed1e55;
})();
const ITERATIONS = Number(process.env.FUZZ_ITERATIONS) || 20000;

/** mulberry32: tiny, fast, good enough to explore inputs. */
class Rng {
  private a: number;
  constructor(seed: number) {
    this.a = seed >>> 0;
  }
  next(): number {
    let t = (this.a = (this.a + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  u32(): number {
    return (this.next() * 4294967296) >>> 0;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

// ---------------------------------------------------------------------------------------------
// Allocation tracking: every Buffer allocation made while `tracking` is on is measured, and
// every read from an XdrReader counted.
// ---------------------------------------------------------------------------------------------

let tracking = false;
let largest = 0;
let reads = 0;
const readerProto = XdrReader.prototype as unknown as { take(n: number): number };
const realTake = readerProto.take;
type AnyFn = (...args: any[]) => any;
const B = Buffer as unknown as Record<string, AnyFn>;
const realFns: Record<string, AnyFn> = {};

function sizeOf(name: string, args: unknown[]): number {
  const [a, b] = args;
  switch (name) {
    case "from":
      if (typeof a === "string") return Buffer.byteLength(a, (typeof b === "string" ? b : "utf8") as BufferEncoding);
      if (a instanceof ArrayBuffer || a instanceof SharedArrayBuffer) return 0; // a view, no copy
      if (a && typeof (a as { length?: unknown }).length === "number") return (a as { length: number }).length;
      return 0;
    case "concat": {
      if (typeof b === "number") return b;
      return (a as Uint8Array[]).reduce((n, x) => n + x.length, 0);
    }
    default:
      return typeof a === "number" ? a : 0;
  }
}

function installTracking(): void {
  for (const name of ["alloc", "allocUnsafe", "allocUnsafeSlow", "from", "concat"]) {
    const real = B[name];
    realFns[name] = real;
    B[name] = function (this: unknown, ...args: unknown[]) {
      if (tracking) largest = Math.max(largest, sizeOf(name, args));
      return real.apply(Buffer, args);
    };
  }
  readerProto.take = function (this: unknown, n: number) {
    if (tracking) reads++;
    return realTake.call(this, n);
  };
}

function removeTracking(): void {
  for (const [name, fn] of Object.entries(realFns)) B[name] = fn;
  readerProto.take = realTake;
}

/** The largest Buffer allocation made by fn, its XdrReader reads, and what it threw (if anything). */
function measure(fn: () => void): { largest: number; reads: number; thrown: unknown } {
  largest = 0;
  reads = 0;
  tracking = true;
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  } finally {
    tracking = false;
  }
  return { largest, reads, thrown };
}

/**
 * Every read consumes at least 4 bytes, except the payload of an empty opaque or string, which
 * follows its own 4-byte length: more reads than this means a loop that does not consume its
 * input (a count trusted without a bound), the kind of decode that hangs.
 */
const readBudget = (input: Buffer) => 2 * Math.ceil(input.length / 4) + 2;

class FuzzFailure extends Error {}

function fail(what: string, iteration: number, input: Buffer, why: string): never {
  const shown = input.length > 256 ? `${input.subarray(0, 256).toString("hex")}... (${input.length} bytes)` : input.toString("hex");
  const msg = `fuzz failure with FUZZ_SEED=${SEED} at iteration ${iteration} (${what}): ${why}\n  input: ${shown}`;
  // eslint-disable-next-line no-console
  console.error(msg);
  throw new FuzzFailure(msg);
}

/** Decoding must either succeed or throw LibvirtError, reading in proportion to its input and allocating no more than `budget` bytes. */
function check(what: string, iteration: number, input: Buffer, budget: number, fn: () => void): boolean {
  const r = measure(fn);
  if (r.thrown !== undefined && !(r.thrown instanceof LibvirtError)) {
    const e = r.thrown as Error;
    fail(what, iteration, input, `threw ${e?.constructor?.name ?? typeof e}: ${e?.message ?? String(e)}\n${e?.stack ?? ""}`);
  }
  if (r.largest > budget) fail(what, iteration, input, `allocated ${r.largest} bytes, more than the ${budget} it was given`);
  if (r.reads > readBudget(input)) fail(what, iteration, input, `made ${r.reads} reads from ${input.length} bytes`);
  return r.thrown === undefined;
}

// ---------------------------------------------------------------------------------------------
// Valid encodings for any codec: drive its decoder with a reader that invents plausible
// primitives and records their bytes. What it records is, by construction, a valid encoding.
// ---------------------------------------------------------------------------------------------

class RecordingReader {
  private parts: Buffer[] = [];
  private pos = 0;
  /** Offsets of the 32-bit words read: lengths, counts, optional flags, discriminants, values. */
  readonly wordOffsets: number[] = [];
  private words = 0;

  constructor(private readonly rnd: Rng) {}

  /** Pretend there is plenty left, so length checks pass. */
  get remaining(): number {
    return 1 << 20;
  }

  private add(b: Buffer): void {
    this.parts.push(b);
    this.pos += b.length;
  }

  private word(v: number, signed: boolean): void {
    // Bound the size of what is generated: nested lists of lists stay small.
    if (++this.words > 4000) throw new LibvirtError("sample too large");
    const b = Buffer.alloc(4);
    if (signed) b.writeInt32BE(v);
    else b.writeUInt32BE(v >>> 0);
    this.wordOffsets.push(this.pos);
    this.add(b);
  }

  /** Small values mostly: they are counts, lengths, flags and discriminants as often as data. */
  private small(): number {
    const r = this.rnd;
    const x = r.next();
    if (x < 0.4) return 0;
    if (x < 0.8) return 1;
    if (x < 0.95) return r.int(8);
    return r.int(40);
  }

  i32(): number {
    const v = this.rnd.chance(0.05) ? -this.rnd.int(1000) : this.small();
    this.word(v, true);
    return v;
  }

  u32(): number {
    const v = this.small();
    this.word(v, false);
    return v;
  }

  i64(): bigint {
    const v = BigInt(this.rnd.int(2 ** 31)) * (this.rnd.chance(0.2) ? -1n : 1n) * BigInt(this.rnd.int(1000));
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(v);
    this.add(b);
    return v;
  }

  u64(): bigint {
    const v = BigInt(this.rnd.int(2 ** 31)) * BigInt(this.rnd.int(1000));
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(v);
    this.add(b);
    return v;
  }

  f64(): number {
    const v = (this.rnd.next() - 0.5) * 1e6;
    const b = Buffer.alloc(8);
    b.writeDoubleBE(v);
    this.add(b);
    return v;
  }

  bytes(n: number): Buffer {
    const padded = n + (-n & 3);
    const b = Buffer.alloc(padded);
    for (let i = 0; i < n; i++) b[i] = 0x61 + this.rnd.int(26);
    this.add(b);
    return Buffer.from(b.subarray(0, n));
  }

  expectEnd(): void {}

  recorded(): Buffer {
    return Buffer.concat(this.parts);
  }
}

interface Seed {
  bytes: Buffer;
  wordOffsets: number[];
}

/** A valid encoding of c, or undefined if the random walk kept producing invalid values. */
function sample(c: Codec<unknown>, rnd: Rng): Seed | undefined {
  for (let attempt = 0; attempt < 200; attempt++) {
    const r = new RecordingReader(rnd);
    try {
      c.dec(r as unknown as XdrReader);
    } catch (e) {
      if (e instanceof LibvirtError) continue; // e.g. an optional flag of 2 or an unknown union arm: try again
      throw e;
    }
    return { bytes: r.recorded(), wordOffsets: r.wordOffsets };
  }
  return undefined;
}

// Every codec that decodes bytes from the daemon (and the args, which share the machinery).
const codecs: Array<[string, Codec<any>]> = [
  ...Object.entries(P).flatMap(([name, p]): Array<[string, Codec<any>]> => [
    [`${name}.args`, p.args as Codec<any>],
    [`${name}.ret`, p.ret as Codec<any>],
  ]),
  ...Object.entries(Events).map(([name, e]): [string, Codec<any>] => [`event ${name}`, e.body]),
  ["RemoteError", RemoteError],
  ["TypedParam", TypedParam],
  ["Domain", Domain],
  ["Network", Network],
  ["StoragePool", StoragePool],
  ["StorageVol", StorageVol],
];

const INTERESTING_WORDS = [
  0, 1, 2, 3, 4, 5, 7, 8, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x3fffffff, 0x40000000,
  0x7ffffffc, 0x7ffffffd, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffc, 0xfffffffd, 0xfffffffe, 0xffffffff,
  MAX_PACKET, MAX_PACKET + 1, 4 * 1024 * 1024 + 1,
];

/** One random mutation of a valid encoding. */
function mutate(rnd: Rng, seed: Seed): Buffer {
  const src = seed.bytes;
  let b = Buffer.from(src);
  const rounds = 1 + rnd.int(rnd.chance(0.8) ? 2 : 8);
  for (let k = 0; k < rounds; k++) {
    switch (rnd.int(9)) {
      case 0: // flip a bit
        if (b.length) b[rnd.int(b.length)] ^= 1 << rnd.int(8);
        break;
      case 1: // random byte
        if (b.length) b[rnd.int(b.length)] = rnd.int(256);
        break;
      case 2: // truncate
        b = b.subarray(0, rnd.int(b.length + 1));
        break;
      case 3: // append junk
        b = Buffer.concat([b, rnd.bytes(1 + rnd.int(12))]);
        break;
      case 4: // delete a span
      {
        const at = rnd.int(b.length + 1);
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + rnd.int(8)))]);
        break;
      }
      case 5: // insert a word
      {
        const at = rnd.int(b.length + 1) & ~3;
        const w = Buffer.alloc(4);
        w.writeUInt32BE(rnd.pick(INTERESTING_WORDS) >>> 0);
        b = Buffer.concat([b.subarray(0, at), w, b.subarray(at)]);
        break;
      }
      default: // overwrite a word the decoder reads (length, count, flag, discriminant) with an interesting value
      {
        const offs = seed.wordOffsets.filter((o) => o + 4 <= b.length);
        if (!offs.length) break;
        b = Buffer.from(b);
        b.writeUInt32BE(rnd.pick(INTERESTING_WORDS) >>> 0, rnd.pick(offs));
        break;
      }
    }
  }
  return b;
}

// ---------------------------------------------------------------------------------------------

beforeAll(installTracking);
afterAll(removeTracking);

describe(`fuzzing (FUZZ_SEED=${SEED})`, () => {
  const rnd = new Rng(SEED);
  const seeds = new Map<string, Seed[]>();

  beforeAll(() => {
    for (const [name, c] of codecs) {
      const list: Seed[] = [];
      for (let i = 0; i < 6; i++) {
        const s = sample(c, rnd);
        if (s) list.push(s);
      }
      seeds.set(name, list);
    }
  });

  test("the generator produces valid encodings for every codec, and they round-trip", () => {
    expect(codecs.length).toBeGreaterThan(2 * 90);
    for (const [name, c] of codecs) {
      const list = seeds.get(name)!;
      expect({ name, samples: list.length }).toEqual({ name, samples: 6 });
      for (const s of list) {
        // The sample may be non-canonical (a bool word of 7 decodes as true, re-encodes as 1),
        // so check that decode . encode is a fixed point from the first decode on.
        const v = decode(c, s.bytes, name);
        const again = encode(c, v);
        const v2 = decode(c, again, name);
        expect(v2).toEqual(v);
        expect(encode(c, v2).toString("hex")).toBe(again.toString("hex"));
      }
    }
  });

  test("every length, count and flag word set to an extreme value: LibvirtError, no big allocation", () => {
    let cases = 0;
    for (const [name, c] of codecs) {
      for (const s of seeds.get(name)!) {
        for (const off of s.wordOffsets) {
          for (const w of [0xffffffff, 0xfffffffd, 0x80000000, 0x7fffffff, 0x3fffffff, MAX_PACKET, 2]) {
            const input = Buffer.from(s.bytes);
            input.writeUInt32BE(w, off);
            check(`${name} with word at ${off} = 0x${w.toString(16)}`, cases++, input, input.length, () => decode(c, input, name));
          }
        }
      }
    }
    expect(cases).toBeGreaterThan(1000);
  });

  test("array counts of 2^32-1 in list replies are refused before anything is allocated", () => {
    const lists: Array<[string, Codec<any>, string]> = [
      ["CONNECT_LIST_ALL_DOMAINS.ret", P.CONNECT_LIST_ALL_DOMAINS.ret, "ffffffff 00000000"],
      ["CONNECT_LIST_ALL_NETWORKS.ret", P.CONNECT_LIST_ALL_NETWORKS.ret, "ffffffff"],
      ["CONNECT_LIST_ALL_STORAGE_POOLS.ret", P.CONNECT_LIST_ALL_STORAGE_POOLS.ret, "ffffffff 00000001 00000002"],
      ["STORAGE_POOL_LIST_ALL_VOLUMES.ret", P.STORAGE_POOL_LIST_ALL_VOLUMES.ret, "ffffffff"],
      ["DOMAIN_LIST_ALL_SNAPSHOTS.ret", P.DOMAIN_LIST_ALL_SNAPSHOTS.ret, "ffffffff"],
      ["NETWORK_GET_DHCP_LEASES.ret", P.NETWORK_GET_DHCP_LEASES.ret, "ffffffff"],
      ["DOMAIN_INTERFACE_ADDRESSES.ret", P.DOMAIN_INTERFACE_ADDRESSES.ret, "ffffffff"],
      // One interface whose address list claims 2^32-1 entries.
      ["DOMAIN_INTERFACE_ADDRESSES.ret (inner)", P.DOMAIN_INTERFACE_ADDRESSES.ret, "00000001 00000001 61000000 00000000 ffffffff"],
      ["AUTH_LIST.ret", P.AUTH_LIST.ret, "ffffffff 00000000"],
      ["RemoteError message length", RemoteError, "00000001 00000000 00000001 ffffffff 00000000"],
      ["CONNECT_GET_CAPABILITIES.ret", P.CONNECT_GET_CAPABILITIES.ret, "ffffffff 3c636170"],
    ];
    lists.forEach(([name, c, h], i) => {
      const input = Buffer.from(h.replace(/\s+/g, ""), "hex");
      const r = measure(() => decode(c, input, name));
      expect({ name, isLibvirtError: r.thrown instanceof LibvirtError }).toEqual({ name, isLibvirtError: true });
      if (r.largest > input.length) fail(name, i, input, `allocated ${r.largest} bytes`);
    });
  });

  test(`${ITERATIONS} mutated and random payloads through every procedure's codecs`, () => {
    let ok = 0;
    let refused = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const [name, c] = rnd.pick(codecs);
      const list = seeds.get(name)!;
      let input: Buffer;
      const kind = rnd.next();
      if (kind < 0.7 && list.length) input = mutate(rnd, rnd.pick(list));
      else if (kind < 0.85 && list.length) {
        const s = rnd.pick(list).bytes; // a valid prefix
        input = s.subarray(0, rnd.int(s.length + 1));
      } else input = rnd.bytes(rnd.int(rnd.chance(0.9) ? 64 : 2048));
      if (check(name, i, input, input.length, () => decode(c, input, name))) ok++;
      else refused++;
    }
    // Both outcomes are exercised (a fuzzer that only ever fails early tests little).
    expect(ok).toBeGreaterThan(ITERATIONS / 50);
    expect(refused).toBeGreaterThan(ITERATIONS / 2);
  });

  // -------------------------------------------------------------------------------------------
  // Framing
  // -------------------------------------------------------------------------------------------

  const procs = Object.values(P);
  const procByNumber = new Map(Object.entries(P).map(([name, p]) => [p.number, { name, p }]));

  function randomHeader(): Header {
    const p = rnd.pick(procs);
    return {
      program: rnd.chance(0.9) ? Program.REMOTE : rnd.pick([Program.KEEPALIVE, Program.QEMU, rnd.u32()]),
      version: 1,
      procedure: p.number,
      type: rnd.pick([MessageType.REPLY, MessageType.REPLY, MessageType.MESSAGE, MessageType.STREAM, rnd.int(10)]),
      serial: rnd.chance(0.5) ? rnd.int(100) : rnd.u32(),
      status: rnd.pick([Status.OK, Status.OK, Status.ERROR, Status.CONTINUE]),
    };
  }

  /** A valid packet: a reply to a random procedure, an error, or stream data. */
  function randomPacket(): Buffer {
    const h = randomHeader();
    const { name } = procByNumber.get(h.procedure)!;
    let payload: Buffer;
    if (h.type === MessageType.STREAM && h.status === Status.CONTINUE) payload = rnd.bytes(rnd.int(300));
    else if (h.status === Status.ERROR) payload = rnd.pick(seeds.get("RemoteError")!).bytes;
    else payload = rnd.pick(seeds.get(`${name}.ret`)!).bytes;
    if (rnd.chance(0.1)) return Buffer.concat([packetHeader(h, payload.length), payload]);
    const w = startPacket(h, payload.length);
    w.bytes(payload); // payloads from codecs are already multiples of four; stream data may pad here
    return Buffer.from(finishPacket(w));
  }

  /** Cut a stream into random chunks: empty, tiny, and large ones. */
  function chunks(stream: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let at = 0;
    while (at < stream.length) {
      const x = rnd.next();
      const n = x < 0.05 ? 0 : x < 0.5 ? 1 + rnd.int(8) : x < 0.9 ? 1 + rnd.int(128) : stream.length;
      out.push(stream.subarray(at, at + n));
      at += n;
    }
    if (rnd.chance(0.1)) out.push(Buffer.alloc(0));
    return out;
  }

  /** What the RPC layer does with a packet: decode the payload as an error or as the reply. */
  function decodePayload(p: Packet): void {
    if (p.type === MessageType.STREAM && p.status === Status.CONTINUE) return;
    if (p.status === Status.ERROR) {
      const r = new XdrReader(p.payload);
      RemoteError.dec(r);
      return;
    }
    const proc = procByNumber.get(p.procedure)?.p ?? rnd.pick(procs);
    decode(proc.ret as Codec<unknown>, p.payload, "reply");
  }

  test("valid packet streams in random chunks come out exactly as they went in", () => {
    const n = Math.max(200, ITERATIONS / 10);
    for (let i = 0; i < n; i++) {
      const frames = Array.from({ length: 1 + rnd.int(6) }, randomPacket);
      const stream = Buffer.concat(frames);
      const d = new PacketDecoder();
      const got: Packet[] = [];
      let fed = 0;
      for (const c of chunks(stream)) {
        fed += c.length;
        const r = measure(() => got.push(...d.push(c)));
        if (r.thrown !== undefined) fail("valid stream", i, stream, `threw ${String(r.thrown)}`);
        if (r.largest > fed) fail("valid stream", i, stream, `allocated ${r.largest} bytes after receiving ${fed}`);
      }
      const want = frames.map((f) => parsePacket(f));
      if (got.length !== want.length || got.some((p, k) => !sameTo(p, want[k]))) {
        fail("valid stream", i, stream, `decoded ${got.length} packets, expected ${want.length} identical ones`);
      }
    }
  });

  test(`${ITERATIONS} corrupted and random streams through PacketDecoder and the payload decoders`, () => {
    let packets = 0;
    let framingErrors = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      let stream: Buffer;
      const kind = rnd.next();
      if (kind < 0.6) {
        const frames = Array.from({ length: 1 + rnd.int(4) }, randomPacket);
        stream = mutate(rnd, { bytes: Buffer.concat(frames), wordOffsets: frameWordOffsets(frames) });
      } else if (kind < 0.8) {
        // A valid packet whose payload is mutated but whose length word is fixed up to match.
        const h = randomHeader();
        const name = rnd.pick(codecs)[0];
        const payload = mutate(rnd, rnd.pick(seeds.get(name)!.length ? seeds.get(name)! : seeds.get("RemoteError")!));
        stream = Buffer.concat([packetHeader(h, payload.length), payload]);
      } else {
        stream = rnd.bytes(rnd.int(200));
        if (rnd.chance(0.5) && stream.length >= 4) stream.writeUInt32BE(LENGTH_WORD + HEADER_SIZE + rnd.int(stream.length), 0);
      }
      const d = new PacketDecoder();
      let fed = 0;
      for (const c of chunks(stream)) {
        fed += c.length;
        let got: Packet[] = [];
        const ok = check("PacketDecoder.push", i, stream, fed, () => {
          got = d.push(c);
        });
        if (!ok) {
          framingErrors++;
          break; // the connection is dead after a framing error
        }
        for (const p of got) {
          packets++;
          if (p.payload.length + LENGTH_WORD + HEADER_SIZE > MAX_PACKET) fail("PacketDecoder.push", i, stream, "oversized packet");
          check(`payload of procedure ${p.procedure}`, i, p.payload, p.payload.length, () => decodePayload(p));
        }
      }
    }
    expect(packets).toBeGreaterThan(ITERATIONS / 4);
    expect(framingErrors).toBeGreaterThan(ITERATIONS / 20);
  });

  test("a packet claiming 4 GiB (or just over MAX_PACKET) is refused without allocating", () => {
    for (const claim of [0xffffffff, 0x80000000, MAX_PACKET + 1]) {
      const head = Buffer.alloc(28);
      head.writeUInt32BE(claim, 0);
      head.writeUInt32BE(Program.REMOTE, 4);
      for (const split of [28, 4, 2, 1]) {
        const d = new PacketDecoder();
        const r = measure(() => {
          for (let at = 0; at < head.length; at += split) d.push(head.subarray(at, at + split));
        });
        expect(r.thrown).toBeInstanceOf(LibvirtError);
        expect(r.largest).toBeLessThanOrEqual(head.length);
      }
    }
  });

  test("a packet claiming exactly MAX_PACKET allocates nothing until its body has arrived", () => {
    const d = new PacketDecoder();
    const r = measure(() => {
      expect(d.push(packetHeader({ program: Program.REMOTE, version: 1, procedure: 1, type: 1, serial: 1, status: 0 }, MAX_PACKET - 28))).toEqual([]);
      for (let i = 0; i < 100; i++) expect(d.push(Buffer.alloc(0))).toEqual([]);
    });
    expect(r.thrown).toBeUndefined();
    expect(r.largest).toBeLessThanOrEqual(28);
  });

  test("memory stays flat across a burst of hostile input", () => {
    const before = process.memoryUsage();
    for (let i = 0; i < 2000; i++) {
      const d = new PacketDecoder();
      const hostile = Buffer.alloc(32);
      hostile.writeUInt32BE(rnd.pick([0xffffffff, MAX_PACKET, MAX_PACKET + 1, 0x7fffffff]), 0);
      try {
        d.push(hostile);
      } catch (e) {
        expect(e).toBeInstanceOf(LibvirtError);
      }
      try {
        decode(P.CONNECT_LIST_ALL_DOMAINS.ret, Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]));
      } catch (e) {
        expect(e).toBeInstanceOf(LibvirtError);
      }
    }
    const after = process.memoryUsage();
    // Coarse: one MAX_PACKET buffer would show up here; 2000 of them could not go unnoticed.
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(MAX_PACKET);
    expect(after.rss - before.rss).toBeLessThan(4 * MAX_PACKET);
  });
});

/** Offsets of each frame's length word and header words, for targeted mutation. */
function frameWordOffsets(frames: Buffer[]): number[] {
  const out: number[] = [];
  let at = 0;
  for (const f of frames) {
    for (let k = 0; k < LENGTH_WORD + HEADER_SIZE; k += 4) out.push(at + k);
    at += f.length;
  }
  return out;
}

function sameTo(a: Packet, b: Packet): boolean {
  return a.program === b.program && a.version === b.version && a.procedure === b.procedure && a.type === b.type
    && a.serial === b.serial && a.status === b.status && a.payload.equals(b.payload);
}
