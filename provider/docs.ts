/**
 * The README's field tables come from the resources' field tables, so the documented
 * behaviour is the implemented one. `npm run docs` rewrites the marked sections;
 * docs.test.ts fails when the README is out of date.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fieldTableMarkdown } from "./core/fields";
import { specs } from "./index";

const SECTION = /<!-- fields:(\w+) -->[\s\S]*?<!-- \/fields -->/g;

export function renderFieldTables(readme: string): string {
  return readme.replace(SECTION, (_, kind: string) => {
    const spec = (specs as Record<string, { fields: any }>)[kind];
    if (!spec) throw new Error(`README names a field table for unknown resource ${kind}`);
    return `<!-- fields:${kind} -->\n${fieldTableMarkdown(spec.fields)}\n<!-- /fields -->`;
  });
}

if (require.main === module) {
  const path = join(__dirname, "..", "..", "README.md");
  writeFileSync(path, renderFieldTables(readFileSync(path, "utf8")));
}
