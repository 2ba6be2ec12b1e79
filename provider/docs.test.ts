import { readFileSync } from "node:fs";
import { join } from "node:path";
import { renderFieldTables } from "./docs";
import { specs } from "./index";

const readme = readFileSync(join(__dirname, "..", "README.md"), "utf8");

test("the README documents every resource with its field table", () => {
  for (const kind of Object.keys(specs)) expect(readme).toContain(`<!-- fields:${kind} -->`);
});

test("the README's field tables match the code (run `npm run docs` to update them)", () => {
  expect(renderFieldTables(readme)).toBe(readme);
});
