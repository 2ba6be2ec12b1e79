/**
 * locateProvider as the dynamic-provider host runs it: serialized by Pulumi and revived with
 * require-from-string, so Node's own resolver (not jest's) walks fake node_modules trees.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { locateProvider, providerShim } from "./shim";

// eslint-disable-next-line @typescript-eslint/no-var-requires
const requireFromString: (code: string) => any = require("require-from-string");
const { exports: packageExports } = require("../package.json");

let locate: (recorded: string, cwd: string) => string;
let root: string;

beforeAll(async () => {
  locate = requireFromString((await pulumi.runtime.serializeFunction(locateProvider)).text).handler;
  root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "plt-shim-")));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** A directory with a package.json; returns its path. */
function project(rel: string, pkg: object = { name: "app" }): string {
  const dir = path.join(root, rel);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify(pkg));
  return dir;
}

/** A built pulumi-libvirt at rel (this package.json's exports); returns its provider's file. */
function fakePackage(rel: string): string {
  const dir = project(rel, { name: "pulumi-libvirt", exports: packageExports });
  fs.mkdirSync(path.join(dir, "bin", "provider"), { recursive: true });
  fs.writeFileSync(path.join(dir, "bin", "provider", "index.js"), "");
  return path.join(dir, "bin", "provider", "index.js");
}

/** What providerShim records for a program in cwd using the copy whose provider is `file`. */
const recordedFor = (cwd: string, file: string) => path.relative(cwd, path.dirname(file));

const NOT_INSTALLED = /^pulumi-libvirt is not installed for the program in .*: run `npm install pulumi-libvirt` there\. Tried: /;

test("a direct dependency: by the recorded path, and by name once that path is gone", () => {
  const cwd = project("direct");
  const file = fakePackage("direct/node_modules/pulumi-libvirt");
  expect(recordedFor(cwd, file)).toBe(path.join("node_modules", "pulumi-libvirt", "bin", "provider"));
  expect(locate(recordedFor(cwd, file), cwd)).toBe(file);
  expect(locate("moved/bin/provider", cwd)).toBe(file);
});

test("a transitive dependency nested under its dependent: by the recorded path", () => {
  const cwd = project("nested");
  project("nested/node_modules/dep", { name: "dep" });
  const file = fakePackage("nested/node_modules/dep/node_modules/pulumi-libvirt");
  expect(locate(recordedFor(cwd, file), cwd)).toBe(file);
  expect(() => locate("moved/bin/provider", cwd)).toThrow(NOT_INSTALLED);
});

test("pnpm: a transitive dependency only its dependent resolves, by the recorded (real) path", () => {
  const cwd = project("pnpm");
  const file = fakePackage("pnpm/node_modules/.pnpm/pulumi-libvirt@0.1.0/node_modules/pulumi-libvirt");
  const dep = project("pnpm/node_modules/.pnpm/dep@1.0.0/node_modules/dep", { name: "dep" });
  fs.symlinkSync("../../pulumi-libvirt@0.1.0/node_modules/pulumi-libvirt", path.join(dep, "..", "pulumi-libvirt"));
  fs.symlinkSync(".pnpm/dep@1.0.0/node_modules/dep", path.join(cwd, "node_modules", "dep"));
  // The layout pnpm makes: dep resolves pulumi-libvirt, the program does not.
  expect(fs.realpathSync(require.resolve("pulumi-libvirt/provider", { paths: [path.join(cwd, "node_modules", "dep")] }))).toBe(file);
  expect(locate(recordedFor(cwd, file), cwd)).toBe(file);
  expect(() => locate("moved/bin/provider", cwd)).toThrow(NOT_INSTALLED);
});

test("this repository itself (the quickstart): its bin/provider", () => {
  const cwd = path.join(root, "repo");
  const file = fakePackage("repo");
  expect(locate("elsewhere/bin/provider", cwd)).toBe(file);
});

test("not installed: a clear error naming what it tried", () => {
  const cwd = project("missing");
  let message = "";
  try {
    locate("node_modules/pulumi-libvirt/bin/provider", cwd);
  } catch (e: any) {
    message = e.message;
  }
  expect(message).toMatch(NOT_INSTALLED);
  expect(message).toContain(`${cwd}/node_modules/pulumi-libvirt/bin/provider (where the resource was made)`);
  expect(message).toContain(`pulumi-libvirt/provider (from ${cwd})`);
  expect(message).not.toMatch(/Cannot find module/);
});

test("a directory without package.json: the same clear error, not `Cannot find module .../package.json`", () => {
  const cwd = path.join(root, "bare");
  fs.mkdirSync(cwd);
  expect(() => locate("node_modules/pulumi-libvirt/bin/provider", cwd)).toThrow(NOT_INSTALLED);
  expect(() => locate("node_modules/pulumi-libvirt/bin/provider", cwd)).not.toThrow(/Cannot find module/);
});

test("the serialized shim holds a relative path, no absolute one", async () => {
  const shim = providerShim("StoragePool");
  const { text } = await pulumi.runtime.serializeFunction(() => shim, { allowSecrets: true });
  expect(text).toContain(`recorded: ${JSON.stringify(path.relative(process.cwd(), path.join(__dirname, "..", "provider")))}`);
  expect(text).not.toContain(path.resolve(__dirname, ".."));
});

test("one shim object per kind, so Pulumi serializes it once per program, not once per resource", () => {
  expect(providerShim("Domain")).toBe(providerShim("Domain"));
  expect(providerShim("Domain")).not.toBe(providerShim("Volume"));
});
