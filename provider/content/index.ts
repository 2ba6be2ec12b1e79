/**
 * A volume's content, ready to stream: opened from a file or URL, decompressed when it is gzip
 * or xz, probed (qcow2 or raw, virtual size) from its first bytes before anything is created,
 * and checked while it streams: the sha256 and the length are verified when the last byte has
 * been read and before the upload is confirmed, so a mismatch aborts the upload.
 *
 * The checksum is of the source AS STORED OR SERVED (the compressed file for .gz and .xz):
 * what `sha256sum` prints for it and what distributions publish in their SHA256SUMS files. The
 * decompressed bytes are covered by the compression's own integrity check (gzip's CRC32 and
 * length, xz's CRC32/CRC64), which the decoders verify.
 */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { Compression, CompressionChoice, decompress, detectCompression } from "./compression";
import { detectImage, IMAGE_HEAD_BYTES, ImageInfo } from "./image";
import { openFile, openUrl, OpenedSource } from "./source";

export type { Compression, CompressionChoice, ImageInfo };
export { COMPRESSION_CHOICES } from "./compression";
export { redactUrl } from "./source";

export interface ContentSource {
  /** A file on the machine running Pulumi; relative paths are relative to the program's directory. */
  path?: string;
  /** An http:// or https:// URL. */
  url?: string;
  /** Hex sha256 of the file as stored or served (before decompression). */
  sha256?: string;
  /** Default "auto": detected from the first bytes. */
  compression?: CompressionChoice;
}

export class ChecksumMismatchError extends Error {
  override readonly name = "ChecksumMismatchError";
}

export interface Content {
  /** For messages: the path, or the URL without credentials and query. */
  what: string;
  compression: Compression;
  image: ImageInfo;
  /** Bytes of the source as stored or served, when known before reading it. */
  sourceSize?: number;
  /** Bytes of the image, when known before reading it (uncompressed sources). */
  imageSize?: number;
  /**
   * The image bytes from the first, for storageVolUpload; call once. The stream fails (instead
   * of ending) when the checksum or the length is wrong, or when the image grows past maxBytes.
   */
  stream(maxBytes?: number): Readable;
  /** After the stream ended: what was read. */
  result(): { sourceBytes: number; imageBytes: number; sha256: string };
  /** Release the source (file, socket, decoder) when the stream is not consumed to its end. */
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Source bytes read so far, for progress. */
  onSourceBytes?(bytes: number): void;
  /** Abort an HTTP transfer when the server sends nothing for this long (default 60 s). */
  idleTimeoutMs?: number;
}

/** Reads ahead from an iterator without losing what it read. */
class Peeker {
  private buffered: Buffer[] = [];
  private size = 0;
  private ended = false;
  constructor(private readonly it: AsyncIterator<Buffer>) {}

  async peek(n: number): Promise<Buffer> {
    while (this.size < n && !this.ended) {
      const r = await this.it.next();
      if (r.done) this.ended = true;
      else {
        this.buffered.push(r.value);
        this.size += r.value.length;
      }
    }
    return Buffer.concat(this.buffered).subarray(0, n);
  }

  async *all(): AsyncGenerator<Buffer> {
    try {
      const first = this.buffered;
      this.buffered = [];
      for (const c of first) yield c;
      if (this.ended) return;
      for (let r = await this.it.next(); !r.done; r = await this.it.next()) yield r.value;
    } finally {
      await this.it.return?.();
    }
  }

  async close(): Promise<void> {
    await this.it.return?.();
  }
}

export async function openContent(src: ContentSource, opts: OpenOptions = {}): Promise<Content> {
  const raw: OpenedSource = src.url !== undefined ? await openUrl(src.url, opts) : await openFile(src.path!);
  const hash = createHash("sha256");
  let sourceBytes = 0;
  async function* hashed(): AsyncGenerator<Buffer> {
    for await (const chunk of raw.chunks) {
      hash.update(chunk);
      sourceBytes += chunk.length;
      opts.onSourceBytes?.(sourceBytes);
      yield chunk;
    }
  }
  const rawPeek = new Peeker(hashed());
  let dataPeek: Peeker | undefined;
  try {
    const magic = await rawPeek.peek(8);
    const compression = resolveCompression(src.compression ?? "auto", magic, raw.what);
    dataPeek = new Peeker(decompress(compression, rawPeek.all())[Symbol.asyncIterator]());
    const image = detectImage(await dataPeek.peek(IMAGE_HEAD_BYTES));
    const data = dataPeek;
    let imageBytes = 0;
    let digest: string | undefined;
    let streamed = false;

    async function* verified(maxBytes: number | undefined): AsyncGenerator<Buffer> {
      for await (const chunk of data.all()) {
        imageBytes += chunk.length;
        if (maxBytes !== undefined && imageBytes > maxBytes) {
          throw new Error(`the image from ${raw.what} is larger than the volume's capacity of ${maxBytes} bytes; raise capacity or leave it unset`);
        }
        yield chunk;
      }
      if (raw.size !== undefined && sourceBytes !== raw.size) {
        throw new Error(`${raw.what} ended after ${sourceBytes} of its ${raw.size} bytes`);
      }
      digest = hash.digest("hex");
      if (src.sha256 !== undefined && digest !== src.sha256.toLowerCase()) {
        throw new ChecksumMismatchError(`the sha256 of ${raw.what} is ${digest}, not the expected ${src.sha256.toLowerCase()}; nothing was kept`);
      }
    }

    return {
      what: raw.what,
      compression,
      image,
      sourceSize: raw.size,
      imageSize: compression === "none" ? raw.size : undefined,
      stream(maxBytes) {
        if (streamed) throw new Error("the content stream was already taken");
        streamed = true;
        return Readable.from(verified(maxBytes), { objectMode: false, highWaterMark: 1 });
      },
      result() {
        if (digest === undefined) throw new Error("the content has not been read to its end");
        return { sourceBytes, imageBytes, sha256: digest };
      },
      async close() {
        await data.close();
        await rawPeek.close();
      },
    };
  } catch (e) {
    await dataPeek?.close().catch(() => undefined);
    await rawPeek.close().catch(() => undefined);
    throw e;
  }
}

function resolveCompression(choice: CompressionChoice, magic: Buffer, what: string): Compression {
  if (choice !== "auto") return choice;
  const detected = detectCompression(magic);
  if (typeof detected === "string") return detected;
  throw new Error(`${what} is ${detected.unsupported}-compressed, which is not supported: decompress it, or recompress it with gzip or xz (if it is in fact an uncompressed image, set source.compression to "none")`);
}
