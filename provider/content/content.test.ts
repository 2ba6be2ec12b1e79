/** Content sources without a daemon: files, local HTTP and HTTPS servers, gzip and xz, checksums. */
import { execFile, execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { detectCompression } from "./compression";
import { detectImage } from "./image";
import { ChecksumMismatchError, Content, openContent } from "./index";
import { redactUrl } from "./source";

const dir = mkdtempSync(join(tmpdir(), "plt-content-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
function file(name: string, data: Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}
function xzFile(name: string, data: Buffer, ...args: string[]): string {
  const p = file(name + ".in", data);
  execFileSync("xz", ["-k", "-f", ...args, p]);
  return p + ".xz";
}
async function drain(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}
async function readAll(c: Content, max?: number): Promise<Buffer> {
  return drain(c.stream(max));
}

/** Mixed data: random bytes and long zero runs, like a disk image. */
const DATA = Buffer.concat([randomBytes(300_000), Buffer.alloc(700_000), randomBytes(1234)]);

function qcow2Header(opts: { size?: bigint; backing?: bigint; crypt?: number; version?: number; incompatible?: bigint } = {}): Buffer {
  const h = Buffer.alloc(104);
  h.writeUInt32BE(0x514649fb, 0);
  h.writeUInt32BE(opts.version ?? 3, 4);
  h.writeBigUInt64BE(opts.backing ?? 0n, 8);
  h.writeUInt32BE(16, 20);
  h.writeBigUInt64BE(opts.size ?? 1073741824n, 24);
  h.writeUInt32BE(opts.crypt ?? 0, 32);
  h.writeBigUInt64BE(opts.incompatible ?? 0n, 72);
  return h;
}

describe("detection", () => {
  test("compression from magic bytes", () => {
    expect(detectCompression(gzipSync(Buffer.from("x")))).toBe("gzip");
    expect(detectCompression(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 0]))).toBe("xz");
    expect(detectCompression(Buffer.from("BZh91AY&SY"))).toEqual({ unsupported: "bzip2" });
    expect(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0]))).toEqual({ unsupported: "zstd" });
    expect(detectCompression(Buffer.alloc(8))).toBe("none");
    expect(detectCompression(Buffer.alloc(0))).toBe("none");
  });

  test("qcow2 header: virtual size, and the images that must not be uploaded", () => {
    expect(detectImage(qcow2Header({ size: 5n * 1024n ** 3n }))).toEqual({ format: "qcow2", virtualSize: 5 * 1024 ** 3 });
    expect(detectImage(qcow2Header({ backing: 512n })).problem).toMatch(/backing file/);
    expect(detectImage(qcow2Header({ crypt: 1 })).problem).toMatch(/encrypted/);
    expect(detectImage(qcow2Header({ incompatible: 2n })).problem).toMatch(/corrupt/);
    expect(detectImage(qcow2Header({ incompatible: 4n })).problem).toMatch(/external data file/);
    expect(detectImage(qcow2Header({ version: 1 })).problem).toMatch(/version 1/);
    expect(detectImage(qcow2Header().subarray(0, 40)).problem).toMatch(/truncated/);
  });

  test("a real qcow2 image made by qemu-img", () => {
    const p = join(dir, "real.qcow2");
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", p, "3G"]);
    const head = require("node:fs").readFileSync(p);
    expect(detectImage(head)).toEqual({ format: "qcow2", virtualSize: 3 * 1024 ** 3 });
  });

  test("other formats are named; ISO 9660 and plain data", () => {
    const iso = Buffer.alloc(40000);
    iso.write("CD001", 0x8001, "latin1");
    expect(detectImage(iso).format).toBe("iso");
    expect(detectImage(Buffer.from("KDMV\x01\x00\x00\x00", "latin1")).format).toBe("vmdk");
    expect(detectImage(Buffer.from("vhdxfile", "latin1")).format).toBe("vhdx");
    expect(detectImage(Buffer.from("QED\0", "latin1")).format).toBe("qed");
    expect(detectImage(DATA).format).toBe("raw");
    expect(detectImage(Buffer.alloc(0)).format).toBe("raw");
  });

  test("URLs in messages lose credentials and query", () => {
    expect(redactUrl("https://user:secret@example.com/img.qcow2?X-Amz-Signature=abc")).toBe("https://example.com/img.qcow2?…");
    expect(redactUrl("http://example.com:8080/a")).toBe("http://example.com:8080/a");
  });
});

describe("files", () => {
  test("raw: bytes, size known up front, sha256 of the file", async () => {
    const p = file("plain.raw", DATA);
    const c = await openContent({ path: p, sha256: sha(DATA) });
    expect(c.compression).toBe("none");
    expect(c.image.format).toBe("raw");
    expect(c.sourceSize).toBe(DATA.length);
    expect(c.imageSize).toBe(DATA.length);
    expect((await readAll(c)).equals(DATA)).toBe(true);
    expect(c.result()).toEqual({ sourceBytes: DATA.length, imageBytes: DATA.length, sha256: sha(DATA) });
  });

  test("gzip: decompressed on the fly; the checksum is of the .gz file", async () => {
    const gz = gzipSync(DATA);
    const p = file("data.raw.gz", gz);
    const c = await openContent({ path: p, sha256: sha(gz).toUpperCase() });
    expect(c.compression).toBe("gzip");
    expect(c.imageSize).toBeUndefined();
    expect((await readAll(c)).equals(DATA)).toBe(true);
    expect(c.result().sha256).toBe(sha(gz));
  });

  test("xz (crc64 and crc32 checks, multi-block, concatenated streams)", async () => {
    for (const args of [[], ["--check=crc32"], ["-T2", "--block-size=100000"]]) {
      const c = await openContent({ path: xzFile(`d${args.length}`, DATA, ...args) });
      expect(c.compression).toBe("xz");
      expect((await readAll(c)).equals(DATA)).toBe(true);
    }
    const a = require("node:fs").readFileSync(xzFile("cat-a", DATA.subarray(0, 1000)));
    const b = require("node:fs").readFileSync(xzFile("cat-b", DATA.subarray(1000)));
    const c = await openContent({ path: file("cat.xz", Buffer.concat([a, b])), sha256: sha(Buffer.concat([a, b])) });
    expect((await readAll(c)).equals(DATA)).toBe(true);
  });

  test("a qcow2 image inside xz is probed after decompression", async () => {
    const p = join(dir, "small.qcow2");
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", p, "64M"]);
    execFileSync("xz", ["-k", "-f", p]);
    const c = await openContent({ path: p + ".xz" });
    expect(c.image).toEqual({ format: "qcow2", virtualSize: 64 * 1024 ** 2 });
    await c.close();
  });

  test("checksum mismatch: the stream fails at its end instead of ending", async () => {
    const c = await openContent({ path: file("bad.raw", DATA), sha256: "0".repeat(64) });
    const e = await readAll(c).then(() => undefined, (x) => x);
    expect(e).toBeInstanceOf(ChecksumMismatchError);
    expect(e.message).toContain(sha(DATA));
  });

  test("compression forced to none keeps the bytes as they are", async () => {
    const gz = gzipSync(DATA);
    const c = await openContent({ path: file("keep.gz", gz), compression: "none" });
    expect((await readAll(c)).equals(gz)).toBe(true);
  });

  test("corrupt and truncated data fail clearly", async () => {
    const gz = gzipSync(DATA);
    const c1 = await openContent({ path: file("trunc.gz", gz.subarray(0, gz.length - 100)) });
    await expect(readAll(c1)).rejects.toThrow(/gzip data is corrupt or ends early/);
    const xz = require("node:fs").readFileSync(xzFile("t", DATA));
    const c2 = await openContent({ path: file("trunc.xz", xz.subarray(0, xz.length >> 1)) });
    await expect(readAll(c2)).rejects.toThrow(/xz data could not be decompressed/);
    const bad = Buffer.from(xz);
    bad[bad.length >> 1] ^= 0xff;
    const c3 = await openContent({ path: file("bad.xz", bad) });
    await expect(readAll(c3)).rejects.toThrow(/corrupt/);
    // the decoder is free again afterwards
    const c4 = await openContent({ path: xzFile("after", DATA) });
    expect((await readAll(c4)).equals(DATA)).toBe(true);
  });

  test("xz with a SHA-256 check is refused with the way out", async () => {
    // the decoder fails on the stream header, so while opening (the image is probed first)
    await expect(openContent({ path: xzFile("sha", DATA, "--check=sha256") }).then((c) => readAll(c))).rejects.toThrow(/--check=crc64/);
  });

  test("unsupported compression is named", async () => {
    await expect(openContent({ path: file("x.bz2", Buffer.from("BZh91AY&SY\0\0\0\0")) })).rejects.toThrow(/bzip2-compressed, which is not supported/);
  });

  test("more than maxBytes fails the stream", async () => {
    const c = await openContent({ path: file("big.raw", DATA) });
    await expect(readAll(c, 1000)).rejects.toThrow(/larger than the volume's capacity of 1000 bytes/);
  });

  test("missing file, directory", async () => {
    await expect(openContent({ path: join(dir, "nope") })).rejects.toThrow(/does not exist on the machine running Pulumi/);
    await expect(openContent({ path: dir })).rejects.toThrow(/not a regular file/);
  });

  test("xz sources opened concurrently all decompress (one after another), and close() frees the decoder", async () => {
    const p = xzFile("conc", DATA);
    const abandoned = await openContent({ path: p });
    await abandoned.close();
    const all = await Promise.all([0, 1, 2].map(async () => readAll(await openContent({ path: p }))));
    for (const b of all) expect(b.equals(DATA)).toBe(true);
  });

  test("a consumer that stops early releases the xz decoder", async () => {
    const p = xzFile("early", DATA);
    const c = await openContent({ path: p });
    const s = c.stream();
    for await (const _ of s) break; // destroys the stream
    const again = await openContent({ path: p });
    expect((await readAll(again)).equals(DATA)).toBe(true);
  });
});

/** The test servers' routes, over http and https alike. */
const gz = gzipSync(DATA);
function route(req: IncomingMessage, res: ServerResponse): void {
  if (req.url === "/data.raw") {
    res.writeHead(200, { "content-length": DATA.length });
    res.end(DATA);
  } else if (req.url === "/data.gz") {
    res.writeHead(200); // chunked: no length up front
    res.end(gz);
  } else if (req.url === "/redirect") {
    res.writeHead(302, { location: "/data.raw" });
    res.end();
  } else if (req.url === "/short") {
    res.writeHead(200, { "content-length": DATA.length });
    res.write(DATA.subarray(0, 1000), () => res.destroy());
  } else if (req.url === "/stall") {
    res.writeHead(200, { "content-length": DATA.length });
    res.write(DATA.subarray(0, 1000));
  } else {
    res.writeHead(404);
    res.end();
  }
}

/** A server on 127.0.0.1 and its base URL; closed in afterAll. */
function serving(make: () => Server, scheme: string): { base: () => string } {
  let server: Server;
  let base = "";
  beforeAll(async () => {
    server = make();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  return { base: () => base };
}

describe("http", () => {
  const srv = serving(() => createServer(route), "http");
  let base: string;
  beforeAll(() => { base = srv.base(); });

  test("a URL with Content-Length, checked", async () => {
    const c = await openContent({ url: `${base}/data.raw`, sha256: sha(DATA) });
    expect(c.sourceSize).toBe(DATA.length);
    expect((await readAll(c)).equals(DATA)).toBe(true);
  });

  test("redirects are followed", async () => {
    const c = await openContent({ url: `${base}/redirect` });
    expect((await readAll(c)).equals(DATA)).toBe(true);
  });

  test("gzip over chunked transfer", async () => {
    const c = await openContent({ url: `${base}/data.gz`, sha256: sha(gz) });
    expect(c.sourceSize).toBeUndefined();
    expect((await readAll(c)).equals(DATA)).toBe(true);
  });

  test("HTTP errors name the status", async () => {
    await expect(openContent({ url: `${base}/missing` })).rejects.toThrow(/HTTP 404/);
  });

  test("a body cut short fails", async () => {
    await expect(openContent({ url: `${base}/short` }).then((c) => readAll(c))).rejects.toThrow(/transfer broke off after 1000 bytes/);
  });

  test("a stalled server fails after the idle timeout", async () => {
    const c = await openContent({ url: `${base}/stall` }, { idleTimeoutMs: 500 }).catch((e) => e);
    const e = c instanceof Error ? c : await readAll(c).then(() => undefined, (x) => x);
    expect(String(e)).toMatch(/no data from the server for/);
  });

  test("nobody listening", async () => {
    await expect(openContent({ url: "http://127.0.0.1:1/x" })).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe("https", () => {
  // A CA of our own and a server certificate for 127.0.0.1 (the TLS tests' PKI), so the
  // certificate is checked for real: Node trusts only its bundle unless NODE_EXTRA_CA_CERTS adds one.
  const pki = join(dir, "pki");
  const pem = (f: string) => readFileSync(join(pki, "server", f));
  const srv = serving(() => {
    execFileSync("sh", [join(__dirname, "../../test/remote/make-pki.sh"), pki], { stdio: ["ignore", "ignore", "pipe"] });
    return createHttpsServer({ cert: pem("servercert.pem"), key: pem("serverkey.pem") }, route);
  }, "https");
  let base: string;
  beforeAll(() => { base = srv.base(); });

  test("a certificate from a CA Node does not trust is refused, naming NODE_EXTRA_CA_CERTS", async () => {
    await expect(openContent({ url: `${base}/data.raw` })).rejects.toThrow(/unable to verify the first certificate.*NODE_EXTRA_CA_CERTS=/);
  });

  /**
   * NODE_EXTRA_CA_CERTS is read when node starts, as it is for the provider under pulumi: a fresh
   * node with the built module (bin/, as the provider tests use it) reads the URL to the end.
   */
  async function readInFreshNode(sha256: string): Promise<string> {
    const script = `require(${JSON.stringify(join(__dirname, "../../bin/provider/content/index.js"))})
      .openContent({ url: process.argv[1], sha256: process.argv[2] })
      .then(async (c) => { let n = 0; for await (const b of c.stream()) n += b.length; console.log("read", n, c.sourceSize); })
      .catch((e) => console.log(e.constructor.name, e.message));`;
    // Not execFileSync: the server answering it runs in this process.
    const { stdout } = await promisify(execFile)(process.execPath, ["-e", script, `${base}/data.raw`, sha256], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: join(pki, "server/cacert.pem") }, encoding: "utf8", timeout: 60_000,
    });
    return stdout.trim();
  }

  test("with the CA in NODE_EXTRA_CA_CERTS the bytes arrive, checked against sha256", async () => {
    expect(await readInFreshNode(sha(DATA))).toBe(`read ${DATA.length} ${DATA.length}`);
  });

  test("a wrong sha256 over https fails the transfer", async () => {
    expect(await readInFreshNode("00".repeat(32))).toMatch(/^ChecksumMismatchError .*/);
  });
});
