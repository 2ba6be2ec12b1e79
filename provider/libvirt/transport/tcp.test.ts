/** The tcp dialer and the byte helpers the network transports share, on 127.0.0.1 only. */
import { AddressInfo, createServer, Socket } from "node:net";
import { PassThrough } from "node:stream";
import { ErrorCode, LibvirtError } from "../errors";
import { parseUri } from "../uri";
import { dial } from "./index";
import { hostPort, networkError, readExactly } from "./tcp";

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection");
}

describe("readExactly", () => {
  const ended = () => new Error("ended early");

  test("assembles bytes across chunks and leaves the rest for the next reader", async () => {
    const s = new PassThrough();
    const got = readExactly(s, 5, ended);
    s.write(Buffer.from([1, 2]));
    s.write(Buffer.from([3, 4, 5, 6, 7]));
    expect([...(await got)]).toEqual([1, 2, 3, 4, 5]);
    // The hand-over: a 'data' listener attached afterwards gets what followed.
    const next = await new Promise<Buffer>((r) => s.once("data", r));
    expect([...next]).toEqual([6, 7]);
  });

  test("bytes already buffered before the call are used", async () => {
    const s = new PassThrough();
    s.write(Buffer.from([9, 8, 7]));
    expect([...(await readExactly(s, 2, ended))]).toEqual([9, 8]);
    expect([...(await readExactly(s, 1, ended))]).toEqual([7]);
  });

  test("a stream that ends short rejects with ended()", async () => {
    const s = new PassThrough();
    const got = readExactly(s, 4, ended);
    s.end(Buffer.from([1, 2]));
    expect((await rejection(got)).message).toBe("ended early");
  });

  test("an error is passed through failed()", async () => {
    const s = new PassThrough();
    const got = readExactly(s, 4, ended, (e) => new Error(`wrapped: ${e.message}`));
    s.destroy(new Error("boom"));
    expect((await rejection(got)).message).toBe("wrapped: boom");
  });
});

describe("helpers", () => {
  test("hostPort brackets IPv6", () => {
    expect(hostPort("127.0.0.1", 16509)).toBe("127.0.0.1:16509");
    expect(hostPort("::1", 16509)).toBe("[::1]:16509");
    expect(hostPort("host", 1)).toBe("host:1");
  });

  test("networkError says what the errno means", () => {
    expect(networkError(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }))).toBe("connection refused (nothing listens on that port) (ECONNREFUSED)");
    expect(networkError(Object.assign(new Error("odd"), { code: "EWHATEVER" }))).toBe("odd");
  });
});

describe("qemu+tcp", () => {
  test("connects to the given port and names the peer", async () => {
    const accepted: Socket[] = [];
    const srv = createServer((s) => accepted.push(s));
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const port = (srv.address() as AddressInfo).port;
    try {
      const { socket, peer } = await dial(parseUri(`qemu+tcp://127.0.0.1:${port}/system`), false);
      expect(peer).toBe(`tcp 127.0.0.1:${port}`);
      socket.destroy();
    } finally {
      for (const s of accepted) s.destroy();
      await new Promise((r) => srv.close(r));
    }
  });

  test("nothing listening: NO_CONNECT naming the URI and the fix", async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const port = (srv.address() as AddressInfo).port;
    await new Promise((r) => srv.close(r));
    const e = await rejection(dial(parseUri(`qemu+tcp://admin:pw@127.0.0.1:${port}/system`), false));
    expect(e).toBeInstanceOf(LibvirtError);
    expect((e as LibvirtError).code).toBe(ErrorCode.NO_CONNECT);
    expect(e.message).toBe(
      `cannot connect to the libvirt daemon's tcp port for qemu+tcp://admin:***@127.0.0.1:${port}/system at 127.0.0.1:${port}: connection refused (nothing listens on that port) (ECONNREFUSED). ` +
      "To fix: run the daemon with `--listen` and listen_tcp = 1 in libvirtd.conf (or enable libvirtd-tcp.socket / virtproxyd-tcp.socket), check host and port and any firewall; prefer qemu+ssh:// or qemu+tls://, tcp is unencrypted");
  });

  test("the ext transport is refused with a pointer to what works", async () => {
    const e = await rejection(dial(parseUri("qemu+ext:///system?command=/bin/true"), false));
    expect((e as LibvirtError).code).toBe(ErrorCode.NO_SUPPORT);
    expect(e.message).toContain("use unix, ssh, tls or tcp");
  });
});
