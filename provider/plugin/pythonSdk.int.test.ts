/**
 * sdk/python is what Pulumi's Python code generator makes of the committed schema now
 * (scripts/gen-python-sdk.sh). Committed because Python users install it without Go or the
 * generator; `npm run schema` regenerates both. examples/python runs it end to end (test/e2e).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

const root = path.resolve(__dirname, "..", "..");

function files(dir: string, under = ""): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(path.join(dir, under)).sort()) {
    const rel = path.join(under, name);
    if (name === "__pycache__" || name.endsWith(".egg-info")) continue;
    if (statSync(path.join(dir, rel)).isDirectory()) Object.assign(out, files(dir, rel));
    else out[rel] = readFileSync(path.join(dir, rel), "utf8");
  }
  return out;
}

test("sdk/python is generated from the committed schema (run `npm run sdk:python` after `npm run schema`)", () => {
  const tmp = mkdtempSync(path.join(tmpdir(), "plt-pysdk-"));
  try {
    execFileSync("bash", [path.join(root, "scripts", "gen-python-sdk.sh"), path.join(tmp, "python")], { stdio: ["ignore", "ignore", "pipe"] });
    const fresh = files(path.join(tmp, "python"));
    const committed = files(path.join(root, "sdk", "python"));
    expect(Object.keys(committed)).toEqual(Object.keys(fresh));
    for (const f of Object.keys(fresh)) expect(`${f}\n${committed[f]}`).toBe(`${f}\n${fresh[f]}`);
    expect(Object.keys(fresh)).toEqual(expect.arrayContaining(["setup.py", "pulumi_libvirt/domain.py", "pulumi_libvirt/provider.py"]));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}, 20 * 60 * 1000);
