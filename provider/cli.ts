#!/usr/bin/env node
/**
 * The `pulumi-libvirt` command. Exit codes: 0 fine (warnings allowed), 1 libvirt unusable
 * (connection failed or an error-severity problem), 2 bad usage.
 */
import { parseArgs } from "node:util";
import { diagnose, formatReport } from "./doctor";

const USAGE = `Usage: pulumi-libvirt <command> [options]

Commands:
  doctor    Check the libvirt connection, KVM, networks, pools and permissions, with fixes

Options:
  --uri URI   libvirt URI (default: $LIBVIRT_DEFAULT_URI, else qemu:///system)
  --json      print one JSON object instead of the report
  -h, --help  show this help
`;

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
  const misuse = !command ? "" : command !== "doctor" ? `unknown command: ${command}\n\n` : rest.length ? `unexpected argument: ${rest[0]}\n\n` : undefined;
  if (misuse !== undefined) {
    process.stderr.write(misuse + USAGE);
    return 2;
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
