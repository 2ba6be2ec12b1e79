/**
 * Every field table of every resource keeps its promise in form: a live field names how it is
 * applied (the compiler asks for it; this also catches a table built from untyped data), a move
 * field its move step and the replacements it falls back to, and nothing outside the table lists
 * live fields.
 */
import { specs } from "./index";

const tables = Object.entries(specs).map(([kind, spec]) => [kind, spec.fields as Record<string, any>] as const);

test.each(tables)("%s: every live field has an apply step, and only live fields have one", (_kind, fields) => {
  const live = Object.entries(fields).filter(([, f]) => f.effect === "live");
  expect(live.filter(([, f]) => typeof f.apply !== "function").map(([k]) => k)).toEqual([]);
  expect(Object.entries(fields).filter(([, f]) => f.effect !== "live" && f.apply !== undefined).map(([k]) => k)).toEqual([]);
});

test.each(tables)("%s: a move field has a move step, and says when it replaces instead", (_kind, fields) => {
  const moves = Object.entries(fields).filter(([, f]) => f.effect === "move");
  expect(moves.filter(([, f]) => typeof f.move !== "function" || typeof f.replacesWhen !== "function").map(([k]) => k)).toEqual([]);
});

test.each(tables)("%s: every field says what it does", (_kind, fields) => {
  for (const [k, f] of Object.entries(fields)) {
    expect([k, ["live", "restart", "replace", "move", "none"].includes(f.effect)]).toEqual([k, true]);
    expect([k, typeof f.doc === "string" && f.doc.length > 5]).toEqual([k, true]);
  }
});
