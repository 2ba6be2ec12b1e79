/**
 * RpcConnection against a tiny fake daemon over an in-memory duplex pair (and once over a real
 * unix socket): serial demultiplexing, error replies, keepalive, streams, and every way the
 * connection can die.
 */
import { createServer, Server, Socket, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Duplex } from "node:stream";
import { ErrorCode, ErrorDomain, LibvirtError, ProtocolError, isConnectionLost, isNotFound } from "./errors";
import {
  Header, MessageType, Packet, PacketDecoder, Program, Status, finishPacket, packetHeader, startPacket,
} from "./packet";
import { Keepalive, P, RemoteError } from "./protocol";
import { RpcConnection, StreamSink } from "./rpc";
import { Codec, Decoded, decode, encode } from "./xdr";
import { isTransient, retrying } from "../core/retry";
import { rejection } from "../../test/util";

// Nothing here should take more than a fraction of a second; a hang must fail fast, not in 2 minutes.
jest.setTimeout(5000);

// ---------------------------------------------------------------------------------------------
// Plumbing
// ---------------------------------------------------------------------------------------------

/**
 * Two connected in-memory Duplexes. Like a TCP/unix socket (allowHalfOpen false), a side whose
 * peer ended or was destroyed ends too and emits "close".
 */
function duplexPair(allowHalfOpen = false): [Duplex, Duplex] {
  const make = (peer: () => Duplex) =>
    new Duplex({
      allowHalfOpen,
      read() {},
      write(chunk: Buffer, _enc, cb) {
        const p = peer();
        if (!p.destroyed) p.push(Buffer.from(chunk));
        cb();
      },
      final(cb) {
        const p = peer();
        if (!p.destroyed) p.push(null);
        cb();
      },
      destroy(err, cb) {
        const p = peer();
        if (!p.destroyed && !p.readableEnded) p.push(null);
        cb(err);
      },
    });
  const a: Duplex = make(() => b);
  const b: Duplex = make(() => a);
  return [a, b];
}

type Remote = Decoded<typeof RemoteError>;

function remoteError(code: number, domain: number, message?: string): Remote {
  return { code, domain, message, level: 2, dom: undefined, str1: message, str2: undefined, str3: undefined, int1: -1, int2: -1, net: undefined };
}

/** The daemon's side: decodes calls and answers them. */
class FakeDaemon {
  readonly calls: Packet[] = [];
  readonly all: Packet[] = [];
  private readonly decoder = new PacketDecoder();
  private waiters: Array<() => void> = [];
  /** Called for every call; the default leaves it unanswered. */
  onCall?: (p: Packet) => void;

  constructor(readonly sock: Duplex) {
    sock.on("data", (chunk: Buffer) => {
      for (const p of this.decoder.push(chunk)) {
        this.all.push(p);
        if (p.type === MessageType.CALL) {
          this.calls.push(p);
          this.onCall?.(p);
        }
        for (const w of this.waiters.splice(0)) w();
      }
    });
    sock.on("error", () => undefined);
  }

  /** Resolves once `pred` holds, re-checked after every packet. */
  async until(pred: () => boolean, what = "condition"): Promise<void> {
    const deadline = Date.now() + 2000;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`fake daemon: timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50).unref();
      });
    }
  }

  async callCount(n: number): Promise<Packet[]> {
    await this.until(() => this.calls.length >= n, `${n} calls`);
    return this.calls.slice(0, n);
  }

  send(h: Header, payload: Buffer = Buffer.alloc(0)): void {
    const w = startPacket(h, payload.length);
    w.bytes(payload);
    this.sock.write(Buffer.from(finishPacket(w)));
  }

  reply<R>(call: Packet, ret: Codec<R>, v: R): void {
    this.send({ ...headerOf(call), type: MessageType.REPLY, status: Status.OK }, encode(ret, v));
  }

  fail(call: Packet, e: Remote): void {
    this.send({ ...headerOf(call), type: MessageType.REPLY, status: Status.ERROR }, encode(RemoteError, e));
  }

  stream(serial: number, procedure: number, status: number, data: Buffer = Buffer.alloc(0)): void {
    this.sock.write(Buffer.concat([
      packetHeader({ program: Program.REMOTE, version: 1, procedure, type: MessageType.STREAM, serial, status }, data.length),
      data,
    ]));
  }
}

function headerOf(p: Packet): Header {
  const { program, version, procedure, type, serial, status } = p;
  return { program, version, procedure, type, serial, status };
}

function setup(allowHalfOpen = false): { rpc: RpcConnection; daemon: FakeDaemon; client: Duplex; server: Duplex } {
  const [client, server] = duplexPair(allowHalfOpen);
  const rpc = new RpcConnection(client, "fake daemon");
  return { rpc, daemon: new FakeDaemon(server), client, server };
}


function hexOf(s: string): string {
  return s.replace(/\s+/g, "");
}

const UUID = Buffer.from("00112233445566778899aabbccddeeff", "hex");
const dom = { name: "vm1", uuid: UUID, id: 3 };

// ---------------------------------------------------------------------------------------------

describe("calls and replies", () => {
  test("a call goes out as CALL with serial 1, the reply resolves it", async () => {
    const { rpc, daemon } = setup();
    daemon.onCall = (c) => daemon.reply(c, P.CONNECT_GET_HOSTNAME.ret, { hostname: "hv1" });
    await expect(rpc.call(P.CONNECT_GET_HOSTNAME, undefined)).resolves.toEqual({ hostname: "hv1" });
    const [c] = daemon.calls;
    expect(headerOf(c)).toEqual({ program: Program.REMOTE, version: 1, procedure: 59, type: MessageType.CALL, serial: 1, status: Status.OK });
    expect(c.payload.length).toBe(0);
    rpc.destroy();
  });

  test("the call's exact bytes: header words then the encoded arguments", async () => {
    const { rpc, server } = setup();
    const bytes: Buffer[] = [];
    server.on("data", (b: Buffer) => bytes.push(b));
    void rpc.call(P.DOMAIN_LOOKUP_BY_NAME, { name: "vm1" }).catch(() => undefined);
    await new Promise((r) => setImmediate(r));
    expect(Buffer.concat(bytes).toString("hex")).toBe(hexOf(
      "00000024 20008086 00000001 00000017 00000000 00000001 00000000 00000003 766d3100",
    ));
    rpc.destroy();
  });

  test("out-of-order replies are matched to their calls by serial", async () => {
    const { rpc, daemon } = setup();
    const host = rpc.call(P.CONNECT_GET_HOSTNAME, undefined);
    const type = rpc.call(P.CONNECT_GET_TYPE, undefined);
    const info = rpc.call(P.DOMAIN_GET_INFO, { dom });
    const state = rpc.call(P.DOMAIN_GET_STATE, { dom, flags: 0 });
    const calls = await daemon.callCount(4);
    expect(calls.map((c) => c.serial)).toEqual([1, 2, 3, 4]);
    expect(decode(P.DOMAIN_GET_INFO.args, calls[2].payload)).toEqual({ dom });
    // Answer backwards, with one duplicate serial and one for a call never made thrown in.
    daemon.reply(calls[3], P.DOMAIN_GET_STATE.ret, { state: 1, reason: 1 });
    daemon.reply(calls[2], P.DOMAIN_GET_INFO.ret, { state: 1, maxMem: 1024, memory: 512, nrVirtCpu: 2, cpuTime: 99 });
    daemon.send({ program: Program.REMOTE, version: 1, procedure: 3, type: MessageType.REPLY, serial: 77, status: Status.OK }, encode(P.CONNECT_GET_TYPE.ret, { type: "bogus" }));
    daemon.reply(calls[1], P.CONNECT_GET_TYPE.ret, { type: "QEMU" });
    daemon.reply(calls[0], P.CONNECT_GET_HOSTNAME.ret, { hostname: "hv1" });
    daemon.reply(calls[0], P.CONNECT_GET_HOSTNAME.ret, { hostname: "late duplicate" });
    await expect(host).resolves.toEqual({ hostname: "hv1" });
    await expect(type).resolves.toEqual({ type: "QEMU" });
    await expect(info).resolves.toEqual({ state: 1, maxMem: 1024, memory: 512, nrVirtCpu: 2, cpuTime: 99 });
    await expect(state).resolves.toEqual({ state: 1, reason: 1 });
    expect(rpc.closed).toBe(false);
    rpc.destroy();
  });

  test("replies delivered in one chunk, or one byte at a time, all resolve", async () => {
    const { rpc, server } = setup();
    const daemonDecoder = new PacketDecoder();
    const calls: Packet[] = [];
    server.on("data", (b: Buffer) => calls.push(...daemonDecoder.push(b)));
    const results = Array.from({ length: 5 }, () => rpc.call(P.DOMAIN_IS_ACTIVE, { dom }));
    await new Promise((r) => setImmediate(r));
    expect(calls).toHaveLength(5);
    const replies = calls.map((c) => {
      const w = startPacket({ ...headerOf(c), type: MessageType.REPLY });
      P.DOMAIN_IS_ACTIVE.ret.enc(w, { active: c.serial % 2 === 0 });
      return Buffer.from(finishPacket(w));
    });
    server.write(Buffer.concat(replies.slice(0, 2)));
    for (const b of Buffer.concat(replies.slice(2))) server.write(Buffer.from([b]));
    await expect(Promise.all(results)).resolves.toEqual([1, 2, 3, 4, 5].map((s) => ({ active: s % 2 === 0 })));
    rpc.destroy();
  });

  test("an ERROR reply rejects with the daemon's code, domain and message", async () => {
    const { rpc, daemon } = setup();
    daemon.onCall = (c) => {
      if (c.procedure === P.DOMAIN_LOOKUP_BY_NAME.number) {
        daemon.fail(c, remoteError(ErrorCode.NO_DOMAIN, 10, "Domain not found: no domain with matching name 'x'"));
      } else daemon.reply(c, P.CONNECT_GET_HOSTNAME.ret, { hostname: "still here" });
    };
    const e = await rejection(rpc.call(P.DOMAIN_LOOKUP_BY_NAME, { name: "x" }));
    expect(e.code).toBe(ErrorCode.NO_DOMAIN);
    expect(e.domain).toBe(10);
    expect(e.message).toBe("Domain not found: no domain with matching name 'x'");
    expect(isNotFound(e)).toBe(true);
    expect(isConnectionLost(e)).toBe(false);
    // An error reply is an answer like any other: the connection carries on.
    expect(rpc.closed).toBe(false);
    await expect(rpc.call(P.CONNECT_GET_HOSTNAME, undefined)).resolves.toEqual({ hostname: "still here" });
    rpc.destroy();
  });

  test("an ERROR reply without a message still carries the code", async () => {
    const { rpc, daemon } = setup();
    daemon.onCall = (c) => daemon.fail(c, remoteError(ErrorCode.OPERATION_INVALID, 10));
    const e = await rejection(rpc.call(P.DOMAIN_RESUME, { dom }));
    expect(e.code).toBe(ErrorCode.OPERATION_INVALID);
    expect(e.message).toMatch(/55/);
    rpc.destroy();
  });

  test("a malformed reply rejects that call only, with a protocol error", async () => {
    const { rpc, daemon } = setup();
    daemon.onCall = (c) => {
      if (c.serial === 1) daemon.send({ ...headerOf(c), type: MessageType.REPLY }, Buffer.from("00000001deadbeef", "hex")); // trailing bytes
      else if (c.serial === 2) daemon.send({ ...headerOf(c), type: MessageType.REPLY, status: Status.ERROR }, Buffer.from("0000", "hex")); // truncated error
      else daemon.reply(c, P.DOMAIN_IS_ACTIVE.ret, { active: true });
    };
    const bad = await rejection(rpc.call(P.DOMAIN_IS_ACTIVE, { dom }));
    expect(bad).toBeInstanceOf(ProtocolError);
    expect(bad.code).toBe(ErrorCode.RPC);
    expect(bad.message).toBe("libvirt protocol error: cannot decode the reply to REMOTE_PROC_DOMAIN_IS_ACTIVE: 4 unexpected trailing bytes after the reply");
    const badError = await rejection(rpc.call(P.DOMAIN_IS_ACTIVE, { dom }));
    expect(badError).toBeInstanceOf(ProtocolError);
    expect(badError.message).toMatch(/^libvirt protocol error: cannot decode the error reply to REMOTE_PROC_DOMAIN_IS_ACTIVE: truncated data/);
    // Garbled, not lost: nothing to reconnect for, nothing to retry.
    for (const e of [bad, badError]) {
      expect(isConnectionLost(e)).toBe(false);
      expect(isTransient(e)).toBe(false);
    }
    await expect(rpc.call(P.DOMAIN_IS_ACTIVE, { dom })).resolves.toEqual({ active: true });
    rpc.destroy();
  });

  test("a reply whose body does not decode is not retried: retrying() sends the call once and rejects with the decode error", async () => {
    const { rpc, daemon } = setup();
    // A hostname whose length word claims more bytes than the body holds.
    daemon.onCall = (c) => daemon.send({ ...headerOf(c), type: MessageType.REPLY }, Buffer.from("00000010 6876".replace(/ /g, ""), "hex"));
    const e = await rejection(retrying(() => rpc.call(P.CONNECT_GET_HOSTNAME, undefined), 60_000));
    expect(e).toBeInstanceOf(ProtocolError);
    expect(e.message).toMatch(/cannot decode the reply to REMOTE_PROC_CONNECT_GET_HOSTNAME/);
    // Rejected with only one call made: a retry would have sent a second before giving up.
    expect(daemon.calls).toHaveLength(1);
    rpc.destroy();
  });

  test("arguments that cannot be encoded reject with a LibvirtError and send nothing", async () => {
    const { rpc, daemon } = setup();
    const e1 = await rejection(rpc.call(P.CONNECT_SUPPORTS_FEATURE, { feature: 2 ** 40 }));
    expect(e1.code).toBe(ErrorCode.INVALID_ARG);
    const e2 = await rejection(rpc.call(P.DOMAIN_LOOKUP_BY_UUID, { uuid: Buffer.alloc(3) }));
    expect(e2).toBeInstanceOf(LibvirtError);
    const e3 = await rejection(rpc.call(P.DOMAIN_SET_MEMORY_FLAGS, { dom, memory: 1.5, flags: 0 }));
    expect(e3).toBeInstanceOf(LibvirtError);
    await new Promise((r) => setImmediate(r));
    expect(daemon.all).toHaveLength(0);
    expect(rpc.closed).toBe(false);
    rpc.destroy();
  });

  test("MESSAGE packets are emitted as events with their procedure and payload", async () => {
    const { rpc, daemon } = setup();
    const events: Array<[number, string]> = [];
    rpc.on("event", (proc: number, payload: Buffer) => events.push([proc, payload.toString("hex")]));
    daemon.send({ program: Program.REMOTE, version: 1, procedure: 318, type: MessageType.MESSAGE, serial: 0, status: Status.OK }, Buffer.from("0000000a", "hex"));
    await new Promise((r) => setImmediate(r));
    expect(events).toEqual([[318, "0000000a"]]);
    rpc.destroy();
  });
});

describe("keepalive", () => {
  const PONG = hexOf("0000001c 6b656570 00000001 00000002 00000002 00000000 00000000");

  test("a PING from the daemon is answered with a PONG (program 0x6b656570, proc 2, MESSAGE, serial 0)", async () => {
    const { rpc, daemon, server } = setup();
    const bytes: Buffer[] = [];
    server.on("data", (b: Buffer) => bytes.push(b));
    daemon.send({ program: Program.KEEPALIVE, version: 1, procedure: Keepalive.PING, type: MessageType.MESSAGE, serial: 0, status: Status.OK });
    await daemon.until(() => daemon.all.length === 1, "the PONG");
    expect(Buffer.concat(bytes).toString("hex")).toBe(PONG);
    expect(headerOf(daemon.all[0])).toEqual({
      program: 0x6b656570, version: 1, procedure: 2, type: MessageType.MESSAGE, serial: 0, status: Status.OK,
    });
    // A PONG from the daemon needs no answer.
    daemon.send({ program: Program.KEEPALIVE, version: 1, procedure: Keepalive.PONG, type: MessageType.MESSAGE, serial: 0, status: Status.OK });
    await new Promise((r) => setTimeout(r, 20));
    expect(daemon.all).toHaveLength(1);
    rpc.destroy();
  });

  test("an idle connection pings, and is declared lost when the daemon stays silent", async () => {
    const { rpc, daemon } = setup();
    const pending = rpc.call(P.CONNECT_GET_HOSTNAME, undefined);
    rpc.startKeepalive({ interval: 0.03, count: 3 });
    const e = await rejection(pending);
    expect(isConnectionLost(e)).toBe(true);
    expect(e.message).toMatch(/keepalive/);
    expect(rpc.closed).toBe(true);
    const pings = daemon.all.filter((p) => p.program === Program.KEEPALIVE && p.procedure === Keepalive.PING);
    expect(pings.length).toBeGreaterThanOrEqual(1);
    expect(headerOf(pings[0])).toMatchObject({ type: MessageType.MESSAGE, serial: 0, version: 1 });
  });

  test("a daemon that answers PINGs keeps the connection alive", async () => {
    const { rpc, daemon } = setup();
    const answer = setInterval(() => {
      for (const p of daemon.all.splice(0)) {
        if (p.program === Program.KEEPALIVE && p.procedure === Keepalive.PING) {
          daemon.send({ program: Program.KEEPALIVE, version: 1, procedure: Keepalive.PONG, type: MessageType.MESSAGE, serial: 0, status: Status.OK });
        }
      }
    }, 5);
    rpc.startKeepalive({ interval: 0.03, count: 3 });
    await new Promise((r) => setTimeout(r, 250));
    clearInterval(answer);
    expect(rpc.closed).toBe(false);
    rpc.destroy();
  });
});

describe("losing the connection", () => {
  test("the daemon closing the socket rejects every pending call with a connection-lost LibvirtError", async () => {
    const { rpc, daemon, server } = setup();
    const closed: LibvirtError[] = [];
    rpc.on("closed", (e: LibvirtError) => closed.push(e));
    const a = rpc.call(P.CONNECT_GET_HOSTNAME, undefined);
    const b = rpc.call(P.DOMAIN_GET_INFO, { dom });
    await daemon.callCount(2);
    server.destroy();
    const [ea, eb] = await Promise.all([rejection(a), rejection(b)]);
    for (const e of [ea, eb]) {
      expect(isConnectionLost(e)).toBe(true);
      expect(e.code).toBe(ErrorCode.NO_CONNECT);
      expect(e.domain).toBe(ErrorDomain.RPC);
      expect(e.message).toContain("fake daemon");
    }
    expect(rpc.closed).toBe(true);
    expect(closed).toHaveLength(1);
    // Later calls fail at once with the same error, sending nothing.
    const later = await rejection(rpc.call(P.CONNECT_GET_HOSTNAME, undefined));
    expect(later).toBe(ea);
  });

  test("the daemon ending its side of a half-open stream (e.g. an ssh pipe) also fails pending calls", async () => {
    const { rpc, daemon, server } = setup(true);
    const a = rpc.call(P.CONNECT_GET_HOSTNAME, undefined);
    await daemon.callCount(1);
    server.end();
    const e = await rejection(a);
    expect(isConnectionLost(e)).toBe(true);
    expect(rpc.closed).toBe(true);
    rpc.destroy();
  });

  test("a socket error rejects pending calls", async () => {
    const { rpc, daemon, client } = setup();
    const a = rpc.call(P.CONNECT_GET_HOSTNAME, undefined);
    await daemon.callCount(1);
    client.destroy(new Error("ECONNRESET"));
    const e = await rejection(a);
    expect(isConnectionLost(e)).toBe(true);
    expect(e.message).toContain("ECONNRESET");
  });

  test("a framing error (bad length) fails all pending calls and closes the connection", async () => {
    const { rpc, daemon, server, client } = setup();
    const pending = [rpc.call(P.CONNECT_GET_HOSTNAME, undefined), rpc.call(P.CONNECT_GET_TYPE, undefined)];
    await daemon.callCount(2);
    server.write(Buffer.from("00000004", "hex"));
    const errors = await Promise.all(pending.map(rejection));
    for (const e of errors) {
      expect(e.code).toBe(ErrorCode.RPC);
      expect(e.domain).toBe(ErrorDomain.RPC);
      expect(e.message).toMatch(/packet length 4/);
      // The connection is gone, but reconnecting would not make the daemon's bytes valid.
      expect(e).toBeInstanceOf(ProtocolError);
      expect(isConnectionLost(e)).toBe(false);
    }
    expect(rpc.closed).toBe(true);
    expect(client.destroyed).toBe(true);
    await expect(rejection(rpc.call(P.CONNECT_GET_HOSTNAME, undefined))).resolves.toBe(errors[0]);
  });

  test("a length word over 32 MiB fails the connection at once, without waiting for the body", async () => {
    const { rpc, daemon, server } = setup();
    const pending = rpc.call(P.CONNECT_GET_HOSTNAME, undefined);
    await daemon.callCount(1);
    server.write(Buffer.from(hexOf("02000001 20008086"), "hex"));
    const e = await rejection(pending);
    expect(e.code).toBe(ErrorCode.RPC);
    expect(rpc.closed).toBe(true);
  });

  test("destroy() rejects pending calls and refuses new ones", async () => {
    const { rpc, daemon } = setup();
    const a = rpc.call(P.CONNECT_GET_HOSTNAME, undefined);
    await daemon.callCount(1);
    rpc.destroy();
    const e = await rejection(a);
    expect(e.code).toBe(ErrorCode.NO_CONNECT);
    expect(e.message).toMatch(/closed by the client/);
    await expect(rejection(rpc.call(P.CONNECT_GET_HOSTNAME, undefined))).resolves.toBe(e);
    expect(() => rpc.writeStreamPacket(Program.REMOTE, 208, 1, Status.CONTINUE, Buffer.from("x"))).toThrow(LibvirtError);
    await expect(rejection(rpc.drained())).resolves.toBe(e);
  });
});

describe("streams", () => {
  function recordingSink(): StreamSink & { data: jest.Mock; end: jest.Mock; error: jest.Mock } {
    return { data: jest.fn(), end: jest.fn(), error: jest.fn() };
  }

  test("data pushed right behind the reply reaches the sink, then the daemon's OK ends it", async () => {
    const { rpc, daemon } = setup();
    const sink = recordingSink();
    daemon.onCall = (c) => {
      // Reply and the first data in the same tick, as the daemon does for a download.
      daemon.reply(c, P.STORAGE_VOL_DOWNLOAD.ret, undefined);
      daemon.stream(c.serial, c.procedure, Status.CONTINUE, Buffer.from("hello"));
      daemon.stream(c.serial, c.procedure, Status.CONTINUE, Buffer.from(" world"));
      daemon.stream(c.serial, c.procedure, Status.OK);
    };
    const vol = { pool: "p", name: "v", key: "/k" };
    const h = await rpc.openStream(P.STORAGE_VOL_DOWNLOAD, { vol, offset: 0, length: 0, flags: 0 }, () => sink);
    await daemon.until(() => sink.end.mock.calls.length === 1, "stream end");
    expect(h.serial).toBe(1);
    expect(Buffer.concat(sink.data.mock.calls.map((c) => c[0] as Buffer)).toString()).toBe("hello world");
    expect(sink.error).not.toHaveBeenCalled();
    rpc.destroy();
  });

  test("upload data leaves as STREAM/CONTINUE packets with the call's serial; finish sends STREAM/OK", async () => {
    const { rpc, daemon } = setup();
    daemon.onCall = (c) => daemon.reply(c, P.STORAGE_VOL_UPLOAD.ret, undefined);
    const vol = { pool: "p", name: "v", key: "/k" };
    const h = await rpc.openStream(P.STORAGE_VOL_UPLOAD, { vol, offset: 0, length: 0, flags: 0 }, () => recordingSink());
    h.write(Buffer.from("abcde"));
    h.finish();
    await daemon.until(() => daemon.all.length === 3, "stream packets");
    const [, data, fin] = daemon.all;
    expect(headerOf(data)).toEqual({ program: Program.REMOTE, version: 1, procedure: 208, type: MessageType.STREAM, serial: 1, status: Status.CONTINUE });
    expect(data.payload.toString()).toBe("abcde");
    expect(headerOf(fin)).toMatchObject({ type: MessageType.STREAM, serial: 1, status: Status.OK });
    expect(fin.payload.length).toBe(0);
    rpc.destroy();
  });

  test("a stream error from the daemon reaches the sink as a LibvirtError", async () => {
    const { rpc, daemon } = setup();
    const sink = recordingSink();
    daemon.onCall = (c) => {
      daemon.reply(c, P.STORAGE_VOL_DOWNLOAD.ret, undefined);
      daemon.send({ ...headerOf(c), type: MessageType.STREAM, status: Status.ERROR }, encode(RemoteError, remoteError(ErrorCode.SYSTEM_ERROR, 18, "read failed")));
    };
    const vol = { pool: "p", name: "v", key: "/k" };
    await rpc.openStream(P.STORAGE_VOL_DOWNLOAD, { vol, offset: 0, length: 0, flags: 0 }, () => sink);
    await daemon.until(() => sink.error.mock.calls.length === 1, "stream error");
    const e = sink.error.mock.calls[0][0] as LibvirtError;
    expect(e).toBeInstanceOf(LibvirtError);
    expect(e.code).toBe(ErrorCode.SYSTEM_ERROR);
    expect(e.message).toBe("read failed");
    rpc.destroy();
  });

  test("losing the connection errors open streams", async () => {
    const { rpc, daemon, server } = setup();
    const sink = recordingSink();
    daemon.onCall = (c) => daemon.reply(c, P.STORAGE_VOL_UPLOAD.ret, undefined);
    const vol = { pool: "p", name: "v", key: "/k" };
    await rpc.openStream(P.STORAGE_VOL_UPLOAD, { vol, offset: 0, length: 0, flags: 0 }, () => sink);
    server.destroy();
    await daemon.until(() => sink.error.mock.calls.length === 1, "stream error");
    expect(isConnectionLost(sink.error.mock.calls[0][0])).toBe(true);
  });

  test("a failed open unregisters the sink", async () => {
    const { rpc, daemon } = setup();
    const sink = recordingSink();
    daemon.onCall = (c) => daemon.fail(c, remoteError(ErrorCode.NO_STORAGE_VOL, 18, "no vol"));
    const vol = { pool: "p", name: "v", key: "/k" };
    const e = await rejection(rpc.openStream(P.STORAGE_VOL_DOWNLOAD, { vol, offset: 0, length: 0, flags: 0 }, () => sink));
    expect(isNotFound(e)).toBe(true);
    daemon.stream(1, 209, Status.CONTINUE, Buffer.from("stray"));
    await new Promise((r) => setTimeout(r, 10));
    expect(sink.data).not.toHaveBeenCalled();
    rpc.destroy();
  });
});

describe("over a real unix socket", () => {
  let server: Server;
  let path: string;
  let daemonSide: Promise<Socket>;

  beforeEach(async () => {
    path = join(tmpdir(), `rpc-test-${process.pid}-${Math.random().toString(36).slice(2)}.sock`);
    let accept!: (s: Socket) => void;
    daemonSide = new Promise((r) => (accept = r));
    server = createServer(accept);
    await new Promise<void>((r) => server.listen(path, r));
  });

  afterEach(async () => {
    await new Promise((r) => server.close(r));
  });

  async function connected(): Promise<{ rpc: RpcConnection; daemon: FakeDaemon }> {
    const sock = connect(path);
    await new Promise((r) => sock.once("connect", r));
    return { rpc: new RpcConnection(sock, `unix socket ${path}`), daemon: new FakeDaemon(await daemonSide) };
  }

  test("calls round trip, and the daemon closing fails pending calls", async () => {
    const { rpc, daemon } = await connected();
    daemon.onCall = (c) => {
      if (c.serial === 1) daemon.reply(c, P.CONNECT_GET_HOSTNAME.ret, { hostname: "real" });
    };
    await expect(rpc.call(P.CONNECT_GET_HOSTNAME, undefined)).resolves.toEqual({ hostname: "real" });
    const pending = rpc.call(P.CONNECT_GET_HOSTNAME, undefined);
    await daemon.callCount(2);
    daemon.sock.destroy();
    const e = await rejection(pending);
    expect(isConnectionLost(e)).toBe(true);
    expect(e.message).toContain(path);
    expect(rpc.closed).toBe(true);
  });

  test("a framing error fails the connection", async () => {
    const { rpc, daemon } = await connected();
    const pending = rpc.call(P.CONNECT_GET_HOSTNAME, undefined);
    await daemon.callCount(1);
    daemon.sock.write(Buffer.from("ffffffff", "hex"));
    const e = await rejection(pending);
    expect(e.code).toBe(ErrorCode.RPC);
    expect(rpc.closed).toBe(true);
    daemon.sock.destroy();
  });
});
