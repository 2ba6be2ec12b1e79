/**
 * The provider object Pulumi serializes into every dynamic resource's state.
 *
 * Pulumi stores the serialized text of this object in state and revives it for every later
 * operation, refresh and delete included. It therefore holds no implementation: each method
 * loads the installed pulumi-libvirt package and delegates, so upgrades take effect for old
 * stacks too and a code change never shows up as a diff. Keep this text stable.
 */
import type * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";

const shims = new Map<string, pulumi.dynamic.ResourceProvider>();

/**
 * One shim object per kind: Pulumi caches a provider's serialized text by object identity, and
 * serializing (closure capture through V8's inspector) is the dominant cost of registering a
 * resource, so a fresh object per resource made a 20-VM program's preview several seconds slower.
 */
export function providerShim(kind: string): pulumi.dynamic.ResourceProvider {
  let shim = shims.get(kind);
  if (!shim) shims.set(kind, (shim = makeShim(kind)));
  return shim;
}

function makeShim(kind: string): pulumi.dynamic.ResourceProvider {
  // This copy's provider, relative to the program's directory (the dynamic-provider host's cwd too):
  // it finds a transitive or pnpm install the program cannot resolve by name, and unlike an
  // absolute path it is the same on every machine with the same project layout.
  const recorded = path.relative(process.cwd(), path.join(__dirname, "..", "provider"));
  const load = () => require(locateProvider(recorded, process.cwd())).resourceProvider(kind);
  return {
    configure: (req) => load().configure(req),
    check: (olds, news) => load().check(olds, news),
    diff: (id, olds, news) => load().diff(id, olds, news),
    create: (inputs) => load().create(inputs),
    read: (id, props) => load().read(id, props),
    update: (id, olds, news) => load().update(id, olds, news),
    delete: (id, props) => load().delete(id, props),
  };
}

/**
 * The file of pulumi-libvirt's provider module, the first found of: `recorded` (resolved against
 * cwd; gone when the project moved or a pnpm upgrade removed that version), the program's own
 * `pulumi-libvirt`, and cwd's bin/provider when cwd is this repository (the quickstart).
 * Serialized into state with the shim: it uses nothing from its module, only `require`.
 */
export function locateProvider(recorded: string, cwd: string): string {
  const { join, resolve } = require("path");
  const tried: string[] = [];
  const find = (request: string, note: string): string | undefined => {
    try {
      return require.resolve(request, { paths: [cwd] });
    } catch (e: any) {
      tried.push(`${request} (${note}${e.code === "MODULE_NOT_FOUND" ? "" : `: ${e.message}`})`);
    }
  };
  let project: string | undefined;
  try {
    project = JSON.parse(require("fs").readFileSync(join(cwd, "package.json"), "utf8")).name;
  } catch {
    // no readable package.json: not this repository
  }
  const found = find(resolve(cwd, recorded), "where the resource was made") ??
    find("pulumi-libvirt/provider", `from ${cwd}`) ??
    (project === "pulumi-libvirt" ? find(join(cwd, "bin", "provider"), "this repository's build") : undefined);
  if (found) return found;
  throw new Error(`pulumi-libvirt is not installed for the program in ${cwd}: run \`npm install pulumi-libvirt\` there. Tried: ${tried.join(", ")}`);
}
