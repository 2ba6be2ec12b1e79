/**
 * The provider object Pulumi serializes into every dynamic resource's state.
 *
 * Pulumi stores the serialized text of this object in state and revives it for every later
 * operation, refresh and delete included. It therefore holds no implementation: each method
 * loads the installed pulumi-libvirt package and delegates, so upgrades take effect for old
 * stacks too and a code change never shows up as a diff. Keep this text stable.
 */
import type * as pulumi from "@pulumi/pulumi";

export function providerShim(kind: string): pulumi.dynamic.ResourceProvider {
  const load = () => {
    const cwd = process.cwd();
    let impl;
    try {
      impl = require(require.resolve("pulumi-libvirt/provider", { paths: [cwd] }));
    } catch (e: any) {
      // The quickstart runs inside this repository, where the package is the project itself.
      if (e.code !== "MODULE_NOT_FOUND" || require(require("path").join(cwd, "package.json")).name !== "pulumi-libvirt") {
        throw new Error(`pulumi-libvirt is not installed in ${cwd}: run \`npm install pulumi-libvirt\` (${e.message})`);
      }
      impl = require(require("path").join(cwd, "bin", "provider"));
    }
    return impl.resourceProvider(kind);
  };
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
