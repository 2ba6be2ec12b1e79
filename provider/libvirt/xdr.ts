/**
 * XDR (RFC 4506) as libvirt's rpcgen uses it, as composable codecs.
 *
 * A Codec<T> knows how to write a T and read one back; structs, arrays and optionals are built
 * from smaller codecs, so each wire type in protocol.ts is one declaration. Every read is bounds
 * checked and every length is checked against its limit before anything is allocated: a bad
 * packet yields a LibvirtError, never a RangeError or a huge allocation.
 */
import { LibvirtError, ProtocolError } from "./errors";

export class XdrWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  i32(v: number): void {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
  }

  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
  }

  i64(v: bigint): void {
    this.ensure(8);
    this.buf.writeBigInt64BE(v, this.pos);
    this.pos += 8;
  }

  u64(v: bigint): void {
    this.ensure(8);
    this.buf.writeBigUInt64BE(v, this.pos);
    this.pos += 8;
  }

  f64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
  }

  /** Raw bytes followed by zero padding to a multiple of four. */
  bytes(b: Uint8Array): void {
    const padded = b.length + (-b.length & 3);
    this.ensure(padded);
    this.buf.set(b, this.pos);
    this.buf.fill(0, this.pos + b.length, this.pos + padded);
    this.pos += padded;
  }

  /** Reserve n bytes at the current position, returning their offset (for headers). */
  skip(n: number): number {
    this.ensure(n);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  patchU32(at: number, v: number): void {
    this.buf.writeUInt32BE(v >>> 0, at);
  }

  get length(): number {
    return this.pos;
  }

  /** A view of what was written (valid until the next write). */
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

export class XdrReader {
  private pos: number;

  constructor(
    private readonly buf: Buffer,
    start = 0,
    private readonly end = buf.length,
  ) {
    this.pos = start;
  }

  private take(n: number): number {
    if (n > this.end - this.pos) {
      throw new ProtocolError(`truncated data: needed ${n} bytes at offset ${this.pos}, have ${this.end - this.pos}`);
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  i32(): number {
    return this.buf.readInt32BE(this.take(4));
  }

  u32(): number {
    return this.buf.readUInt32BE(this.take(4));
  }

  i64(): bigint {
    return this.buf.readBigInt64BE(this.take(8));
  }

  u64(): bigint {
    return this.buf.readBigUInt64BE(this.take(8));
  }

  f64(): number {
    return this.buf.readDoubleBE(this.take(8));
  }

  /** n raw bytes plus their padding; a copy, so the packet buffer can be released. */
  bytes(n: number): Buffer {
    // n + (-n & 3), not (n + 3) & ~3: 32-bit bitwise arithmetic would wrap lengths near 2^32 to 0.
    const at = this.take(n + (-n & 3));
    return Buffer.from(this.buf.subarray(at, at + n));
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** Decoding must consume the whole payload; leftovers mean the codec and daemon disagree. */
  expectEnd(what: string): void {
    if (this.pos !== this.end) throw new ProtocolError(`${this.end - this.pos} unexpected trailing bytes after ${what}`);
  }
}

export interface Codec<T> {
  enc(w: XdrWriter, v: T): void;
  dec(r: XdrReader): T;
}

export type Decoded<C> = C extends Codec<infer T> ? T : never;

export const int: Codec<number> = { enc: (w, v) => w.i32(v), dec: (r) => r.i32() };
export const uint: Codec<number> = { enc: (w, v) => w.u32(v), dec: (r) => r.u32() };
export const double: Codec<number> = { enc: (w, v) => w.f64(v), dec: (r) => r.f64() };
export const bool: Codec<boolean> = { enc: (w, v) => w.i32(v ? 1 : 0), dec: (r) => r.i32() !== 0 };
/** rpcgen puts `char`, `unsigned char` and `short` in a full 4-byte word. */
export const char = int;
export const short = int;

function safe(v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new ProtocolError(`64-bit value ${v} exceeds JavaScript's safe integer range`);
  }
  return Number(v);
}

/** 64-bit integers as JS numbers: byte counts and times here stay far below 2^53. */
export const hyper: Codec<number> = { enc: (w, v) => w.i64(BigInt(v)), dec: (r) => safe(r.i64()) };
export const uhyper: Codec<number> = { enc: (w, v) => w.u64(BigInt(v)), dec: (r) => safe(r.u64()) };

function checkLength(n: number, max: number, what: string): void {
  if (n > max) throw new ProtocolError(`${what} length ${n} exceeds its limit of ${max}`);
}

export function string(max: number): Codec<string> {
  return {
    enc(w, v) {
      const b = Buffer.from(v, "utf8");
      checkLength(b.length, max, "string");
      w.u32(b.length);
      w.bytes(b);
    },
    dec(r) {
      const n = r.u32();
      checkLength(n, Math.min(max, r.remaining), "string");
      return r.bytes(n).toString("utf8");
    },
  };
}

/** Variable-length opaque<max>. */
export function opaque(max: number): Codec<Buffer> {
  return {
    enc(w, v) {
      checkLength(v.length, max, "opaque");
      w.u32(v.length);
      w.bytes(v);
    },
    dec(r) {
      const n = r.u32();
      checkLength(n, Math.min(max, r.remaining), "opaque");
      return r.bytes(n);
    },
  };
}

/** Fixed-length opaque[n], such as a 16-byte UUID. */
export function fixedOpaque(n: number): Codec<Buffer> {
  return {
    enc(w, v) {
      if (v.length !== n) throw new LibvirtError(`expected ${n} bytes, got ${v.length}`);
      w.bytes(v);
    },
    dec: (r) => r.bytes(n),
  };
}

/** Fixed-length array T[n] (every element present, no count on the wire). */
export function fixedArray<T>(item: Codec<T>, n: number): Codec<T[]> {
  return {
    enc(w, v) {
      if (v.length !== n) throw new LibvirtError(`expected ${n} elements, got ${v.length}`);
      for (const x of v) item.enc(w, x);
    },
    dec(r) {
      const out: T[] = [];
      for (let i = 0; i < n; i++) out.push(item.dec(r));
      return out;
    },
  };
}

/** Variable-length array T<max>. Each element takes at least 4 bytes, which bounds the count. */
export function array<T>(item: Codec<T>, max: number): Codec<T[]> {
  return {
    enc(w, v) {
      checkLength(v.length, max, "array");
      w.u32(v.length);
      for (const x of v) item.enc(w, x);
    },
    dec(r) {
      const n = r.u32();
      checkLength(n, Math.min(max, r.remaining / 4), "array");
      const out: T[] = [];
      for (let i = 0; i < n; i++) out.push(item.dec(r));
      return out;
    },
  };
}

/** Optional data `T *`: a boolean word, then T when present. */
export function optional<T>(item: Codec<T>): Codec<T | undefined> {
  return {
    enc(w, v) {
      w.u32(v === undefined ? 0 : 1);
      if (v !== undefined) item.enc(w, v);
    },
    dec(r) {
      const present = r.u32();
      if (present > 1) throw new ProtocolError(`optional-data flag ${present} is neither 0 nor 1`);
      return present ? item.dec(r) : undefined;
    },
  };
}

type Fields = Record<string, Codec<any>>;
export type StructOf<F extends Fields> = { [K in keyof F]: Decoded<F[K]> };

/** A struct: fields in declaration order, as in the .x file. */
export function struct<F extends Fields>(fields: F): Codec<StructOf<F>> {
  const entries = Object.entries(fields);
  return {
    enc(w, v) {
      for (const [k, c] of entries) c.enc(w, (v as any)[k]);
    },
    dec(r) {
      const out: any = {};
      for (const [k, c] of entries) out[k] = c.dec(r);
      return out;
    },
  };
}

/** The empty body of calls and replies that carry no data. */
export const none: Codec<void> = { enc: () => undefined, dec: () => undefined };

/** Encode a value on its own (tests, stream payloads). */
export function encode<T>(c: Codec<T>, v: T): Buffer {
  const w = new XdrWriter();
  c.enc(w, v);
  return Buffer.from(w.finish());
}

/** Decode a whole buffer, insisting every byte is accounted for. */
export function decode<T>(c: Codec<T>, buf: Buffer, what = "value"): T {
  const r = new XdrReader(buf);
  const v = c.dec(r);
  r.expectEnd(what);
  return v;
}
