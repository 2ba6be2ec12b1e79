/**
 * Where a volume's content comes from: a file on the machine running Pulumi, or an http(s) URL.
 * Both are read as a stream of chunks, never whole into memory, so images of any size work and
 * the bytes can go straight on to a remote libvirt host over the RPC stream.
 */
import { createReadStream, promises as fs } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import { resolve as resolvePath } from "node:path";

export interface OpenedSource {
  /** For messages: the path, or the URL without credentials and query. */
  what: string;
  /** Bytes the source holds, when known before reading (file size, Content-Length). */
  size?: number;
  chunks: AsyncIterable<Buffer>;
}

const MAX_REDIRECTS = 10;

/** A URL fit for messages and logs: no user:password@, no query (signed URLs carry tokens there). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? "?…" : ""}`;
  } catch {
    return "(unparseable URL)";
  }
}

export async function openFile(path: string): Promise<OpenedSource> {
  const full = resolvePath(path);
  const where = full === path ? path : `${path} (resolved from ${process.cwd()} to ${full})`;
  let st;
  try {
    st = await fs.stat(full);
  } catch (e: any) {
    if (e.code === "ENOENT") throw new Error(`source.path ${where} does not exist on the machine running Pulumi`);
    if (e.code === "EACCES") throw new Error(`source.path ${where} is not readable by the Pulumi process (permission denied)`);
    throw new Error(`source.path ${where}: ${e.message}`);
  }
  if (!st.isFile()) throw new Error(`source.path ${where} is not a regular file`);
  const stream = createReadStream(full, { highWaterMark: 1024 * 1024 });
  return { what: full, size: st.size, chunks: stream };
}

export interface UrlOptions {
  /** Abort when the server sends nothing for this long (default 60 s). */
  idleTimeoutMs?: number;
}

export async function openUrl(url: string, opts: UrlOptions = {}): Promise<OpenedSource> {
  const what = redactUrl(url);
  const idle = opts.idleTimeoutMs ?? 60_000;
  let current = new URL(url);
  for (let hop = 0; ; hop++) {
    const res = await get(current, idle, redactUrl(current.href));
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (status >= 300 && status < 400 && location) {
      res.resume();
      if (hop >= MAX_REDIRECTS) throw new Error(`${what}: more than ${MAX_REDIRECTS} redirects`);
      const next = new URL(location, current);
      if (next.protocol !== "http:" && next.protocol !== "https:") throw new Error(`${what} redirects to a ${next.protocol} URL, which is not supported`);
      current = next;
      continue;
    }
    if (status !== 200) {
      res.resume();
      throw new Error(`${what}: the server answered HTTP ${status} ${res.statusMessage ?? ""}`.trim());
    }
    const length = Number(res.headers["content-length"]);
    const encoded = (res.headers["content-encoding"] ?? "identity") !== "identity";
    return { what, size: Number.isSafeInteger(length) && length >= 0 && !encoded ? length : undefined, chunks: body(res, what) };
  }
}

async function* body(res: http.IncomingMessage, what: string): AsyncGenerator<Buffer> {
  let received = 0;
  try {
    for await (const chunk of res) {
      received += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
  } catch (e) {
    const why = (e as Error).message;
    throw new Error(why.startsWith(what) ? why : `${what}: the transfer broke off after ${received} bytes (${why})`);
  } finally {
    res.destroy();
  }
}

function get(url: URL, idleMs: number, what: string): Promise<http.IncomingMessage> {
  const mod = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    let response: http.IncomingMessage | undefined;
    // identity: a server must not gzip the body on the fly (the checksum is of the file as stored)
    const req = mod.get(url, { headers: { "accept-encoding": "identity", "user-agent": "pulumi-libvirt" } }, (res) => {
      response = res;
      resolve(res);
    });
    // The socket's idle timeout holds for the whole body too: a stalled server fails the transfer.
    req.setTimeout(idleMs, () => {
      const e = new Error(`${what}: no data from the server for ${Math.round(idleMs / 1000)} s`);
      response?.destroy(e);
      req.destroy(e);
    });
    req.on("error", (e) => reject(new Error(`${what}: ${e.message}${certificateHint(e)}`)));
  });
}

/** Node trusts its own CA bundle only: say how to add a private CA (it is read at process start). */
function certificateHint(e: NodeJS.ErrnoException): string {
  const untrusted = ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "SELF_SIGNED_CERT_IN_CHAIN", "DEPTH_ZERO_SELF_SIGNED_CERT"];
  return untrusted.includes(e.code ?? "")
    ? "; the server's certificate is not signed by a CA Node trusts: for a private CA, run pulumi with NODE_EXTRA_CA_CERTS=/path/to/ca.pem"
    : "";
}
