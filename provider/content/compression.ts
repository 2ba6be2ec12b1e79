/**
 * Decompression on the fly: gzip through node:zlib, xz through xz-decompress (xz-embedded
 * compiled to WebAssembly: no native addon, so it installs anywhere Node runs). Both work chunk
 * by chunk with backpressure; nothing is held whole in memory.
 */
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ReadableStream as WebReadableStream } from "node:stream/web";
import { createGunzip } from "node:zlib";

export type Compression = "none" | "gzip" | "xz";
export const COMPRESSION_CHOICES = ["auto", "none", "gzip", "xz"] as const;
export type CompressionChoice = (typeof COMPRESSION_CHOICES)[number];

/** Compressions recognised only to say clearly that they are not supported. */
const UNSUPPORTED: { name: string; magic: number[] }[] = [
  { name: "bzip2", magic: [0x42, 0x5a, 0x68] },
  { name: "zstd", magic: [0x28, 0xb5, 0x2f, 0xfd] },
  { name: "lz4", magic: [0x04, 0x22, 0x4d, 0x18] },
  { name: "zip", magic: [0x50, 0x4b, 0x03, 0x04] },
  { name: "legacy lzma (.lzma)", magic: [0x5d, 0x00, 0x00] },
];

const GZIP = [0x1f, 0x8b];
const XZ = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];

const startsWith = (b: Buffer, magic: number[]) => b.length >= magic.length && magic.every((m, i) => b[i] === m);

/** The compression of data that starts with `head` (at least 6 bytes when the data has them). */
export function detectCompression(head: Buffer): Compression | { unsupported: string } {
  if (startsWith(head, GZIP)) return "gzip";
  if (startsWith(head, XZ)) return "xz";
  const other = UNSUPPORTED.find((u) => startsWith(head, u.magic));
  return other ? { unsupported: other.name } : "none";
}

/** The decompressed bytes of `input`, which is consumed to its end (trailing bytes included). */
export function decompress(kind: Compression, input: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  if (kind === "gzip") return through(input, createGunzip({ chunkSize: 256 * 1024 }), "gzip");
  if (kind === "xz") return xz(input);
  return input;
}

async function* through(input: AsyncIterable<Buffer>, t: Transform, name: string): AsyncGenerator<Buffer> {
  const src = Readable.from(input, { objectMode: false });
  const done = pipeline(src, t);
  done.catch(() => undefined); // observed below
  try {
    for await (const chunk of t) yield chunk as Buffer;
    await done;
  } catch (e) {
    throw new Error(`the ${name} data is corrupt or ends early: ${(e as Error).message}`);
  } finally {
    src.destroy();
    t.destroy();
  }
}

// ---- xz

type XzStreamClass = new (compressed: WebReadableStream<Uint8Array>) => WebReadableStream<Uint8Array>;

let xzClass: XzStreamClass | undefined;
function xzStreamClass(): XzStreamClass {
  if (!xzClass) {
    try {
      // Loaded on first use: the WebAssembly module is only compiled when an xz source appears.
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      xzClass = require("xz-decompress").XzReadableStream as XzStreamClass;
    } catch (e) {
      throw new Error(`xz decompression needs the xz-decompress package next to pulumi-libvirt (npm install xz-decompress): ${(e as Error).message}`);
    }
  }
  return xzClass;
}

/** xz-embedded's return codes (linux/include/linux/xz.h). */
const XZ_ERRORS: Record<number, string> = {
  2: "it uses an integrity check this decoder does not support",
  3: "the decoder ran out of memory",
  4: "its dictionary is larger than the decoder allows",
  5: "it is not in .xz format",
  6: "it uses options this decoder does not support (SHA-256 check or BCJ filters): recompress it with `xz --check=crc64` and no filters",
  7: "the compressed data is corrupt",
  8: "the data ends early (truncated file or interrupted download)",
};

function xzError(e: unknown): Error {
  const m = /error code (\d+)/.exec((e as Error)?.message ?? "");
  const why = m ? XZ_ERRORS[Number(m[1])] ?? `decoder error ${m[1]}` : `the data ends early or is corrupt (${(e as Error)?.message ?? e})`;
  return new Error(`the xz data could not be decompressed: ${why}`);
}

/**
 * xz-decompress shares one WebAssembly instance between its streams and serialises them with a
 * lock of its own, which a stream abandoned at the wrong moment can release twice. One xz stream
 * at a time per process, under this lock, keeps its lock uncontended; concurrent xz sources
 * therefore decompress one after another.
 */
let xzQueue: Promise<void> = Promise.resolve();
function xzLock(): Promise<() => void> {
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  const acquired = xzQueue.then(() => release);
  xzQueue = xzQueue.then(() => mine);
  return acquired;
}

async function* xz(input: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const Xz = xzStreamClass();
  const release = await xzLock();
  const it = input[Symbol.asyncIterator]();
  let reader: ReturnType<WebReadableStream<Uint8Array>["getReader"]> | undefined;
  let finished = false;
  try {
    const compressed = new WebReadableStream<Uint8Array>({
      async pull(c) {
        const r = await it.next();
        if (r.done) c.close();
        else c.enqueue(new Uint8Array(r.value.buffer, r.value.byteOffset, r.value.length));
      },
    }, { highWaterMark: 0 });
    reader = new Xz(compressed).getReader();
    for (;;) {
      let r;
      try {
        r = await reader.read();
      } catch (e) {
        throw xzError(e);
      }
      if (r.done) break;
      if (r.value.length) yield Buffer.from(r.value.buffer, r.value.byteOffset, r.value.length);
    }
    finished = true;
    // The decoder stops at the end of the xz data: read what follows so the whole source is seen.
    for (let r = await it.next(); !r.done; r = await it.next());
  } finally {
    if (!finished) {
      await reader?.cancel().catch(() => undefined);
      await it.return?.();
    }
    release();
  }
}
