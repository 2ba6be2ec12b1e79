/** What `npm pack` publishes (needs `npm run build`): the SDK, the provider and its CLI; no compiled tests, no bench. */
import { execFileSync } from "node:child_process";
import * as path from "node:path";

test("the package holds the SDK, the provider and the CLI, and no tests or bench", () => {
  const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: path.join(__dirname, ".."), encoding: "utf8" });
  const files: string[] = JSON.parse(out)[0].files.map((f: { path: string }) => f.path);
  expect(files).toEqual(expect.arrayContaining(["bin/sdk/index.js", "bin/provider/index.js", "bin/provider/cli.js", "README.md"]));
  expect(files.filter((f) => /\.test\./.test(f) || /^(bin\/)?(bench|test)\//.test(f))).toEqual([]);
});
