/**
 * XDR codecs (xdr.ts) and the wire types built from them (protocol.ts), checked against
 * hand-written bytes as libvirt's rpcgen lays them out.
 */
import { ErrorCode, ErrorDomain, LibvirtError } from "./errors";
import { P, RemoteError, TypedParam, Domain, Network, StoragePool, StorageVol, TypedParamValue } from "./protocol";
import {
  Codec, XdrReader, XdrWriter, array, bool, char, decode, double, encode, fixedArray, fixedOpaque,
  hyper, int, none, opaque, optional, short, string, struct, uhyper, uint,
} from "./xdr";

/** Hex with spaces for readability: "00000001 61000000". */
function hex(s: string): Buffer {
  const clean = s.replace(/\s+/g, "");
  if (!/^([0-9a-f]{2})*$/i.test(clean)) throw new Error(`bad test hex: ${s}`);
  return Buffer.from(clean, "hex");
}

function enc<T>(c: Codec<T>, v: T): string {
  return encode(c, v).toString("hex");
}

/** Encodes to exactly `bytes` and decodes those bytes back to `v`. */
function roundTrip<T>(c: Codec<T>, v: T, bytes: string): void {
  expect(enc(c, v)).toBe(hex(bytes).toString("hex"));
  expect(decode(c, hex(bytes))).toEqual(v);
}

/** Runs fn and returns the LibvirtError it throws; fails if it throws anything else or nothing. */
function libvirtError(fn: () => unknown): LibvirtError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  if (thrown === undefined) throw new Error("expected a LibvirtError, nothing was thrown");
  if (!(thrown instanceof LibvirtError)) throw new Error(`expected a LibvirtError, got ${String(thrown)}`);
  return thrown;
}

function protocolError(fn: () => unknown, message?: RegExp): LibvirtError {
  const e = libvirtError(fn);
  expect(e.code).toBe(ErrorCode.RPC);
  expect(e.domain).toBe(ErrorDomain.RPC);
  if (message) expect(e.message).toMatch(message);
  return e;
}

/** A codec that counts its reads, to prove a container checked its length before reading items. */
function counting<T>(c: Codec<T>): Codec<T> & { reads: number } {
  const wrapped = {
    reads: 0,
    enc: (w: XdrWriter, v: T) => c.enc(w, v),
    dec: (r: XdrReader) => {
      wrapped.reads++;
      return c.dec(r);
    },
  };
  return wrapped;
}

const UUID_HEX = "00112233445566778899aabbccddeeff";
const UUID = hex(UUID_HEX);

describe("int / uint", () => {
  test.each([
    [0, "00000000"],
    [1, "00000001"],
    [-1, "ffffffff"],
    [-2, "fffffffe"],
    [0x12345678, "12345678"],
    [2147483647, "7fffffff"],
    [-2147483648, "80000000"],
  ])("int %d", (v, bytes) => roundTrip(int, v, bytes));

  test.each([
    [0, "00000000"],
    [1, "00000001"],
    [0x80000000, "80000000"],
    [4294967295, "ffffffff"],
  ])("uint %d", (v, bytes) => roundTrip(uint, v, bytes));

  test("uint decodes the top bit as unsigned, int as signed", () => {
    expect(decode(uint, hex("ffffffff"))).toBe(4294967295);
    expect(decode(int, hex("ffffffff"))).toBe(-1);
  });

  test("truncated words are a LibvirtError, not a RangeError", () => {
    protocolError(() => decode(int, hex("000000")), /truncated/);
    protocolError(() => decode(uint, Buffer.alloc(0)), /truncated/);
  });
});

describe("bool", () => {
  test("is a 4-byte word", () => {
    roundTrip(bool, true, "00000001");
    roundTrip(bool, false, "00000000");
  });
});

describe("char, unsigned char and short take a whole 4-byte word", () => {
  test.each([
    [char, 0, "00000000"],
    [char, 5, "00000005"],
    [char, 0x78, "00000078"],
    [char, -1, "ffffffff"],
    [short, 2, "00000002"],
    [short, 300, "0000012c"],
    [short, -300, "fffffed4"],
  ])("%#", (c, v, bytes) => roundTrip(c, v, bytes));

  test("a char array takes four bytes per element", () => {
    expect(encode(fixedArray(char, 3), [1, 2, 3]).length).toBe(12);
  });
});

describe("hyper / uhyper", () => {
  test.each([
    [0, "0000000000000000"],
    [1, "0000000000000001"],
    [-1, "ffffffffffffffff"],
    [-2, "fffffffffffffffe"],
    [0x100000000, "0000000100000000"],
    [-0x100000000, "ffffffff00000000"],
    [Number.MAX_SAFE_INTEGER, "001fffffffffffff"],
    [Number.MIN_SAFE_INTEGER, "ffe0000000000001"],
  ])("hyper %d", (v, bytes) => roundTrip(hyper, v, bytes));

  test.each([
    [0, "0000000000000000"],
    [4294967296, "0000000100000000"],
    [2 ** 40, "0000010000000000"],
    [Number.MAX_SAFE_INTEGER, "001fffffffffffff"],
  ])("uhyper %d", (v, bytes) => roundTrip(uhyper, v, bytes));

  test.each([
    [hyper, "0020000000000000"], // 2^53
    [hyper, "7fffffffffffffff"], // 2^63-1
    [hyper, "ffe0000000000000"], // -2^53
    [hyper, "8000000000000000"], // -2^63
    [uhyper, "0020000000000000"], // 2^53
    [uhyper, "8000000000000000"], // 2^63 (would be negative as a signed hyper)
    [uhyper, "ffffffffffffffff"], // 2^64-1
  ])("values beyond 2^53 are rejected with a LibvirtError (%#)", (c, bytes) => {
    protocolError(() => decode(c, hex(bytes)), /safe integer/);
  });

  test("truncated 64-bit values are a LibvirtError", () => {
    protocolError(() => decode(hyper, hex("00000000000000")), /truncated/);
    protocolError(() => decode(uhyper, hex("00000001")), /truncated/);
  });
});

describe("double", () => {
  test.each([
    [0, "0000000000000000"],
    [1, "3ff0000000000000"],
    [1.5, "3ff8000000000000"],
    [-2, "c000000000000000"],
    [0.5, "3fe0000000000000"],
    [Infinity, "7ff0000000000000"],
  ])("double %d", (v, bytes) => roundTrip(double, v, bytes));

  test("NaN survives", () => {
    expect(decode(double, encode(double, NaN))).toBeNaN();
  });
});

describe("string", () => {
  const s = string(100);

  test.each([
    ["", "00000000"],
    ["a", "00000001 61000000"],
    ["ab", "00000002 61620000"],
    ["abc", "00000003 61626300"],
    ["abcd", "00000004 61626364"],
    ["abcde", "00000005 61626364 65000000"],
    ["abcdefgh", "00000008 61626364 65666768"],
  ])("%j is length, bytes, zero padding to 4 (no NUL)", (v, bytes) => roundTrip(s, v, bytes));

  test.each([
    ["é", "00000002 c3a90000"],
    ["€", "00000003 e282ac00"],
    ["😀", "00000004 f09f9880"],
    ["日本", "00000006 e697a5e6 9cac0000"],
    ["aé€", "00000006 61c3a9e2 82ac0000"],
  ])("UTF-8 %j: the length counts bytes, not characters", (v, bytes) => roundTrip(s, v, bytes));

  test("the limit counts UTF-8 bytes", () => {
    expect(enc(string(3), "€")).toBe("00000003e282ac00");
    protocolError(() => encode(string(3), "€a"), /exceeds its limit of 3/);
    protocolError(() => encode(string(4), "abcde"), /exceeds/);
    expect(enc(string(0), "")).toBe("00000000");
    protocolError(() => encode(string(0), "a"));
  });

  test("decoding a length above the limit fails", () => {
    protocolError(() => decode(string(3), hex("00000004 61626364")), /exceeds/);
  });

  test("decoding a length above the remaining bytes fails", () => {
    protocolError(() => decode(s, hex("00000005 61626364")));
    protocolError(() => decode(s, hex("00000001")));
    // The bytes fit but their padding does not.
    protocolError(() => decode(s, hex("00000001 61")), /truncated/);
  });

  test("a length of 2^32-1 fails without allocating", () => {
    const input = hex("ffffffff 61626364");
    const spy = jest.spyOn(Buffer, "from");
    try {
      protocolError(() => decode(string(Number.MAX_SAFE_INTEGER), input));
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });

  test("decoded strings are copies, not views into the packet", () => {
    const buf = hex("00000002 61620000");
    const v = new XdrReader(buf);
    const str = s.dec(v);
    buf.fill(0);
    expect(str).toBe("ab");
  });
});

describe("opaque", () => {
  const o = opaque(8);

  test.each([
    ["", "00000000"],
    ["01", "00000001 01000000"],
    ["0102", "00000002 01020000"],
    ["010203", "00000003 01020300"],
    ["01020304", "00000004 01020304"],
    ["0102030405", "00000005 01020304 05000000"],
  ])("opaque %s", (v, bytes) => roundTrip(o, hex(v), bytes));

  test("limits", () => {
    protocolError(() => encode(o, Buffer.alloc(9)), /exceeds/);
    protocolError(() => decode(o, hex("00000009 00000000 00000000 00000000")), /exceeds/);
    protocolError(() => decode(opaque(100), hex("00000009 00000000")));
  });

  test("a decoded opaque is a copy that outlives the packet buffer", () => {
    const buf = hex("00000003 01020300");
    const v = decode(o, buf);
    buf.fill(0xff);
    expect(v.toString("hex")).toBe("010203");
  });
});

describe("fixedOpaque", () => {
  test("a UUID is 16 raw bytes with no length word", () => {
    roundTrip(fixedOpaque(16), UUID, UUID_HEX);
  });

  test("odd sizes are padded", () => {
    roundTrip(fixedOpaque(3), hex("abcdef"), "abcdef00");
    roundTrip(fixedOpaque(5), hex("0102030405"), "01020304 05000000");
  });

  test("the wrong size is a LibvirtError", () => {
    libvirtError(() => encode(fixedOpaque(16), Buffer.alloc(15)));
    libvirtError(() => encode(fixedOpaque(16), Buffer.alloc(17)));
    protocolError(() => decode(fixedOpaque(16), Buffer.alloc(15)), /truncated/);
    protocolError(() => decode(fixedOpaque(16), Buffer.alloc(20)), /trailing/);
  });
});

describe("fixedArray", () => {
  test("elements back to back, no count", () => {
    roundTrip(fixedArray(int, 3), [1, -1, 2], "00000001 ffffffff 00000002");
    roundTrip(fixedArray(string(10), 2), ["a", "bc"], "00000001 61000000 00000002 62630000");
    roundTrip(fixedArray(int, 0), [], "");
  });

  test("the wrong number of elements is a LibvirtError", () => {
    libvirtError(() => encode(fixedArray(int, 3), [1, 2]));
    protocolError(() => decode(fixedArray(int, 3), hex("00000001 00000002")), /truncated/);
  });
});

describe("array", () => {
  test("count then elements", () => {
    roundTrip(array(int, 3), [], "00000000");
    roundTrip(array(int, 3), [7], "00000001 00000007");
    roundTrip(array(int, 3), [7, 8, -1], "00000003 00000007 00000008 ffffffff");
    roundTrip(array(hyper, 3), [1, -1], "00000002 0000000000000001 ffffffffffffffff");
    roundTrip(array(string(10), 3), ["x", ""], "00000002 00000001 78000000 00000000");
  });

  test("encoding more elements than the limit fails", () => {
    protocolError(() => encode(array(int, 2), [1, 2, 3]), /array length 3 exceeds its limit of 2/);
    expect(enc(array(int, 0), [])).toBe("00000000");
    protocolError(() => encode(array(int, 0), [1]));
  });

  test("decoding a count above the limit fails before reading any element", () => {
    const item = counting(int);
    protocolError(() => decode(array(item, 2), hex("00000003 00000001 00000002 00000003")), /exceeds/);
    expect(item.reads).toBe(0);
  });

  test("decoding a count above what the remaining bytes can hold fails before reading any element", () => {
    const item = counting(int);
    protocolError(() => decode(array(item, 1000), hex("0000000a 00000001 00000002")), /exceeds/);
    expect(item.reads).toBe(0);
  });

  test("a count of 2^32-1 fails at once, without allocating", () => {
    const item = counting(int);
    const input = hex("ffffffff 00000001");
    const spies = [jest.spyOn(Buffer, "alloc"), jest.spyOn(Buffer, "allocUnsafe"), jest.spyOn(Buffer, "from")];
    try {
      protocolError(() => decode(array(item, Number.MAX_SAFE_INTEGER), input));
      for (const s of spies) expect(s).not.toHaveBeenCalled();
    } finally {
      for (const s of spies) s.mockRestore();
    }
    expect(item.reads).toBe(0);
  });
});

describe("optional", () => {
  const o = optional(int);

  test("absent is a zero word, present is a one word then the value", () => {
    roundTrip(o, undefined, "00000000");
    roundTrip(o, 5, "00000001 00000005");
    roundTrip(optional(string(10)), "hi", "00000001 00000002 68690000");
    roundTrip(optional(string(10)), "", "00000001 00000000");
    roundTrip(optional(string(10)), undefined, "00000000");
  });

  test("a flag of 2 (or anything but 0/1) is rejected", () => {
    protocolError(() => decode(o, hex("00000002 00000005")), /neither 0 nor 1/);
    protocolError(() => decode(o, hex("ffffffff 00000005")), /neither 0 nor 1/);
  });

  test("present without a value is truncated", () => {
    protocolError(() => decode(o, hex("00000001")), /truncated/);
  });
});

describe("struct", () => {
  test("fields go on the wire in declaration order", () => {
    const s = struct({ zeta: int, alpha: string(10), mid: uhyper });
    roundTrip(s, { zeta: 1, alpha: "a", mid: 2 }, "00000001 00000001 61000000 0000000000000002");
    // Property order in the value does not matter, only the declaration.
    expect(enc(s, { mid: 2, alpha: "a", zeta: 1 })).toBe(enc(s, { zeta: 1, alpha: "a", mid: 2 }));
  });

  test("decoding a struct with a missing field is truncated", () => {
    protocolError(() => decode(struct({ a: int, b: int }), hex("00000001")), /truncated/);
  });

  test("nested structs are flattened", () => {
    const inner = struct({ x: int });
    const outer = struct({ a: inner, b: array(inner, 4) });
    roundTrip(outer, { a: { x: 1 }, b: [{ x: 2 }, { x: 3 }] }, "00000001 00000002 00000002 00000003");
  });
});

describe("none, encode and decode", () => {
  test("none is empty", () => {
    expect(encode(none, undefined).length).toBe(0);
    expect(decode(none, Buffer.alloc(0))).toBeUndefined();
  });

  test("decode rejects trailing bytes", () => {
    protocolError(() => decode(none, hex("00")), /1 unexpected trailing bytes/);
    protocolError(() => decode(int, hex("00000001 00000000")), /4 unexpected trailing bytes after value/);
    protocolError(() => decode(int, hex("00000001 00"), "the reply"), /after the reply/);
  });

  test("encode returns a standalone buffer that later writes cannot change", () => {
    const a = encode(int, 1);
    const b = encode(int, 2);
    expect(a.toString("hex")).toBe("00000001");
    expect(b.toString("hex")).toBe("00000002");
  });
});

describe("XdrWriter / XdrReader", () => {
  test("the writer grows from a tiny initial buffer", () => {
    const w = new XdrWriter(1);
    for (let i = 0; i < 100; i++) w.u32(i);
    w.bytes(Buffer.from("xyz"));
    expect(w.length).toBe(404);
    const r = new XdrReader(w.finish());
    for (let i = 0; i < 100; i++) expect(r.u32()).toBe(i);
    expect(r.bytes(3).toString()).toBe("xyz");
    expect(r.remaining).toBe(0);
    r.expectEnd("test");
  });

  test("padding is zeros even when the buffer held garbage", () => {
    const real = Buffer.allocUnsafe;
    const spy = jest.spyOn(Buffer, "allocUnsafe").mockImplementation((n: number) => real(n).fill(0xff));
    try {
      const w = new XdrWriter(2);
      w.bytes(hex("01"));
      w.bytes(hex("020304"));
      w.bytes(hex("0506"));
      expect(w.finish().toString("hex")).toBe("01000000" + "02030400" + "05060000");
      expect(encode(string(10), "a").toString("hex")).toBe("0000000161000000");
    } finally {
      spy.mockRestore();
    }
  });

  test("skip and patchU32 reserve and fill a word", () => {
    const w = new XdrWriter(4);
    const at = w.skip(4);
    w.i32(-1);
    w.patchU32(at, w.length);
    expect(w.finish().toString("hex")).toBe("00000008ffffffff");
  });

  test("a reader honours its start and end window", () => {
    const buf = hex("00000001 00000002 00000003");
    const r = new XdrReader(buf, 4, 8);
    expect(r.remaining).toBe(4);
    expect(r.i32()).toBe(2);
    protocolError(() => r.i32(), /truncated/);
  });
});

// ---------------------------------------------------------------------------------------------
// Wire types from protocol.ts
// ---------------------------------------------------------------------------------------------

describe("protocol wire types", () => {
  const domain = { name: "vm1", uuid: UUID, id: -1 };
  const DOMAIN_HEX = `00000003 766d3100 ${UUID_HEX} ffffffff`;

  test("Domain is name, raw uuid, id", () => {
    roundTrip(Domain, domain, DOMAIN_HEX);
  });

  test("Network and StoragePool are name then raw uuid", () => {
    roundTrip(Network, { name: "default", uuid: UUID }, `00000007 64656661 756c7400 ${UUID_HEX}`);
    roundTrip(StoragePool, { name: "pool", uuid: UUID }, `00000004 706f6f6c ${UUID_HEX}`);
  });

  test("StorageVol is pool, name, key", () => {
    roundTrip(StorageVol, { pool: "p", name: "v", key: "/k" },
      "00000001 70000000 00000001 76000000 00000002 2f6b0000");
  });

  describe("RemoteError", () => {
    test("with every optional absent", () => {
      const v = {
        code: 42, domain: 10, message: undefined, level: 2, dom: undefined,
        str1: undefined, str2: undefined, str3: undefined, int1: 0, int2: -1, net: undefined,
      };
      roundTrip(RemoteError, v, [
        "0000002a", // code
        "0000000a", // domain
        "00000000", // message: absent
        "00000002", // level
        "00000000", // dom: absent
        "00000000 00000000 00000000", // str1..3
        "00000000", // int1
        "ffffffff", // int2
        "00000000", // net: absent
      ].join(" "));
    });

    test("with message, dom, strings and net present", () => {
      const v = {
        code: 8, domain: 13, message: "bad", level: 2, dom: domain,
        str1: "x", str2: undefined, str3: "", int1: 7, int2: 0, net: { name: "n", uuid: UUID },
      };
      roundTrip(RemoteError, v, [
        "00000008",
        "0000000d",
        "00000001 00000003 62616400",
        "00000002",
        `00000001 ${DOMAIN_HEX}`,
        "00000001 00000001 78000000",
        "00000000",
        "00000001 00000000",
        "00000007",
        "00000000",
        `00000001 00000001 6e000000 ${UUID_HEX}`,
      ].join(" "));
    });

    test("a truncated error is a LibvirtError", () => {
      const full = encode(RemoteError, {
        code: 1, domain: 0, message: "m", level: 2, dom: undefined, str1: undefined, str2: undefined,
        str3: undefined, int1: 0, int2: 0, net: undefined,
      });
      for (let n = 0; n < full.length; n++) protocolError(() => decode(RemoteError, full.subarray(0, n)));
    });
  });

  describe("TypedParam union", () => {
    const cases: Array<[TypedParamValue, string]> = [
      [{ type: 1, value: -5 }, "00000001 fffffffb"],
      [{ type: 2, value: 4000000000 }, "00000002 ee6b2800"],
      [{ type: 3, value: -2 }, "00000003 fffffffffffffffe"],
      [{ type: 4, value: 2 ** 40 }, "00000004 0000010000000000"],
      [{ type: 5, value: 0.5 }, "00000005 3fe0000000000000"],
      [{ type: 6, value: true }, "00000006 00000001"],
      [{ type: 6, value: false }, "00000006 00000000"],
      [{ type: 7, value: "on" }, "00000007 00000002 6f6e0000"],
    ];
    test.each(cases)("%j", (value, bytes) => {
      roundTrip(TypedParam, { field: "x", value }, `00000001 78000000 ${bytes}`);
    });

    test("an unknown discriminant is a LibvirtError", () => {
      protocolError(() => decode(TypedParam, hex("00000001 78000000 00000008 00000000")), /unknown typed parameter type 8/);
      protocolError(() => decode(TypedParam, hex("00000001 78000000 00000000 00000000")), /type 0/);
    });

    test("a uhyper parameter beyond 2^53 is rejected", () => {
      protocolError(() => decode(TypedParam, hex("00000001 78000000 00000004 ffffffffffffffff")), /safe integer/);
    });
  });

  test("NODE_GET_INFO: model is char[32], 32 words of 4 bytes", () => {
    const model = "x86_64";
    const modelWords = [...model].map((c) => c.charCodeAt(0));
    const v = {
      model: [...modelWords, ...new Array(32 - modelWords.length).fill(0)],
      memory: 16 * 1024 * 1024, cpus: 8, mhz: 2400, nodes: 1, sockets: 1, cores: 4, threads: 2,
    };
    const bytes = [
      "00000078 00000038 00000036 0000005f 00000036 00000034", // x 8 6 _ 6 4
      ...new Array(26).fill("00000000"),
      "0000000001000000", // memory (KiB)
      "00000008 00000960 00000001 00000001 00000004 00000002",
    ].join(" ");
    expect(hex(bytes).length).toBe(32 * 4 + 8 + 6 * 4);
    roundTrip(P.NODE_GET_INFO.ret, v, bytes);
    expect(P.NODE_GET_INFO.number).toBe(6);
  });

  test("DOMAIN_GET_INFO reply: state and nrVirtCpu are words", () => {
    const v = { state: 1, maxMem: 2097152, memory: 1048576, nrVirtCpu: 2, cpuTime: 123456789 };
    const bytes = [
      "00000001", // state (unsigned char)
      "0000000000200000", // maxMem
      "0000000000100000", // memory
      "00000002", // nrVirtCpu (unsigned short)
      "00000000075bcd15", // cpuTime
    ].join(" ");
    roundTrip(P.DOMAIN_GET_INFO.ret, v, bytes);
    expect(hex(bytes).length).toBe(32);
    roundTrip(P.DOMAIN_GET_INFO.args, { dom: domain }, DOMAIN_HEX);
    expect(P.DOMAIN_GET_INFO.number).toBe(16);
  });

  test("STORAGE_POOL_GET_INFO and STORAGE_VOL_GET_INFO: state/type are words", () => {
    roundTrip(P.STORAGE_POOL_GET_INFO.ret, { state: 2, capacity: 1000, allocation: 10, available: 990 },
      "00000002 00000000000003e8 000000000000000a 00000000000003de");
    roundTrip(P.STORAGE_VOL_GET_INFO.ret, { type: 0, capacity: 2 ** 32, allocation: 4096 },
      "00000000 0000000100000000 0000000000001000");
  });

  test("CONNECT_OPEN args: optional name then flags", () => {
    roundTrip(P.CONNECT_OPEN.args, { name: "qemu:///system", flags: 0 },
      "00000001 0000000e 71656d75 3a2f2f2f 73797374 656d0000 00000000");
    roundTrip(P.CONNECT_OPEN.args, { name: undefined, flags: 1 }, "00000000 00000001");
    expect(encode(P.CONNECT_OPEN.ret, undefined).length).toBe(0);
  });

  test("CONNECT_LIST_ALL_DOMAINS reply: array of domains then ret", () => {
    roundTrip(P.CONNECT_LIST_ALL_DOMAINS.ret, { domains: [], ret: 0 }, "00000000 00000000");
    roundTrip(P.CONNECT_LIST_ALL_DOMAINS.ret, { domains: [domain], ret: 1 }, `00000001 ${DOMAIN_HEX} 00000001`);
  });

  test("DOMAIN_INTERFACE_ADDRESSES reply: nested arrays and optionals", () => {
    const v = {
      ifaces: [{ name: "vnet0", hwaddr: "52:54", addrs: [{ type: 0, addr: "10.0.0.2", prefix: 24 }] }],
    };
    roundTrip(P.DOMAIN_INTERFACE_ADDRESSES.ret, v, [
      "00000001", // one interface
      "00000005 766e6574 30000000", // "vnet0"
      "00000001 00000005 35323a35 34000000", // hwaddr present "52:54"
      "00000001", // one address
      "00000000 00000008 31302e30 2e302e32 00000018",
    ].join(" "));
  });

  test("every procedure has a distinct number in the remote program", () => {
    const procs = Object.values(P);
    const numbers = procs.map((p) => p.number);
    expect(new Set(numbers).size).toBe(numbers.length);
    for (const p of procs) expect(p.program).toBe(0x20008086);
  });
});

describe("XdrReader.bytes with lengths near 2^31 and 2^32", () => {
  // Padding arithmetic must not wrap: (n + 3) & ~3 in 32-bit arithmetic turns 2^32-3 into 0.
  test.each([0xfffffffd, 0xfffffffc, 0xffffffff, 0x80000000, 0x7ffffffe, 0x7fffffff, 9])("bytes(%d) on 8 bytes is truncated", (n) => {
    const r = new XdrReader(hex("01020304 05060708"));
    protocolError(() => r.bytes(n), /truncated/);
    expect(r.remaining).toBe(8);
  });
});
