/**
 * The TLS dialer against in-process Node TLS servers on 127.0.0.1 with certificates from
 * test/remote/make-pki.sh: certificate and name checks, no_verify, the daemon's confirmation
 * byte, libvirt's PKI file locations, and one TLS record per message.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { AddressInfo, createServer as createTcpServer, connect as tcpConnect, Server, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, TLSSocket } from "node:tls";
import { ErrorCode } from "../errors";
import { parseUri } from "../uri";
import { dialTls, pkiFiles } from "./tls";
import { rejection } from "../../../test/util";

let pki: string;

beforeAll(() => {
  pki = mkdtempSync(join(tmpdir(), "plt-tls-unit-"));
  execFileSync("sh", [join(__dirname, "..", "..", "..", "test", "remote", "make-pki.sh"), pki], { stdio: ["ignore", "ignore", "pipe"] });
});
afterAll(() => rmSync(pki, { recursive: true, force: true }));


/** A TLS server that greets each verified client as `greet` says (byte 1 = libvirt's "accepted"). */
async function server(greet: (s: TLSSocket) => void, certDir = "server"): Promise<{ port: number; close(): Promise<void> }> {
  const srv = createServer({
    key: readFileSync(join(pki, certDir, "serverkey.pem")),
    cert: readFileSync(join(pki, certDir, "servercert.pem")),
    ca: readFileSync(join(pki, "ca", "cacert.pem")),
    requestCert: true,
    rejectUnauthorized: false, // like libvirtd: the handshake completes, then the daemon judges
  }, greet);
  const open = new Set<Socket>();
  srv.on("connection", (s) => { open.add(s); s.on("close", () => open.delete(s)); });
  srv.on("tlsClientError", () => undefined);
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  return {
    port: (srv.address() as AddressInfo).port,
    // Also when a test failed with its client still connected.
    close: () => new Promise((r) => { srv.close(() => r()); for (const s of open) s.destroy(); }),
  };
}

const accept = (s: TLSSocket) => {
  s.on("error", () => undefined);
  s.write(Buffer.from([s.authorized ? 1 : 0]));
};
/** libvirtd's way: byte 1 for a verified client certificate, else close without a word. */
const libvirtd = (s: TLSSocket) => {
  s.on("error", () => undefined);
  if (s.authorized) s.write(Buffer.from([1]));
  else s.end();
};
const uri = (port: number, dir: string, extra = "") => parseUri(`qemu+tls://127.0.0.1:${port}/system?pkipath=${join(pki, dir)}${extra}`);

describe("pkiFiles: where libvirt's client looks", () => {
  const u = parseUri("qemu+tls://h/system");

  test("root: the system PKI", () => {
    expect(pkiFiles(u, 0, "/root", () => true)).toEqual({
      cacert: "/etc/pki/CA/cacert.pem", cacrl: "/etc/pki/CA/cacrl.pem",
      cert: "/etc/pki/libvirt/clientcert.pem", key: "/etc/pki/libvirt/private/clientkey.pem",
    });
  });

  test("other users: ~/.pki/libvirt per file, certificate and key as a pair, else the system files", () => {
    const have = new Set(["/home/u/.pki/libvirt/cacert.pem", "/home/u/.pki/libvirt/clientcert.pem"]);
    expect(pkiFiles(u, 1000, "/home/u", (p) => have.has(p))).toEqual({
      cacert: "/home/u/.pki/libvirt/cacert.pem", cacrl: "/etc/pki/CA/cacrl.pem",
      cert: "/etc/pki/libvirt/clientcert.pem", key: "/etc/pki/libvirt/private/clientkey.pem",
    });
    have.add("/home/u/.pki/libvirt/clientkey.pem");
    expect(pkiFiles(u, 1000, "/home/u", (p) => have.has(p))).toMatchObject({
      cert: "/home/u/.pki/libvirt/clientcert.pem", key: "/home/u/.pki/libvirt/clientkey.pem",
    });
  });

  test("pkipath=DIR: that directory, whether or not the files exist", () => {
    expect(pkiFiles(parseUri("qemu+tls://h/system?pkipath=/p"), 0, "/root", () => false)).toEqual({
      cacert: "/p/cacert.pem", cacrl: "/p/cacrl.pem", cert: "/p/clientcert.pem", key: "/p/clientkey.pem",
    });
  });
});

describe("dialTls", () => {
  test("accepted: the confirmation byte is consumed and what follows it stays for the RPC layer", async () => {
    const srv = await server((s) => {
      s.on("error", () => undefined);
      s.write(Buffer.from([1, 0xaa, 0xbb])); // confirmation and the start of a reply in one record
    });
    try {
      const { socket, peer } = await dialTls(uri(srv.port, "client"));
      expect(peer).toBe(`tls 127.0.0.1:${srv.port}`);
      const first = await new Promise<Buffer>((r) => socket.once("data", r));
      expect([...first]).toEqual([0xaa, 0xbb]);
      socket.destroy();
    } finally {
      await srv.close();
    }
  });

  test("a refused client certificate: AUTH_FAILED naming the certificate", async () => {
    const srv = await server((s) => { s.on("error", () => undefined); s.end(); });
    try {
      const e = await rejection(dialTls(uri(srv.port, "client")));
      expect(e.code).toBe(ErrorCode.AUTH_FAILED);
      expect(e.message).toContain(`the libvirt daemon at 127.0.0.1:${srv.port} (qemu+tls://127.0.0.1:${srv.port}/system?pkipath=`);
      expect(e.message).toContain("refused this client after the TLS handshake (it closed the connection)");
      expect(e.message).toContain(`it did not accept the client certificate ${join(pki, "client", "clientcert.pem")}`);
    } finally {
      await srv.close();
    }
  });

  test("no client certificate: the missing files are named", async () => {
    const srv = await server(libvirtd);
    try {
      const e = await rejection(dialTls(uri(srv.port, "nocert")));
      expect(e.code).toBe(ErrorCode.AUTH_FAILED);
      expect(e.message).toContain(`no client certificate was sent, because ${join(pki, "nocert", "clientcert.pem")} and ${join(pki, "nocert", "clientkey.pem")} do not exist`);
      expect(e.message).toContain("To fix: pass pkipath=DIR");
    } finally {
      await srv.close();
    }
  });

  test("any byte but 1 is a refusal", async () => {
    const srv = await server((s) => { s.on("error", () => undefined); s.write(Buffer.from([0])); });
    try {
      const e = await rejection(dialTls(uri(srv.port, "client")));
      expect(e.code).toBe(ErrorCode.AUTH_FAILED);
      expect(e.message).toContain("it answered 0 where 1 means accepted");
    } finally {
      await srv.close();
    }
  });

  test("a server certificate from another CA is refused; no_verify=1 accepts it", async () => {
    const srv = await server(accept);
    try {
      const e = await rejection(dialTls(uri(srv.port, "wrongca")));
      expect(e.code).toBe(ErrorCode.AUTH_FAILED);
      expect(e.message).toContain("failed verification");
      expect(e.message).toContain(`trusted CA: ${join(pki, "wrongca", "cacert.pem")}`);
      const { socket } = await dialTls(uri(srv.port, "wrongca", "&no_verify=1"));
      socket.destroy();
    } finally {
      await srv.close();
    }
  });

  test("a certificate for another name is refused; no_verify=1 accepts it", async () => {
    const srv = await server(accept, "badname");
    try {
      const e = await rejection(dialTls(uri(srv.port, "client")));
      expect(e.code).toBe(ErrorCode.AUTH_FAILED);
      expect(e.message).toContain("ERR_TLS_CERT_ALTNAME_INVALID");
      expect(e.message).toContain(`names "127.0.0.1" in its subjectAltName`);
      const { socket } = await dialTls(uri(srv.port, "client", "&no_verify=1"));
      socket.destroy();
    } finally {
      await srv.close();
    }
  });

  test("unusable key material fails before connecting, naming the files but not their contents", async () => {
    const dir = join(pki, "garbage");
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(pki, "client", "cacert.pem"), join(dir, "cacert.pem"));
    copyFileSync(join(pki, "client", "clientcert.pem"), join(dir, "clientcert.pem"));
    writeFileSync(join(dir, "clientkey.pem"), "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n-----END PRIVATE KEY-----\n");
    const e = await rejection(dialTls(uri(1, "garbage")));
    expect(e.code).toBe(ErrorCode.SYSTEM_ERROR);
    expect(e.message).toContain(`cannot use the TLS files for qemu+tls://127.0.0.1:1/system?pkipath=${dir}`);
    expect(e.message).toContain(join(dir, "clientkey.pem"));
    expect(e.message).not.toContain("bm90IGEga2V5");
  });

  test("nothing listening: NO_CONNECT (retryable) with the fix", async () => {
    const probe = createTcpServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const e = await rejection(dialTls(uri(port, "client")));
    expect(e.code).toBe(ErrorCode.NO_CONNECT);
    expect(e.message).toContain(`cannot connect to the libvirt daemon's TLS port for qemu+tls://127.0.0.1:${port}/system`);
    expect(e.message).toContain("connection refused (nothing listens on that port) (ECONNREFUSED)");
    expect(e.message).toContain("listen_tls = 1");
  });

  test("messages written in one tick still leave in separate TLS records (libvirtd would stall on a shared one)", async () => {
    let received = 0;
    const srv = await server((s) => {
      s.on("error", () => undefined);
      s.on("data", (d: Buffer) => { received += d.length; });
      s.write(Buffer.from([1]));
    });
    // A TCP relay between client and server that keeps what the client sent.
    const upstream: Buffer[] = [];
    const relay: Server = createTcpServer((c) => {
      const s = tcpConnect(srv.port, "127.0.0.1");
      c.on("data", (d: Buffer) => { upstream.push(d); s.write(d); });
      s.on("data", (d: Buffer) => c.write(d));
      c.on("close", () => s.destroy());
      s.on("close", () => c.destroy());
      c.on("error", () => undefined);
      s.on("error", () => undefined);
    });
    await new Promise<void>((r) => relay.listen(0, "127.0.0.1", r));
    let socket: TLSSocket | undefined;
    try {
      socket = (await dialTls(uri((relay.address() as AddressInfo).port, "client"))).socket as TLSSocket;
      await new Promise((r) => setTimeout(r, 100)); // let any post-handshake records pass
      const before = Buffer.concat(upstream).length;
      for (let i = 0; i < 3; i++) socket!.write(Buffer.alloc(100, i));
      for (let i = 0; i < 200 && received < 300; i++) await new Promise((r) => setTimeout(r, 10));
      expect(received).toBe(300);
      const sent = Buffer.concat(upstream).subarray(before);
      let records = 0;
      for (let off = 0; off + 5 <= sent.length; off += 5 + sent.readUInt16BE(off + 3)) records++;
      expect(records).toBe(3);
    } finally {
      socket?.destroy();
      await new Promise((r) => relay.close(r));
      await srv.close();
    }
  });
});
