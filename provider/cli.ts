#!/usr/bin/env node
/**
 * The `pulumi-libvirt` command. Exit codes: 0 fine (warnings allowed), 1 libvirt unusable
 * (connection failed or an error-severity problem), 2 bad usage.
 */
import { parseArgs } from "node:util";
import { diagnose, formatReport } from "./doctor";
import { migrateState } from "./plugin/migrateState";

const USAGE = `Usage: pulumi-libvirt <command> [options]

Commands:
  doctor         Check the libvirt connection, KVM, networks, pools and permissions, with fixes
  migrate-state  Read a \`pulumi stack export\` of a stack made with the dynamic classes on stdin and
                 print it moved to the provider plugin, for \`pulumi stack import\` (libvirt is not touched)

Options:
  --uri URI   doctor: libvirt URI (default: $LIBVIRT_DEFAULT_URI, else qemu:///system);
              migrate-state: the stack's libvirt:uri config, when it has one
  --json      doctor: print one JSON object instead of the report
  -h, --help  show this help
`;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { uri: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const [command, ...rest] = positionals;
  const misuse = !command ? "" : !["doctor", "migrate-state"].includes(command) ? `unknown command: ${command}\n\n` : rest.length ? `unexpected argument: ${rest[0]}\n\n` : undefined;
  if (misuse !== undefined) {
    process.stderr.write(misuse + USAGE);
    return 2;
  }
  if (command === "migrate-state") {
    const { state, moved } = migrateState(JSON.parse(await readStdin()), { uri: values.uri });
    process.stdout.write(JSON.stringify(state, null, 2) + "\n");
    process.stderr.write(`migrate-state: ${moved.length} resource(s) moved to the plugin${moved.map((u) => `\n  ${u}`).join("")}\n`);
    return 0;
  }
  const report = await diagnose(values.uri);
  process.stdout.write(values.json ? JSON.stringify(report, null, 2) + "\n" : formatReport(report));
  return report.ok ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (e) => { process.stderr.write(`pulumi-libvirt: ${(e as Error).stack ?? e}\n`); process.exitCode = 1; },
  );
}
