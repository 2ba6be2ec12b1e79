/** parseSize and formatSize: sizes as users write them, and as people read them. */
import { formatSize, parseSize, SIZE_FORMS } from "./units";

const KiB = 1024;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const TiB = 1024 ** 4;

describe("parseSize", () => {
  test.each([
    [0, 0],
    [1, 1],
    [1073741824, GiB],
    [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  ])("a whole number of bytes %p is taken as is", (v, bytes) => {
    expect(parseSize(v)).toBe(bytes);
  });

  test.each([
    ["0", 0],
    ["512", 512],
    ["5b", 5],
    ["5 B", 5],
    ["1K", KiB],
    ["1k", KiB],
    ["2KiB", 2 * KiB],
    ["512MiB", 512 * MiB],
    ["512 MiB", 512 * MiB],
    ["  20GiB  ", 20 * GiB],
    ["20gib", 20 * GiB],
    ["20G", 20 * GiB],
    ["1.5TiB", 1.5 * TiB],
    ["2T", 2 * TiB],
    ["0.5KiB", 512],
    ["1.5 GiB", 1.5 * GiB],
    // Decimal units are powers of 1000.
    ["1KB", 1000],
    ["10kb", 10_000],
    ["1MB", 1000 ** 2],
    ["20GB", 20 * 1000 ** 3],
    ["3TB", 3 * 1000 ** 4],
  ])("%p is %p bytes", (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  test.each([
    ["negative number", -1],
    ["fractional number of bytes", 1.5],
    ["NaN", NaN],
    ["Infinity", Infinity],
    ["number beyond 2^53", 2 ** 53],
    ["empty string", ""],
    ["only spaces", "   "],
    ["unit without a number", "GiB"],
    ["negative text", "-5GiB"],
    ["unknown unit", "20 parsecs"],
    ["PiB (not accepted)", "1PiB"],
    ["exponent notation", "1e3"],
    ["comma decimal", "1,5GiB"],
    ["two numbers", "1 2 GiB"],
    ["fractional bytes in text", "1.5"],
    ["fraction that does not land on a byte", "1.0001KiB"],
    ["leading dot", ".5GiB"],
    ["too large to be exact", "8388608TiB"],
    ["text beyond 2^53", "9007199254740993"],
    ["null", null],
    ["undefined", undefined],
    ["boolean", true],
    ["object", { size: 1 }],
    ["array", [1024]],
  ])("rejects %s", (_what, v) => {
    expect(parseSize(v)).toBeUndefined();
  });

  test("SIZE_FORMS names the accepted units for error messages", () => {
    for (const unit of ["B", "KiB", "MiB", "GiB", "TiB", "KB", "MB", "GB", "TB"]) expect(SIZE_FORMS).toContain(unit);
  });
});

describe("formatSize", () => {
  test.each([
    [0, "0 B"],
    [1, "1 B"],
    [1000, "1000 B"],
    [1023, "1023 B"],
    [KiB, "1 KiB"],
    [1536, "1.5 KiB"],
    [MiB, "1 MiB"],
    [512 * MiB, "512 MiB"],
    [1.25 * GiB, "1.3 GiB"],
    [20 * GiB, "20 GiB"],
    [21474836480, "20 GiB"],
    [TiB, "1 TiB"],
    [1.5 * TiB, "1.5 TiB"],
    // TiB is the largest unit.
    [1024 * TiB, "1024 TiB"],
    [4096 * TiB, "4096 TiB"],
  ])("%p bytes is %p", (bytes, text) => {
    expect(formatSize(bytes)).toBe(text);
  });

  test.each([0, 1, 1023, KiB, 1536, 3 * MiB, 20 * GiB, 1.5 * TiB, 7 * TiB])("parseSize reads back formatSize(%p) exactly", (bytes) => {
    expect(parseSize(formatSize(bytes).replace(" ", ""))).toBe(bytes);
  });
});
