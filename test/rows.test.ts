/**
 * Every row of every field table is changed on the real daemon by some integration test, which
 * declares it with rowTest (test/rows.ts) and fails when it did not change it. This test reads
 * those declarations from the test files themselves: a row nobody declares fails here.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { specs } from "../provider";
import { Effect } from "../provider/core/fields";
import { declaredRows } from "./rows";

const ROOT = join(__dirname, "..");

function intTests(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === "node_modules" ? [] : intTests(path);
    return e.name.endsWith(".int.test.ts") ? [path] : [];
  });
}

/** The rows each rowTest in a file declares, as "Kind.field". */
export function declarations(source: string): string[] {
  const out: string[] = [];
  const call = /rowTest\(\s*(?:"(?:[^"\\]|\\.)*"|`[^`]*`)\s*,\s*\{([^}]*)\}/g;
  for (const [, body] of source.matchAll(call)) {
    for (const [, kind, rows] of body.matchAll(/(\w+):\s*(\[[^\]]*\]|"\w+")/g)) {
      const list = rows.startsWith("[") ? (JSON.parse(rows.replace(/,\s*\]$/, "]")) as string[]) : (JSON.parse(rows) as Effect);
      out.push(...declaredRows(kind, list).map((f) => `${kind}.${f}`));
    }
  }
  return out;
}

test("the declarations are read as written", () => {
  const src = `rowTest("a, b", { Volume: ["capacity"], Network: "none" }, async () => {});`;
  expect(declarations(src)).toEqual(["Volume.capacity", "Network.allowRestart", "Network.forceDelete", "Network.timeoutSeconds"]);
});

test("every row of every field table is declared by an integration test", () => {
  const declared = new Set([...intTests(join(ROOT, "provider")), ...intTests(join(ROOT, "test"))].flatMap((f) => declarations(readFileSync(f, "utf8"))));
  const rows = Object.entries(specs).flatMap(([kind, spec]) => Object.keys(spec.fields).map((f) => `${kind}.${f}`));
  expect({ undeclared: rows.filter((r) => !declared.has(r)) }).toEqual({ undeclared: [] });
  // And nothing is declared that no table has (a renamed field).
  expect({ unknown: [...declared].filter((r) => !rows.includes(r)) }).toEqual({ unknown: [] });
});
