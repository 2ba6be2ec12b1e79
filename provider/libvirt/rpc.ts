/**
 * One RPC connection over any byte stream (unix socket, ssh pipe, TLS socket).
 *
 * Calls are matched to replies by serial, so any number can be in flight at once. Stream
 * packets (volume upload/download) are routed by the serial of the call that opened them;
 * keepalive pings are answered inline; event messages go to registered handlers, which are
 * invoked synchronously and must not block (never await inside the demultiplexer).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { EventEmitter } from "node:events";
import type { Duplex } from "node:stream";
import { ErrorCode, ErrorDomain, LibvirtError, ProtocolError } from "./errors";
import {
  MessageType, Packet, PacketDecoder, Program, PROTOCOL_VERSION, Status,
  finishPacket, packetHeader, startPacket,
} from "./packet";
import { Keepalive, Procedure, procedureName, RemoteError } from "./protocol";
import { Codec, decode, XdrReader } from "./xdr";

interface PendingCall {
  ret: Codec<unknown>;
  resolve(v: unknown): void;
  reject(e: LibvirtError): void;
}

/** Receives the packets of one open stream. */
export interface StreamSink {
  data(chunk: Buffer): void;
  /** The daemon's final STREAM/OK. */
  end(): void;
  error(e: LibvirtError): void;
}

export interface KeepaliveOptions {
  /** Seconds without traffic before we ping the daemon (libvirt's default: 5). */
  interval: number;
  /** Unanswered intervals before the peer is declared dead (libvirt's default: 5). */
  count: number;
}

/**
 * Counts the calls sent inside `rpcTally.run({ calls: 0 }, fn)`, on any connection: how a
 * profile attributes RPCs to one provider call among many running at once.
 */
export const rpcTally = new AsyncLocalStorage<{ calls: number }>();

export class RpcConnection extends EventEmitter {
  private serial = 1;
  private readonly pending = new Map<number, PendingCall>();
  private readonly streams = new Map<number, StreamSink>();
  private readonly decoder = new PacketDecoder();
  private closedWith?: LibvirtError;
  private lastHeard = Date.now();
  private keepaliveTimer?: NodeJS.Timeout;
  private drain?: Promise<void>;

  /** @param peer names the daemon in errors: "unix socket /var/run/libvirt/libvirt-sock". */
  constructor(
    private readonly socket: Duplex,
    readonly peer: string,
  ) {
    super();
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("error", (e: Error) => this.fail(connectionLost(peer, e.message)));
    // "end" as well as "close": a half-open duplex (a pipe to ssh) may never emit "close" after
    // the daemon's side ends, and nothing more can arrive to settle the pending calls.
    socket.on("end", () => this.fail(connectionLost(peer, "the daemon closed the connection")));
    socket.on("close", () => this.fail(connectionLost(peer, "the daemon closed the connection")));
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** Call a remote procedure and resolve with its decoded reply. */
  call<A, R>(p: Procedure<A, R>, args: A): Promise<R> {
    return this.send(p, args) as Promise<R>;
  }

  /**
   * Call a procedure that opens a stream. The sink is registered before the call is sent,
   * because the daemon may push data right behind its reply, before this promise resolves.
   */
  async openStream<A>(p: Procedure<A, void>, args: A, makeSink: (h: StreamHandle) => StreamSink): Promise<StreamHandle> {
    const handle = new StreamHandle(this, p.program, p.number, this.serial);
    this.streams.set(handle.serial, makeSink(handle));
    try {
      await this.send(p, args);
    } catch (e) {
      this.streams.delete(handle.serial);
      throw e;
    }
    return handle;
  }

  private send(p: Procedure<any, any>, args: unknown): Promise<unknown> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const serial = this.serial++;
    const tally = rpcTally.getStore();
    if (tally) tally.calls++;
    const w = startPacket({
      program: p.program, version: PROTOCOL_VERSION, procedure: p.number,
      type: MessageType.CALL, serial, status: Status.OK,
    });
    let packet: Buffer;
    try {
      p.args.enc(w, args);
      packet = finishPacket(w);
    } catch (e) {
      return Promise.reject(e instanceof LibvirtError ? e : new LibvirtError(`encoding arguments of procedure ${p.number}: ${(e as Error).message}`, ErrorCode.INVALID_ARG));
    }
    return new Promise((resolve, reject) => {
      this.pending.set(serial, { ret: p.ret, resolve, reject });
      this.socket.write(packet);
    });
  }

  /** Raw stream data or a control packet for an open stream. Returns false when the socket is full. */
  writeStreamPacket(program: number, procedure: number, serial: number, status: number, data?: Buffer): boolean {
    if (this.closedWith) throw this.closedWith;
    const header = packetHeader({ program, version: PROTOCOL_VERSION, procedure, type: MessageType.STREAM, serial, status }, data?.length ?? 0);
    if (!data?.length) return this.socket.write(header);
    this.socket.cork(); // header and data leave in one writev, without copying the data
    this.socket.write(header);
    const ok = this.socket.write(data);
    this.socket.uncork();
    return ok;
  }

  /** Resolves when the socket can take more data (or the connection failed). */
  drained(): Promise<void> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    // One shared wait, however many uploads are blocked on the socket (no listener per upload).
    this.drain ??= new Promise<void>((resolve, reject) => {
      const done = () => { this.off("closed", onClose); this.drain = undefined; resolve(); };
      const onClose = (e: LibvirtError) => { this.socket.off("drain", done); this.drain = undefined; reject(e); };
      this.socket.once("drain", done);
      this.once("closed", onClose);
    });
    return this.drain;
  }

  /** Stop reading from the daemon while a slow consumer catches up (download backpressure). */
  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    this.socket.resume();
  }

  /** Ping the daemon when idle and declare it dead after interval*count seconds of silence. */
  startKeepalive(opts: KeepaliveOptions): void {
    const ms = opts.interval * 1000;
    // The decision waits for setImmediate, which runs after pending socket reads: a blocked event
    // loop must not make a live daemon look silent.
    this.keepaliveTimer = setInterval(() => setImmediate(() => {
      if (this.closedWith) return;
      const silent = Date.now() - this.lastHeard;
      if (silent >= ms * opts.count) {
        this.fail(connectionLost(this.peer, `no answer to keepalive for ${Math.round(silent / 1000)} s`));
        this.socket.destroy();
      } else if (silent >= ms) {
        this.sendKeepalive(Keepalive.PING);
      }
    }), ms);
    this.keepaliveTimer.unref();
  }

  /** Close the socket (after CONNECT_CLOSE, which the typed client sends). */
  destroy(): void {
    this.fail(new LibvirtError(`connection to ${this.peer} was closed by the client`, ErrorCode.NO_CONNECT, ErrorDomain.RPC));
    this.socket.end();
    this.socket.destroy();
  }

  private sendKeepalive(proc: number): void {
    if (this.closedWith) return;
    const w = startPacket({ program: Program.KEEPALIVE, version: 1, procedure: proc, type: MessageType.MESSAGE, serial: 0, status: Status.OK }, 0);
    this.socket.write(finishPacket(w));
  }

  private receive(chunk: Buffer): void {
    this.lastHeard = Date.now();
    let packets: Packet[];
    try {
      packets = this.decoder.push(chunk);
    } catch (e) {
      // A framing error leaves no way to find the next packet: the connection is unusable.
      this.fail(e as LibvirtError);
      this.socket.destroy();
      return;
    }
    for (const p of packets) this.dispatch(p);
  }

  private dispatch(p: Packet): void {
    if (p.program === Program.KEEPALIVE) {
      if (p.procedure === Keepalive.PING) this.sendKeepalive(Keepalive.PONG);
      return;
    }
    switch (p.type) {
      case MessageType.REPLY: return this.settleCall(p);
      case MessageType.STREAM: return this.routeStream(p);
      case MessageType.MESSAGE: {
        this.emit("event", p.procedure, p.payload);
        return;
      }
      default:
        // Nothing else is sent to a client that never asked for fds or sparse streams.
        this.emit("warning", `ignored packet of type ${p.type} for procedure ${p.procedure}`);
    }
  }

  private settleCall(p: Packet): void {
    const call = this.pending.get(p.serial);
    if (!call) return;
    this.pending.delete(p.serial);
    try {
      if (p.status === Status.OK) call.resolve(decode(call.ret, p.payload, "the reply"));
      else call.reject(remoteError(p));
    } catch (e) {
      call.reject(undecodable(p, e));
    }
  }

  private routeStream(p: Packet): void {
    const sink = this.streams.get(p.serial);
    if (!sink) return;
    if (p.status === Status.CONTINUE) {
      sink.data(p.payload);
      return;
    }
    this.streams.delete(p.serial);
    if (p.status === Status.OK) sink.end();
    else sink.error(safeRemoteError(p));
  }

  private fail(e: LibvirtError): void {
    if (this.closedWith) return;
    this.closedWith = e;
    clearInterval(this.keepaliveTimer);
    for (const call of this.pending.values()) call.reject(e);
    for (const sink of this.streams.values()) sink.error(e);
    this.pending.clear();
    this.streams.clear();
    this.emit("closed", e);
  }
}

/** The client's end of an open stream: sends data and control packets. */
export class StreamHandle {
  constructor(
    readonly rpc: RpcConnection,
    private readonly program: number,
    private readonly procedure: number,
    readonly serial: number,
  ) {}

  /** Returns false when the caller should wait for rpc.drained(). */
  write(data: Buffer): boolean {
    return this.rpc.writeStreamPacket(this.program, this.procedure, this.serial, Status.CONTINUE, data);
  }

  /** The client's STREAM/OK: no more data (upload) or done reading (download). */
  finish(): void {
    this.rpc.writeStreamPacket(this.program, this.procedure, this.serial, Status.OK);
  }

  /** The client's STREAM/ERROR: the daemon discards the transfer and confirms. */
  abort(): void {
    this.rpc.writeStreamPacket(this.program, this.procedure, this.serial, Status.ERROR);
  }
}

function connectionLost(peer: string, why: string): LibvirtError {
  return new LibvirtError(`lost connection to libvirt at ${peer}: ${why}`, ErrorCode.NO_CONNECT, ErrorDomain.RPC);
}

function remoteError(p: Packet): LibvirtError {
  const r = new XdrReader(p.payload);
  const e = RemoteError.dec(r);
  return new LibvirtError(e.message ?? `libvirt error ${e.code} (no message)`, e.code, e.domain);
}

/** A reply body that does not decode: the daemon answered, but not in the shape its procedure has. */
function undecodable(p: Packet, e: unknown): ProtocolError {
  const why = e instanceof ProtocolError ? e.detail : (e as Error).message;
  return new ProtocolError(`cannot decode the ${p.status === Status.OK ? "reply" : "error reply"} to ${procedureName(p.procedure)}: ${why}`);
}

/** A stream error may come with an empty body (client-side abort confirmations on old daemons). */
function safeRemoteError(p: Packet): LibvirtError {
  if (p.payload.length === 0) return new LibvirtError("stream aborted by the daemon", ErrorCode.RPC, ErrorDomain.STREAMS);
  try {
    return remoteError(p);
  } catch (e) {
    return undecodable(p, e);
  }
}
