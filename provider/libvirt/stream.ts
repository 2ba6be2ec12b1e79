/**
 * Volume upload and download over libvirt's RPC streams, with backpressure both ways and the
 * finish handshake: the side that is done sends STREAM/OK and waits for the daemon's STREAM/OK,
 * so the daemon never keeps a half-open stream. An abort sends STREAM/ERROR, which the daemon
 * confirms; it then discards what it received.
 */
import type { Readable, Writable } from "node:stream";
import { ErrorCode, ErrorDomain, LibvirtError } from "./errors";
import { STREAM_CHUNK } from "./packet";
import { P, StorageVolRef } from "./protocol";
import type { RpcConnection, StreamHandle } from "./rpc";

export interface TransferOptions {
  /** Byte offset in the volume. */
  offset?: number;
  /** Bytes to transfer; 0 or unset means to the end. */
  length?: number;
  /** Aborts the transfer; the daemon is told and the promise rejects. */
  signal?: AbortSignal;
  /** Called after each chunk with the bytes transferred so far. */
  onProgress?(bytes: number): void;
}

/** Resolves once the daemon has confirmed the stream closed; rejects with its error. */
function completion(): { promise: Promise<void>; end(): void; error(e: LibvirtError): void } {
  let end!: () => void;
  let error!: (e: LibvirtError) => void;
  const promise = new Promise<void>((resolve, reject) => {
    end = resolve;
    error = reject;
  });
  promise.catch(() => undefined); // observed by the transfer; this avoids an unhandled rejection
  return { promise, end, error };
}

function aborted(signal: AbortSignal): LibvirtError {
  const why = signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? "aborted");
  return new LibvirtError(`volume transfer aborted: ${why}`, ErrorCode.OPERATION_ABORTED, ErrorDomain.STREAMS);
}

/** After an abort, wait briefly for the daemon's confirmation; the transfer has failed either way. */
async function abortAndSettle(h: StreamHandle, done: Promise<void>): Promise<void> {
  if (h.rpc.closed) return;
  h.abort();
  await Promise.race([done.catch(() => undefined), new Promise((r) => setTimeout(r, 5000).unref())]);
}

export async function upload(rpc: RpcConnection, vol: StorageVolRef, source: Readable, opts: TransferOptions = {}): Promise<number> {
  if (opts.signal?.aborted) throw aborted(opts.signal);
  const done = completion();
  let failed: LibvirtError | undefined;
  const h = await rpc.openStream(P.STORAGE_VOL_UPLOAD, { vol, offset: opts.offset ?? 0, length: opts.length ?? 0, flags: 0 }, () => ({
    data: () => undefined, // the daemon sends no data on an upload stream
    end: done.end,
    error: (e) => {
      failed = e;
      done.error(e);
    },
  }));
  let sent = 0;
  try {
    for await (const chunk of source as AsyncIterable<Buffer | string>) {
      const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      for (let off = 0; off < buf.length; off += STREAM_CHUNK) {
        if (failed) throw failed;
        if (opts.signal?.aborted) throw aborted(opts.signal);
        const piece = buf.subarray(off, off + STREAM_CHUNK);
        if (!h.write(piece)) await Promise.race([rpc.drained(), done.promise]);
        sent += piece.length;
      }
      opts.onProgress?.(sent);
    }
    if (failed) throw failed;
    h.finish();
    await done.promise;
    return sent;
  } catch (e) {
    if (!failed) await abortAndSettle(h, done.promise);
    source.destroy();
    throw e;
  }
}

export async function download(rpc: RpcConnection, vol: StorageVolRef, dest: Writable, opts: TransferOptions = {}): Promise<number> {
  if (opts.signal?.aborted) throw aborted(opts.signal);
  const done = completion();
  let received = 0;
  let writeError: Error | undefined;
  dest.on("error", (e) => {
    writeError = e;
    done.error(new LibvirtError(`writing the downloaded volume failed: ${e.message}`, ErrorCode.SYSTEM_ERROR, ErrorDomain.STREAMS));
  });
  const h = await rpc.openStream(P.STORAGE_VOL_DOWNLOAD, { vol, offset: opts.offset ?? 0, length: opts.length ?? 0, flags: 0 }, (handle) => ({
    data(chunk) {
      if (opts.signal?.aborted) return; // aborted: drop what the daemon had already sent
      if (chunk.length === 0) {
        handle.finish(); // end of file: acknowledge, then wait for the daemon's STREAM/OK
        return;
      }
      received += chunk.length;
      opts.onProgress?.(received);
      if (!dest.write(chunk)) {
        rpc.pauseReading();
        dest.once("drain", () => rpc.resumeReading());
      }
    },
    end: done.end,
    error: done.error,
  }));
  const onAbort = () => {
    done.error(aborted(opts.signal!));
    void abortAndSettle(h, Promise.resolve());
  };
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    await done.promise;
    await new Promise<void>((resolve, reject) => dest.end((e?: Error | null) => (e ? reject(e) : resolve())));
    return received;
  } catch (e) {
    rpc.resumeReading();
    if (writeError && !h.rpc.closed) await abortAndSettle(h, Promise.resolve());
    throw e;
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
  }
}
