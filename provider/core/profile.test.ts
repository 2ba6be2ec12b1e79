import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rpcTally } from "../libvirt/rpc";
import { ProfileLine, profiled } from "./profile";
import type { DynamicProvider } from "./resource";

/** Stands in for calls sent on a connection: what RpcConnection.send does to the tally. */
const sendCalls = async (n: number, delayMs: number) => {
  for (let i = 0; i < n; i++) {
    rpcTally.getStore()!.calls++;
    await new Promise((r) => setTimeout(r, delayMs));
  }
};

const fake = {
  check: async () => (await sendCalls(0, 0), { inputs: {} }),
  read: async (id: string) => (await sendCalls(id === "a" ? 3 : 5, 5), { id }),
  delete: async () => { await sendCalls(1, 0); throw new Error("gone wrong"); },
} as unknown as DynamicProvider;

test("without a profile file the provider is returned as it is", () => {
  expect(profiled("Domain", fake, undefined)).toBe(fake);
});

test("each call is one line with its own RPC count, even when calls overlap; failures are marked and rethrown", async () => {
  const dir = mkdtempSync(join(tmpdir(), "profile-"));
  try {
    const file = join(dir, "p.jsonl");
    const p = profiled("Volume", fake, file);
    const [a, b] = await Promise.all([p.read("a"), p.read("b")]);
    expect([a.id, b.id]).toEqual(["a", "b"]);
    await expect(p.delete("x", {})).rejects.toThrow("gone wrong");
    const lines: ProfileLine[] = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.kind, l.method, l.rpcs, l.failed ?? false])).toEqual([
      ["Volume", "read", 3, false], ["Volume", "read", 5, false], ["Volume", "delete", 1, true],
    ]);
    expect(lines.every((l) => l.pid === process.pid && l.ms >= 0 && l.start > 0)).toBe(true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
