/**
 * Which field-table rows a test changes on the real daemon. An integration test declares the
 * rows it exercises with rowTest; the revived provider (test/provider.ts) reports every update,
 * replacement and refusal here, and the test fails when a declared row was never changed through
 * the provider while it ran. rows.test.ts reads the declarations from the test files and fails
 * when a row of any table has none, so the coverage is stated where the outcome is checked.
 */
import { diffFields, Effect, FieldTable, fieldsWith } from "../provider/core/fields";
import { specs, ResourceKind } from "../provider";

/** A kind's rows as a list, or all of its rows with one effect (for a test that loops over them). */
export type Rows = Partial<Record<ResourceKind, string[] | Effect>>;

const tableOf = (kind: string) => (specs as Record<string, { fields: FieldTable<any> }>)[kind].fields;

/** The running rowTest's record: rows changed per kind, and replacements a diff announced. */
let ledger: { changed: Map<string, Set<string>>; replacing: Map<string, Map<string, string>> } | undefined;

function mark(kind: string, rows: string[]): void {
  if (!ledger) return;
  const set = ledger.changed.get(kind) ?? new Set<string>();
  rows.forEach((r) => set.add(r));
  ledger.changed.set(kind, set);
}

/**
 * What a revived provider call did, as the engine would see it. An update changes the rows that
 * differ between its olds and news; a replacement counts once a create makes the object with the
 * new value the diff replaced it for; a refusal (a check failure, or an update or create that
 * rejects naming the field) is that row's outcome on a host or value that cannot have it.
 */
export function noteCall(kind: string, method: string, args: any[], result: any, error?: unknown): void {
  if (!ledger) return;
  const table = tableOf(kind);
  if (method === "update") {
    const changed = diffFields(table, args[1] ?? {}, args[2] ?? {}).changed;
    mark(kind, error ? changed.filter((f) => named(error, f)) : changed);
  } else if (method === "diff" && result?.replaces?.length) {
    ledger.replacing.set(kind, new Map(result.replaces.map((f: string) => [f, JSON.stringify(args[2]?.[f])])));
  } else if (method === "create") {
    const replacing = ledger.replacing.get(kind) ?? new Map();
    mark(kind, [...replacing].filter(([f, v]) => (error ? named(error, f) : JSON.stringify(args[0]?.[f]) === v)).map(([f]) => f));
    ledger.replacing.delete(kind);
  } else if (method === "check" && result?.failures?.length) {
    const changed = diffFields(table, args[0] ?? {}, args[1] ?? {}).changed;
    mark(kind, changed.filter((f) => result.failures.some((x: { property: string }) => x.property.split(".")[0] === f)));
  }
}

const named = (error: unknown, field: string) => new RegExp(`\\b${field}(\\.\\w+)*: `).test(String((error as Error)?.message ?? error));

/** The rows a declaration stands for. */
export function declaredRows(kind: string, rows: string[] | Effect): string[] {
  return Array.isArray(rows) ? rows : fieldsWith(tableOf(kind), rows);
}

/**
 * A test that changes the given rows on the real daemon and checks the outcome outside the
 * provider (virsh, qemu-img, the guest). It fails when a declared row was not changed.
 */
export function rowTest(title: string, rows: Rows, fn: () => Promise<void>, timeout?: number): void {
  test(title, async () => {
    ledger = { changed: new Map(), replacing: new Map() };
    const seen = ledger;
    try {
      await fn();
    } finally {
      ledger = undefined;
    }
    const unchanged = Object.entries(rows).flatMap(([kind, r]) => declaredRows(kind, r!).filter((f) => !seen.changed.get(kind)?.has(f)).map((f) => `${kind}.${f}`));
    expect({ declaredButNotChanged: unchanged }).toEqual({ declaredButNotChanged: [] });
  }, timeout);
}
