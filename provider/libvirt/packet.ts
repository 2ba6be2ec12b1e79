/**
 * libvirt's RPC framing (src/rpc/virnetprotocol.x): a 4-byte big-endian length that counts
 * itself, a 24-byte header of six words, then the XDR payload.
 */
import { ProtocolError } from "./errors";
import { XdrWriter } from "./xdr";

export const Program = { REMOTE: 0x20008086, QEMU: 0x20008087, KEEPALIVE: 0x6b656570 } as const;
export const PROTOCOL_VERSION = 1;

export const MessageType = {
  CALL: 0,
  REPLY: 1,
  MESSAGE: 2,
  STREAM: 3,
  CALL_WITH_FDS: 4,
  REPLY_WITH_FDS: 5,
  STREAM_HOLE: 6,
} as const;

export const Status = { OK: 0, ERROR: 1, CONTINUE: 2 } as const;

export const LENGTH_WORD = 4;
export const HEADER_SIZE = 24;
/** VIR_NET_MESSAGE_MAX on current daemons; nothing larger is ever allocated. */
export const MAX_PACKET = 32 * 1024 * 1024;
/** Stream data per packet: VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX, accepted by old daemons too. */
export const STREAM_CHUNK = 256 * 1024;

export interface Header {
  program: number;
  version: number;
  procedure: number;
  type: number;
  serial: number;
  status: number;
}

export interface Packet extends Header {
  /** The XDR payload; a view into the received bytes. */
  payload: Buffer;
}

/**
 * Start a packet: reserves the length word and writes the header; the caller appends the
 * payload and calls finishPacket.
 */
export function startPacket(h: Header, sizeHint = 256): XdrWriter {
  const w = new XdrWriter(sizeHint + LENGTH_WORD + HEADER_SIZE);
  w.skip(LENGTH_WORD);
  w.u32(h.program);
  w.u32(h.version);
  w.i32(h.procedure);
  w.i32(h.type);
  w.u32(h.serial);
  w.i32(h.status);
  return w;
}

export function finishPacket(w: XdrWriter): Buffer {
  if (w.length > MAX_PACKET) throw new ProtocolError(`outgoing packet of ${w.length} bytes exceeds ${MAX_PACKET}`);
  w.patchU32(0, w.length);
  return w.finish();
}

/** The length word and header for a packet whose payload is written separately (stream data). */
export function packetHeader(h: Header, payloadLength: number): Buffer {
  const w = startPacket(h, 0);
  const total = w.length + payloadLength;
  if (total > MAX_PACKET) throw new ProtocolError(`outgoing packet of ${total} bytes exceeds ${MAX_PACKET}`);
  w.patchU32(0, total);
  return w.finish();
}

/**
 * Reassembles packets from a byte stream. Chunks are kept as received and copied once into
 * a packet-sized buffer, after the length word has been checked against MAX_PACKET.
 */
export class PacketDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;

  /** Feed received bytes; returns every complete packet. Throws ProtocolError on a bad frame. */
  push(chunk: Buffer): Packet[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: Packet[] = [];
    while (this.buffered >= LENGTH_WORD) {
      const len = this.peekLength();
      if (len < LENGTH_WORD + HEADER_SIZE || len > MAX_PACKET) {
        throw new ProtocolError(`packet length ${len} outside ${LENGTH_WORD + HEADER_SIZE}..${MAX_PACKET}`);
      }
      if (this.buffered < len) break;
      out.push(parsePacket(this.take(len)));
    }
    return out;
  }

  private peekLength(): number {
    const first = this.chunks[0];
    if (first.length >= LENGTH_WORD) return first.readUInt32BE(0);
    return this.gather(LENGTH_WORD).readUInt32BE(0);
  }

  /** Merge leading chunks until the first one holds n bytes (rare: only for split headers). */
  private gather(n: number): Buffer {
    const merged = Buffer.concat(this.chunks);
    this.chunks = [merged];
    return merged.subarray(0, n);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0];
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[0];
        const used = Math.min(c.length, n - filled);
        c.copy(out, filled, 0, used);
        filled += used;
        if (used === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(used);
      }
    }
    this.buffered -= n;
    return out;
  }
}

export function parsePacket(frame: Buffer): Packet {
  return {
    program: frame.readUInt32BE(4),
    version: frame.readUInt32BE(8),
    procedure: frame.readInt32BE(12),
    type: frame.readInt32BE(16),
    serial: frame.readUInt32BE(20),
    status: frame.readInt32BE(24),
    payload: frame.subarray(LENGTH_WORD + HEADER_SIZE),
  };
}
