/** diffFields and fieldTableMarkdown over a small table that has one field of every kind. */
import { diffFields, Field, FieldTable, fieldTableMarkdown } from "./fields";
import { UNKNOWN } from "./unknown";

interface Thing {
  name: string;
  size?: number;
  memory?: number;
  path?: string;
  format?: string;
  tags?: string[];
  opts?: { a?: number; b?: string };
  timeoutSeconds?: number;
}

const refuseShrink = jest.fn((old: any, next: any) => (old !== undefined && next !== undefined && next < old ? `cannot shrink from ${old} to ${next}` : undefined));

const apply = async () => undefined;
const table: FieldTable<Thing> = {
  name: { effect: "replace", doc: "A new name makes a new thing." },
  size: { effect: "live", doc: "Grown live.", refuse: refuseShrink, apply },
  memory: { effect: "restart", doc: "Takes effect on restart." },
  path: { effect: "replace", computed: true, doc: "Chosen by libvirt when unset." },
  format: { effect: "live", computed: true, doc: "Detected when unset.", apply },
  tags: { effect: "live", doc: "A list.", apply },
  opts: { effect: "live", doc: "An object.", apply },
  timeoutSeconds: { effect: "none", doc: "Provider-side." },
};

const base: Thing = { name: "a", size: 10, memory: 1, path: "/p", format: "raw", tags: ["x"], opts: { a: 1, b: "b" }, timeoutSeconds: 5 };

beforeEach(() => refuseShrink.mockClear());

describe("diffFields", () => {
  test("identical inputs: nothing changed", () => {
    expect(diffFields(table, base, { ...base })).toEqual({ changed: [], replaces: [], refusals: [] });
  });

  test("deep equality: copies and key order do not matter", () => {
    expect(diffFields(table, base, { ...base, opts: { b: "b", a: 1 }, tags: ["x"] }).changed).toEqual([]);
  });

  test("a live change is changed but not a replacement", () => {
    expect(diffFields(table, base, { ...base, size: 20 })).toEqual({ changed: ["size"], replaces: [], refusals: [] });
  });

  test("a replace field is changed and replaces", () => {
    expect(diffFields(table, base, { ...base, name: "b" })).toEqual({ changed: ["name"], replaces: ["name"], refusals: [] });
  });

  test("restart and none effects are changes, not replacements", () => {
    expect(diffFields(table, base, { ...base, memory: 2, timeoutSeconds: 60 })).toEqual({ changed: ["memory", "timeoutSeconds"], replaces: [], refusals: [] });
  });

  test("a move field replaces only where replacesWhen says so, which sees all the next inputs", () => {
    const movable: FieldTable<{ host?: string; move?: boolean }> = {
      host: { effect: "move", replacesWhen: (_old, _next, news) => !news.move, move: async () => undefined, doc: "Moved when asked." },
      move: { effect: "none", doc: "Asks for a move." },
    };
    expect(diffFields(movable, { host: "a" }, { host: "b" })).toEqual({ changed: ["host"], replaces: ["host"], refusals: [] });
    expect(diffFields(movable, { host: "a" }, { host: "b", move: true })).toEqual({ changed: ["host", "move"], replaces: [], refusals: [] });
    expect(diffFields(movable, { host: "a" }, { host: UNKNOWN as any, move: true }).replaces).toEqual(["host"]);
  });

  test("several changes are reported in table order", () => {
    const d = diffFields(table, base, { ...base, timeoutSeconds: 1, name: "z", size: 11, path: "/q" });
    expect(d.changed).toEqual(["name", "size", "path", "timeoutSeconds"]);
    expect(d.replaces).toEqual(["name", "path"]);
  });

  test("a nested change counts as a change of the field", () => {
    expect(diffFields(table, base, { ...base, opts: { a: 2, b: "b" } }).changed).toEqual(["opts"]);
    expect(diffFields(table, base, { ...base, opts: { a: 1 } }).changed).toEqual(["opts"]);
  });

  test("refusals name the field and carry the table's reason; the change is still reported", () => {
    const d = diffFields(table, base, { ...base, size: 5 });
    expect(d).toEqual({ changed: ["size"], replaces: [], refusals: [{ property: "size", reason: "cannot shrink from 10 to 5" }] });
    expect(refuseShrink).toHaveBeenCalledWith(10, 5);
  });

  test("refuse is only consulted for fields that changed", () => {
    diffFields(table, base, { ...base, name: "other" });
    expect(refuseShrink).not.toHaveBeenCalled();
  });

  test("refuse returning undefined allows the change", () => {
    expect(diffFields(table, base, { ...base, size: 50 }).refusals).toEqual([]);
    expect(refuseShrink).toHaveBeenCalledWith(10, 50);
  });

  describe("computed fields", () => {
    test("unset means whatever libvirt chose: never a diff", () => {
      const { path, format, ...rest } = base;
      expect(diffFields(table, base, rest)).toEqual({ changed: [], replaces: [], refusals: [] });
    });
    test("set to a different value is a diff with the field's effect", () => {
      expect(diffFields(table, base, { ...base, path: "/other" })).toEqual({ changed: ["path"], replaces: ["path"], refusals: [] });
      expect(diffFields(table, base, { ...base, format: "qcow2" })).toEqual({ changed: ["format"], replaces: [], refusals: [] });
    });
    test("set where the old value was unset is a diff", () => {
      const { format, ...olds } = base;
      expect(diffFields(table, olds, { ...olds, format: "raw" }).changed).toEqual(["format"]);
    });
  });

  test("a non-computed field removed is a change", () => {
    const { memory, ...rest } = base;
    expect(diffFields(table, base, rest).changed).toEqual(["memory"]);
    const { name, ...noName } = base;
    expect(diffFields(table, base, noName)).toEqual({ changed: ["name"], replaces: ["name"], refusals: [] });
  });

  describe("unknown values (preview)", () => {
    test("an unknown value is always a change, even where the old value might be equal", () => {
      expect(diffFields(table, base, { ...base, name: UNKNOWN })).toEqual({ changed: ["name"], replaces: ["name"], refusals: [] });
      expect(diffFields(table, { ...base, name: UNKNOWN }, { ...base, name: UNKNOWN }).changed).toEqual(["name"]);
    });
    test("unknown nested in an object or list is a change", () => {
      expect(diffFields(table, base, { ...base, opts: { a: 1, b: UNKNOWN } }).changed).toEqual(["opts"]);
      expect(diffFields(table, base, { ...base, tags: [UNKNOWN] }).changed).toEqual(["tags"]);
    });
    test("an unknown computed field is a change too", () => {
      expect(diffFields(table, base, { ...base, path: UNKNOWN }).replaces).toEqual(["path"]);
    });
    test("refuse is not consulted for unknown values", () => {
      const d = diffFields(table, base, { ...base, size: UNKNOWN as any });
      expect(d).toEqual({ changed: ["size"], replaces: [], refusals: [] });
      expect(refuseShrink).not.toHaveBeenCalled();
    });
  });

  describe("empty lists, null and undefined are the same", () => {
    test.each([
      [undefined, []],
      [[], undefined],
      [null, []],
      [[], null],
      [null, undefined],
      [undefined, null],
      [[], []],
    ])("%p -> %p is no change", (old, next) => {
      expect(diffFields(table, { ...base, tags: old as any }, { ...base, tags: next as any }).changed).toEqual([]);
    });
    test.each([
      [undefined, ["x"]],
      [["x"], []],
      [["x"], undefined],
      [["x"], ["y"]],
      [["x", "y"], ["y", "x"]],
    ])("%p -> %p is a change", (old, next) => {
      expect(diffFields(table, { ...base, tags: old as any }, { ...base, tags: next as any }).changed).toEqual(["tags"]);
    });
    test("an empty object is not the same as an absent one", () => {
      expect(diffFields(table, { ...base, opts: undefined }, { ...base, opts: {} }).changed).toEqual(["opts"]);
    });
  });

  test("types matter: 5 and \"5\" differ", () => {
    expect(diffFields(table, base, { ...base, timeoutSeconds: "5" as any }).changed).toEqual(["timeoutSeconds"]);
  });

  test("keys outside the table are ignored", () => {
    expect(diffFields(table, { ...base, uuid: "u1" } as any, { ...base, uuid: "u2" } as any).changed).toEqual([]);
  });
});

describe("fieldTableMarkdown", () => {
  test("one row per field in table order, with the effect in words", () => {
    expect(fieldTableMarkdown(table)).toBe(
      [
        "| input | on change | notes |",
        "| --- | --- | --- |",
        "| `name` | replaces | A new name makes a new thing. |",
        "| `size` | updated live | Grown live. |",
        "| `memory` | definition + restart | Takes effect on restart. |",
        "| `path` | replaces | Chosen by libvirt when unset. |",
        "| `format` | updated live | Detected when unset. |",
        "| `tags` | updated live | A list. |",
        "| `opts` | updated live | An object. |",
        "| `timeoutSeconds` | no libvirt change | Provider-side. |",
      ].join("\n"),
    );
  });

  test("an empty table is just the header", () => {
    expect(fieldTableMarkdown({} as FieldTable<{}>)).toBe("| input | on change | notes |\n| --- | --- | --- |");
  });

  test("the StoragePool table documents every input with a known effect", async () => {
    const { storagePoolFields } = await import("../resources/storagePool");
    const md = fieldTableMarkdown(storagePoolFields);
    const rows = md.split("\n").slice(2);
    expect(rows).toHaveLength(Object.keys(storagePoolFields).length);
    for (const [name, f] of Object.entries(storagePoolFields) as [string, Field][]) {
      expect(md).toContain(`| \`${name}\` | `);
      expect(f.doc.length).toBeGreaterThan(0);
      expect(["live", "restart", "replace", "none"]).toContain(f.effect);
    }
  });
});
