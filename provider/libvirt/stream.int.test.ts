/**
 * Volume upload and download over RPC streams against the real daemon: large transfers compared
 * byte for byte, backpressure both ways, an error the daemon raises mid-stream, and aborts that
 * leave the connection usable.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, rmSync } from "node:fs";
import { Readable, Writable } from "node:stream";
import { awaitDaemon, rejection, sleep, TEST_URI, uniqueName, virshQuiet, vsh, waitFor } from "../../test/util";
import { Libvirt, StoragePoolRef, StorageVolRef } from "./client";
import { ErrorCode, ErrorDomain, isConnectionLost, LibvirtError } from "./errors";

jest.setTimeout(180_000);

const MiB = 1024 * 1024;
const IMAGES = "/var/lib/libvirt/images";
/** Async, so the event loop (and our keepalive) keeps running while virsh works. */

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

async function fileSha256(path: string, length?: number): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path, length === undefined ? {} : { start: 0, end: length - 1 })) h.update(chunk as Buffer);
  return h.digest("hex");
}

/** A Writable that hashes what it gets; optionally slow, recording how much it ever had buffered. */
function hashingSink(opts: { delayMs?: number; highWaterMark?: number } = {}) {
  const h = createHash("sha256");
  const stats = { bytes: 0, maxBuffered: 0, writes: 0 };
  const sink = new Writable({
    highWaterMark: opts.highWaterMark ?? 16 * 1024,
    write(chunk: Buffer, _enc, cb) {
      stats.writes++;
      stats.maxBuffered = Math.max(stats.maxBuffered, sink.writableLength);
      h.update(chunk);
      stats.bytes += chunk.length;
      if (opts.delayMs) setTimeout(cb, opts.delayMs);
      else cb();
    },
  });
  return { sink, stats, digest: () => h.digest("hex") };
}

/** size bytes of random data in 1 MiB pieces, hashed as they are produced. */
function randomSource(size: number, piece = MiB) {
  const h = createHash("sha256");
  let produced = 0;
  const source = Readable.from((function* () {
    for (let off = 0; off < size; off += piece) {
      const b = randomBytes(Math.min(piece, size - off));
      h.update(b);
      produced += b.length;
      yield b;
    }
  })());
  return { source, digest: () => h.digest("hex"), produced: () => produced };
}


let lv: Libvirt;
let pool: StoragePoolRef;
const poolName = uniqueName("spool");
const dir = `${IMAGES}/${poolName}`;

async function volume(name: string, bytes: number): Promise<StorageVolRef> {
  return lv.storageVolCreateXml(pool,
    `<volume><name>${name}</name><capacity unit='bytes'>${bytes}</capacity><target><format type='raw'/></target></volume>`);
}

beforeAll(async () => {
  lv = await Libvirt.connect(TEST_URI);
  pool = await lv.storagePoolDefineXml(`<pool type='dir'><name>${poolName}</name><target><path>${dir}</path></target></pool>`);
  await lv.storagePoolBuild(pool);
  await lv.storagePoolCreate(pool);
});


afterAll(async () => {
  await awaitDaemon();
  // with our client if it can (a fresh connection if the daemon dropped ours), virsh otherwise
  const c = lv && !lv.closed ? lv : await Libvirt.connect(TEST_URI).catch(() => undefined);
  try {
    const p = await c?.storagePoolLookupByName(poolName).catch(() => undefined);
    if (c && p) {
      for (const v of await c.storagePoolListVolumes(p).catch(() => [])) await c.storageVolDelete(v).catch(() => undefined);
      await c.storagePoolDestroy(p).catch(() => undefined);
      await c.storagePoolDelete(p).catch(() => undefined);
      await c.storagePoolUndefine(p).catch(() => undefined);
    }
  } finally {
    await c?.close();
    await lv?.close();
    virshQuiet("pool-destroy", poolName);
    virshQuiet("pool-undefine", poolName);
    rmSync(dir, { recursive: true, force: true });
  }
});

describe("volume streams", () => {
  test("64 MiB upload and download, compared by sha256 with the source and the file on disk", async () => {
    const size = 64 * MiB;
    const vol = await volume("big.raw", size);
    const src = randomSource(size);
    let progressCalls = 0;
    let lastProgress = 0;
    const t0 = Date.now();
    const sent = await lv.storageVolUpload(vol, src.source, {
      onProgress: (n) => {
        expect(n).toBeGreaterThan(lastProgress);
        lastProgress = n;
        progressCalls++;
      },
    });
    const uploadMs = Date.now() - t0;
    expect(sent).toBe(size);
    expect(lastProgress).toBe(size);
    expect(progressCalls).toBeGreaterThanOrEqual(64);
    const expected = src.digest();
    expect(await fileSha256(`${dir}/big.raw`)).toBe(expected);

    const t1 = Date.now();
    const { sink, stats, digest } = hashingSink();
    const received = await lv.storageVolDownload(vol, sink);
    const downloadMs = Date.now() - t1;
    expect(received).toBe(size);
    expect(stats.bytes).toBe(size);
    expect(digest()).toBe(expected);
    expect(sink.writableFinished).toBe(true);
    // virsh agrees on the size
    expect(await vsh("vol-info", "--bytes", "--pool", poolName, "big.raw")).toMatch(new RegExp(`Capacity:\\s+${size} bytes`));
    console.log(`64 MiB: upload ${uploadMs} ms, download ${downloadMs} ms`);
  });

  test("upload from a slow Readable waits for it and sends everything", async () => {
    const vol = await volume("slow-src.raw", 4 * MiB);
    const data = randomBytes(2 * MiB + 12345);
    const piece = 64 * 1024;
    let offset = 0;
    const slow = new Readable({
      read() {
        if (offset >= data.length) {
          this.push(null);
          return;
        }
        const chunk = data.subarray(offset, offset + piece);
        offset += chunk.length;
        setTimeout(() => this.push(chunk), 3);
      },
    });
    const progress: number[] = [];
    const sent = await lv.storageVolUpload(vol, slow, { onProgress: (n) => progress.push(n) });
    expect(sent).toBe(data.length);
    expect(progress.length).toBeGreaterThan(20); // chunk by chunk, as the source produced them
    expect(progress[progress.length - 1]).toBe(data.length);
    const { sink, digest } = hashingSink();
    await lv.storageVolDownload(vol, sink, { length: data.length });
    expect(digest()).toBe(sha256(data));
  });

  test("upload from a fast Readable honours socket backpressure (memory stays bounded)", async () => {
    const size = 32 * MiB;
    const vol = await volume("fast-src.raw", size);
    const src = randomSource(size, 4 * MiB);
    const rss0 = process.memoryUsage().rss;
    let maxRss = rss0;
    const sent = await lv.storageVolUpload(vol, src.source, {
      onProgress: () => { maxRss = Math.max(maxRss, process.memoryUsage().rss); },
    });
    expect(sent).toBe(size);
    // a client that ignored backpressure would queue the whole volume in the socket's buffer
    expect(maxRss - rss0).toBeLessThan(size);
    expect(await fileSha256(`${dir}/fast-src.raw`)).toBe(src.digest());
  });

  test("download into a slow Writable: reading pauses, nothing is lost, the connection stays usable", async () => {
    const size = 8 * MiB;
    const vol = await volume("slow-dst.raw", size);
    const data = randomBytes(size);
    await lv.storageVolUpload(vol, Readable.from([data]));
    const { sink, stats, digest } = hashingSink({ delayMs: 2, highWaterMark: 64 * 1024 });
    const download = lv.storageVolDownload(vol, sink);
    // a call issued meanwhile is answered (after the reader resumes, at the latest)
    const hostname = lv.getHostname();
    expect(await download).toBe(size);
    expect(typeof (await hostname)).toBe("string");
    expect(digest()).toBe(sha256(data));
    expect(stats.bytes).toBe(size);
    // the sink was never flooded: reading paused whenever it asked
    console.log(`slow writable: max buffered ${stats.maxBuffered} bytes over ${stats.writes} writes`);
    expect(stats.maxBuffered).toBeLessThan(2 * MiB);
  });

  test("a stream error raised by the daemon mid-upload rejects with its LibvirtError", async () => {
    const vol = await volume("short.raw", 4 * MiB);
    // more bytes than the declared length: the daemon fails the write with ENOSPC
    const err = await rejection(lv.storageVolUpload(vol, Readable.from([randomBytes(3 * MiB)]), { length: MiB }));
    expect(err.code).toBe(ErrorCode.SYSTEM_ERROR);
    expect(err.message).toMatch(/No space left on device/);
    expect(isConnectionLost(err)).toBe(false);
    // the connection is fine, and a correct upload to the same volume works
    expect(await lv.getType()).toBe("QEMU");
    const data = randomBytes(MiB);
    expect(await lv.storageVolUpload(vol, Readable.from([data]), { length: MiB })).toBe(MiB);
    const { sink, digest } = hashingSink();
    await lv.storageVolDownload(vol, sink, { length: MiB });
    expect(digest()).toBe(sha256(data));
  });

  test("an error downloading a volume deleted meanwhile is reported, not hung", async () => {
    const vol = await volume("gone.raw", MiB);
    await lv.storageVolDelete(vol);
    const { sink } = hashingSink();
    const err = await rejection(lv.storageVolDownload(vol, sink));
    expect(err.code).toBe(ErrorCode.NO_STORAGE_VOL);
  });

  test("AbortSignal mid-upload rejects with OPERATION_ABORTED; the connection stays usable", async () => {
    const size = 64 * MiB;
    const vol = await volume("abort-up.raw", size);
    const ac = new AbortController();
    const src = randomSource(size);
    const err = await rejection(lv.storageVolUpload(vol, src.source, {
      signal: ac.signal,
      onProgress: (n) => { if (n >= 4 * MiB) ac.abort(new Error("test abort")); },
    }));
    expect(err.code).toBe(ErrorCode.OPERATION_ABORTED);
    expect(err.domain).toBe(ErrorDomain.STREAMS);
    expect(err.message).toContain("test abort");
    expect(src.produced()).toBeLessThan(size); // the source was not drained to the end
    expect(src.source.destroyed).toBe(true);
    expect(lv.closed).toBe(false);
    // further calls and transfers on the same connection work
    expect(await lv.getType()).toBe("QEMU");
    const data = randomBytes(300 * 1024);
    expect(await lv.storageVolUpload(vol, Readable.from([data]))).toBe(data.length);
    const { sink, digest } = hashingSink();
    await lv.storageVolDownload(vol, sink, { length: data.length });
    expect(digest()).toBe(sha256(data));
  });

  test("AbortSignal mid-download rejects with OPERATION_ABORTED; the connection stays usable", async () => {
    const vol = await lv.storageVolLookupByName(pool, "big.raw");
    const ac = new AbortController();
    const { sink, stats } = hashingSink();
    const err = await rejection(lv.storageVolDownload(vol, sink, {
      signal: ac.signal,
      onProgress: (n) => { if (n >= 4 * MiB && !ac.signal.aborted) ac.abort(); },
    }));
    expect(err.code).toBe(ErrorCode.OPERATION_ABORTED);
    // nothing more reaches the destination once the download has rejected
    const atReject = stats.bytes;
    await new Promise((r) => setTimeout(r, 300));
    console.log(`download abort: ${atReject} bytes at rejection, ${stats.bytes} after 300 ms`);
    expect(stats.bytes).toBe(atReject);
    expect(stats.bytes).toBeLessThan(64 * MiB);
    expect(lv.closed).toBe(false);
    expect(await lv.getHostname()).toBe((await vsh("hostname")).trim());
    // and the next download of the same volume completes
    const part = hashingSink();
    expect(await lv.storageVolDownload(vol, part.sink, { length: MiB })).toBe(MiB);
    expect(part.digest()).toBe(await fileSha256(`${dir}/big.raw`, MiB));
  });

  test("an already aborted signal rejects before anything is sent", async () => {
    const vol = await lv.storageVolLookupByName(pool, "big.raw");
    const ac = new AbortController();
    ac.abort(new Error("early"));
    const err = await rejection(lv.storageVolUpload(vol, Readable.from([Buffer.alloc(10)]), { signal: ac.signal }));
    expect(err.code).toBe(ErrorCode.OPERATION_ABORTED);
    expect(err.message).toContain("early");
    const err2 = await rejection(lv.storageVolDownload(vol, hashingSink().sink, { signal: ac.signal }));
    expect(err2.code).toBe(ErrorCode.OPERATION_ABORTED);
    expect(await lv.getType()).toBe("QEMU");
  });
});
