/** Framing (packet.ts): length word + 24-byte header, reassembly from arbitrary chunks. */
import { ErrorCode, ErrorDomain, LibvirtError } from "./errors";
import {
  HEADER_SIZE, Header, LENGTH_WORD, MAX_PACKET, MessageType, Packet, PacketDecoder, Program, PROTOCOL_VERSION,
  STREAM_CHUNK, Status, finishPacket, packetHeader, parsePacket, startPacket,
} from "./packet";
import { int, string } from "./xdr";

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ""), "hex");
}

function protocolError(fn: () => unknown, message?: RegExp): LibvirtError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  if (!(thrown instanceof LibvirtError)) throw new Error(`expected a LibvirtError, got ${String(thrown)}`);
  expect(thrown.code).toBe(ErrorCode.RPC);
  expect(thrown.domain).toBe(ErrorDomain.RPC);
  if (message) expect(thrown.message).toMatch(message);
  return thrown;
}

function build(h: Header, payload: Buffer = Buffer.alloc(0)): Buffer {
  const w = startPacket(h);
  w.bytes(payload); // payloads in these tests are multiples of 4
  return Buffer.from(finishPacket(w));
}

function header(over: Partial<Header> = {}): Header {
  return {
    program: Program.REMOTE, version: PROTOCOL_VERSION, procedure: 16, type: MessageType.CALL,
    serial: 7, status: Status.OK, ...over,
  };
}

/** A comparable form of a packet. */
function plain(p: Packet) {
  return { ...p, payload: p.payload.toString("hex") };
}

const CALL_HEX = "00000020 20008086 00000001 00000010 00000000 00000007 00000000 00000001";

describe("constants", () => {
  test("values from virnetprotocol.x", () => {
    expect(LENGTH_WORD).toBe(4);
    expect(HEADER_SIZE).toBe(24);
    expect(MAX_PACKET).toBe(33554432);
    expect(STREAM_CHUNK).toBe(262144);
    expect(Program).toEqual({ REMOTE: 0x20008086, QEMU: 0x20008087, KEEPALIVE: 0x6b656570 });
    expect(MessageType).toMatchObject({ CALL: 0, REPLY: 1, MESSAGE: 2, STREAM: 3 });
    expect(Status).toEqual({ OK: 0, ERROR: 1, CONTINUE: 2 });
  });
});

describe("startPacket / finishPacket", () => {
  test("exact bytes of a call: length counts itself, six header words, payload", () => {
    const w = startPacket(header());
    int.enc(w, 1);
    expect(finishPacket(w).toString("hex")).toBe(hex(CALL_HEX).toString("hex"));
  });

  test("a keepalive PONG is 28 bytes with no payload", () => {
    const w = startPacket({ program: Program.KEEPALIVE, version: 1, procedure: 2, type: MessageType.MESSAGE, serial: 0, status: Status.OK }, 0);
    expect(finishPacket(w).toString("hex")).toBe(hex("0000001c 6b656570 00000001 00000002 00000002 00000000 00000000").toString("hex"));
  });

  test("high serials and negative procedure/status words round trip", () => {
    const h = header({ serial: 0xffffffff, procedure: -1, status: Status.ERROR, type: MessageType.REPLY });
    const frame = build(h);
    expect(frame.toString("hex")).toBe(hex("0000001c 20008086 00000001 ffffffff 00000001 ffffffff 00000001").toString("hex"));
    expect(plain(parsePacket(frame))).toEqual({ ...h, payload: "" });
  });

  test("a packet over MAX_PACKET is refused with a LibvirtError", () => {
    const w = startPacket(header(), 0);
    w.skip(MAX_PACKET - w.length + 1);
    protocolError(() => finishPacket(w), /exceeds/);
  });
});

describe("parsePacket", () => {
  test("decodes the header and exposes the payload as a view", () => {
    const frame = hex(CALL_HEX);
    const p = parsePacket(frame);
    expect(plain(p)).toEqual({ ...header(), payload: "00000001" });
    expect(p.payload.buffer).toBe(frame.buffer);
  });

  test("round trip of every header field", () => {
    const h: Header = { program: Program.QEMU, version: 1, procedure: 123456, type: MessageType.STREAM, serial: 99, status: Status.CONTINUE };
    const frame = build(h, hex("deadbeef cafef00d"));
    expect(frame.subarray(0, 28).toString("hex"))
      .toBe(hex("00000024 20008087 00000001 0001e240 00000003 00000063 00000002").toString("hex"));
    expect(plain(parsePacket(frame))).toEqual({ ...h, payload: "deadbeefcafef00d" });
  });
});

describe("packetHeader (stream data written separately)", () => {
  test("length covers header plus payload", () => {
    const h = header({ procedure: 208, type: MessageType.STREAM, serial: 5, status: Status.CONTINUE });
    expect(packetHeader(h, 1000).toString("hex"))
      .toBe(hex("00000404 20008086 00000001 000000d0 00000003 00000005 00000002").toString("hex"));
  });

  test("an empty stream packet (finish/abort) is just the header", () => {
    const h = header({ procedure: 209, type: MessageType.STREAM, serial: 5, status: Status.OK });
    const b = packetHeader(h, 0);
    expect(b.length).toBe(28);
    expect(b.readUInt32BE(0)).toBe(28);
  });

  test("header + data decode as one packet", () => {
    const h = header({ procedure: 208, type: MessageType.STREAM, serial: 5, status: Status.CONTINUE });
    const data = Buffer.from("hello, stream"); // 13 bytes: stream data is not padded
    const d = new PacketDecoder();
    const out = d.push(Buffer.concat([packetHeader(h, data.length), data]));
    expect(out.map(plain)).toEqual([{ ...h, payload: data.toString("hex") }]);
  });

  test("payloads that would exceed MAX_PACKET are refused", () => {
    expect(packetHeader(header(), MAX_PACKET - 28).readUInt32BE(0)).toBe(MAX_PACKET);
    protocolError(() => packetHeader(header(), MAX_PACKET - 27), /exceeds/);
    protocolError(() => packetHeader(header(), 2 ** 32));
  });
});

describe("PacketDecoder", () => {
  const packets: Buffer[] = [
    build(header({ serial: 1 }), hex("00000001")),
    build(header({ serial: 2, type: MessageType.REPLY }), Buffer.alloc(0)),
    build(header({ serial: 3, procedure: 3 }), Buffer.from("0123456789abcdefghijklmnopqrstuv")),
    Buffer.concat([
      packetHeader(header({ serial: 4, type: MessageType.STREAM, status: Status.CONTINUE }), 5),
      Buffer.from("odd!!"),
    ]),
  ];
  const stream = Buffer.concat(packets);
  const expected = packets.map((p) => plain(parsePacket(p)));

  test("several packets in one chunk", () => {
    const d = new PacketDecoder();
    expect(d.push(stream).map(plain)).toEqual(expected);
    expect(d.push(Buffer.alloc(0))).toEqual([]);
  });

  test("one byte at a time", () => {
    const d = new PacketDecoder();
    const out: Packet[] = [];
    for (let i = 0; i < stream.length; i++) out.push(...d.push(stream.subarray(i, i + 1)));
    expect(out.map(plain)).toEqual(expected);
  });

  test("split into two chunks at every byte boundary", () => {
    for (let i = 0; i <= stream.length; i++) {
      const d = new PacketDecoder();
      const out = [...d.push(stream.subarray(0, i)), ...d.push(stream.subarray(i))];
      expect(out.map(plain)).toEqual(expected);
    }
  });

  test("split into three chunks at every pair of boundaries", () => {
    const want = JSON.stringify(expected);
    for (let i = 0; i <= stream.length; i++) {
      for (let j = i; j <= stream.length; j++) {
        const d = new PacketDecoder();
        const out = [
          ...d.push(stream.subarray(0, i)), ...d.push(stream.subarray(i, j)), ...d.push(stream.subarray(j)),
        ];
        // Compared as one string: a full toEqual per split would dominate the suite's run time.
        const got = JSON.stringify(out.map(plain));
        if (got !== want) expect({ split: [i, j], got: out.map(plain) }).toEqual({ split: [i, j], got: expected });
      }
    }
  });

  test("packets are emitted as soon as they are complete", () => {
    const d = new PacketDecoder();
    const first = packets[0].length;
    expect(d.push(stream.subarray(0, first - 1))).toEqual([]);
    expect(d.push(stream.subarray(first - 1, first + 2)).map(plain)).toEqual([expected[0]]);
  });

  test("a length word split across chunks", () => {
    const d = new PacketDecoder();
    expect(d.push(stream.subarray(0, 1))).toEqual([]);
    expect(d.push(stream.subarray(1, 3))).toEqual([]);
    expect(d.push(stream.subarray(3, 5))).toEqual([]);
    expect(d.push(stream.subarray(5)).map(plain)).toEqual(expected);
  });

  test("empty chunks are harmless anywhere", () => {
    const d = new PacketDecoder();
    const out: Packet[] = [];
    for (let i = 0; i < stream.length; i += 3) {
      out.push(...d.push(Buffer.alloc(0)));
      out.push(...d.push(stream.subarray(i, i + 3)));
    }
    expect(out.map(plain)).toEqual(expected);
  });

  test("packets survive reuse of the chunk buffers by the caller", () => {
    // A packet assembled from several chunks is a copy; the caller may reuse its buffers.
    const d = new PacketDecoder();
    const a = Buffer.from(stream.subarray(0, 10));
    const b = Buffer.from(stream.subarray(10, packets[0].length));
    d.push(a);
    const [p] = d.push(b);
    a.fill(0xee);
    b.fill(0xee);
    expect(plain(p)).toEqual(expected[0]);
  });

  test("a packet of exactly the minimum size (28) has an empty payload", () => {
    const d = new PacketDecoder();
    const [p] = d.push(hex("0000001c 20008086 00000001 00000003 00000001 00000009 00000000"));
    expect(plain(p)).toEqual({ ...header({ serial: 9, procedure: 3, type: MessageType.REPLY }), payload: "" });
  });

  describe("length guard", () => {
    test.each([
      ["0 bytes", "00000000"],
      ["4 bytes", "00000004"],
      ["27 bytes", "0000001b"],
      ["MAX_PACKET + 1", "02000001"],
      ["4 GiB - 1", "ffffffff"],
      ["2 GiB", "80000000"],
    ])("a length of %s throws as soon as the length word is in", (_, word) => {
      const d = new PacketDecoder();
      protocolError(() => d.push(hex(word)), /packet length/);
    });

    test("also when the bad length word arrives split", () => {
      const d = new PacketDecoder();
      expect(d.push(hex("ff"))).toEqual([]);
      expect(d.push(hex("ffff"))).toEqual([]);
      protocolError(() => d.push(hex("ff")), /packet length 4294967295/);
    });

    test("a bad length after a good packet in the same chunk", () => {
      const d = new PacketDecoder();
      protocolError(() => d.push(Buffer.concat([packets[0], hex("0000000f")])));
    });

    test("the guard allocates nothing for a huge claimed length", () => {
      const input = hex("ffffffff 20008086 00000001");
      const real = { alloc: Buffer.alloc, allocUnsafe: Buffer.allocUnsafe, allocUnsafeSlow: Buffer.allocUnsafeSlow };
      let largest = 0;
      const spies = (Object.keys(real) as Array<keyof typeof real>).map((k) =>
        jest.spyOn(Buffer, k).mockImplementation(((n: number, ...rest: unknown[]) => {
          largest = Math.max(largest, n);
          return (real[k] as (...a: unknown[]) => Buffer)(n, ...rest);
        }) as never));
      try {
        const d = new PacketDecoder();
        protocolError(() => d.push(input));
        const split = new PacketDecoder();
        split.push(input.subarray(0, 2));
        protocolError(() => split.push(input.subarray(2)));
      } finally {
        for (const s of spies) s.mockRestore();
      }
      expect(largest).toBeLessThanOrEqual(input.length);
    });

    test("MAX_PACKET exactly is accepted and waits for the body", () => {
      const d = new PacketDecoder();
      const head = packetHeader(header(), MAX_PACKET - 28);
      expect(d.push(head)).toEqual([]);
      expect(d.push(Buffer.alloc(1000))).toEqual([]);
    });
  });

  test("a packet with a string payload decodes end to end", () => {
    const w = startPacket(header({ type: MessageType.REPLY }));
    string(100).enc(w, "hello");
    const d = new PacketDecoder();
    const [p] = d.push(Buffer.from(finishPacket(w)));
    expect(p.payload.toString("hex")).toBe("0000000568656c6c6f000000");
  });
});
