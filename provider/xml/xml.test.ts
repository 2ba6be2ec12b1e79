/** bytesIn: one reading of libvirt's scaled units for every sized element. */
import { bytesIn, parseRoot } from "./xml";

const sized = async (xml: string) => parseRoot(xml, "memory");

describe("bytesIn", () => {
  test.each([
    ['<memory unit="KiB">262144</memory>', 268435456],
    ['<memory unit="k">1</memory>', 1024],
    ['<memory unit="KB">1</memory>', 1000],
    ['<memory unit="MiB">256</memory>', 268435456],
    ['<memory unit="G">2</memory>', 2 * 1024 ** 3],
    ['<memory unit="GB">2</memory>', 2e9],
    ['<memory unit="TiB">1</memory>', 1024 ** 4],
    ['<memory unit="bytes">4096</memory>', 4096],
    ['<memory unit="b">4096</memory>', 4096],
  ])("%s is %d bytes", async (xml, bytes) => {
    expect(bytesIn(await sized(xml), "KiB")).toBe(bytes);
  });

  test("an element without a unit takes its element's default", async () => {
    expect(bytesIn(await sized("<memory>1024</memory>"), "KiB")).toBe(1024 * 1024);
    expect(bytesIn(await sized("<memory>1024</memory>"), "bytes")).toBe(1024);
  });

  test("a missing or empty element has no size", async () => {
    expect(bytesIn(undefined, "KiB")).toBeUndefined();
    expect(bytesIn(await sized('<memory unit="KiB"></memory>'), "KiB")).toBeUndefined();
  });

  test("a unit libvirt never writes throws, naming it, instead of guessing a scale", async () => {
    const node = await sized('<memory unit="furlongs">3</memory>');
    expect(() => bytesIn(node, "KiB")).toThrow(/unknown size unit "furlongs" \(value 3\).*expected one of b, bytes, kib, k, kb, mib/);
  });
});
