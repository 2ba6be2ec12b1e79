// node run.js inline|local <stack> <prefix>: up, preview, destroy through the Automation API, in
// this directory (the dynamic-provider host starts from the workspace's node_modules). Prints the
// summaries as JSON on the last line.
const path = require("path");
const pulumi = require("@pulumi/pulumi");
const { LocalWorkspace } = require("@pulumi/pulumi/automation");
const libvirt = require("pulumi-libvirt");

async function main() {
  const [mode, stackName, prefix] = process.argv.slice(2);
  const stack = mode === "inline"
    ? await LocalWorkspace.createStack({
      stackName,
      projectName: "e2e-automation-inline",
      program: async () => {
        const name = `${new pulumi.Config().require("prefix")}-inline`;
        const pool = new libvirt.StoragePool("pool", { name, type: "dir", target: { path: `/var/lib/libvirt/images/${name}` } });
        return { state: pool.state };
      },
    }, { workDir: __dirname })
    : await LocalWorkspace.createStack({ stackName, workDir: path.join(__dirname, "local") });
  await stack.setConfig("prefix", { value: prefix });
  try {
    const up = await stack.up();
    const preview = await stack.preview();
    const destroy = await stack.destroy();
    console.log(JSON.stringify({ up: up.summary.resourceChanges, state: up.outputs.state?.value, preview: preview.changeSummary, destroy: destroy.summary.resourceChanges }));
  } catch (e) {
    await stack.destroy().catch(() => undefined);
    throw e;
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
