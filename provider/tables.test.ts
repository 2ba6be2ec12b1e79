/**
 * Every field table of every resource keeps its promise in form: a live field names how it is
 * applied (the compiler asks for it; this also catches a table built from untyped data), and
 * nothing outside the table lists live fields.
 */
import { specs } from "./index";

const tables = Object.entries(specs).map(([kind, spec]) => [kind, spec.fields as Record<string, any>] as const);

test.each(tables)("%s: every live field has an apply step, and only live fields have one", (_kind, fields) => {
  const live = Object.entries(fields).filter(([, f]) => f.effect === "live");
  expect(live.filter(([, f]) => typeof f.apply !== "function").map(([k]) => k)).toEqual([]);
  expect(Object.entries(fields).filter(([, f]) => f.effect !== "live" && f.apply !== undefined).map(([k]) => k)).toEqual([]);
});

test.each(tables)("%s: every field says what it does", (_kind, fields) => {
  for (const [k, f] of Object.entries(fields)) {
    expect([k, ["live", "restart", "replace", "none"].includes(f.effect)]).toEqual([k, true]);
    expect([k, typeof f.doc === "string" && f.doc.length > 5]).toEqual([k, true]);
  }
});
