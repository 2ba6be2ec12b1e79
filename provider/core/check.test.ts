/** Each Checker helper: what it accepts, what it returns, and the failure it records otherwise. */
import { ABSOLUTE_PATH, Checker, OBJECT_NAME } from "./check";
import { UNKNOWN } from "./unknown";

function run<T>(fn: (c: Checker) => T): { value: T; failures: Checker["failures"] } {
  const c = new Checker();
  const value = fn(c);
  return { value, failures: c.failures };
}

describe("fail", () => {
  test("records the property and reason, and returns undefined", () => {
    const { value, failures } = run((c) => c.fail("a.b", "because"));
    expect(value).toBeUndefined();
    expect(failures).toEqual([{ property: "a.b", reason: "because" }]);
  });
});

describe("required", () => {
  test.each([undefined, null, ""])("%p is missing", (v) => {
    const { value, failures } = run((c) => c.required("name", v));
    expect(value).toBe(false);
    expect(failures).toEqual([{ property: "name", reason: "name is required" }]);
  });
  test.each(["x", 0, false, UNKNOWN, {}])("%p is present", (v) => {
    const { value, failures } = run((c) => c.required("name", v));
    expect(value).toBe(true);
    expect(failures).toEqual([]);
  });
});

describe("string", () => {
  const rule = { pattern: /^[a-z]+$/, accepted: "lower-case letters", max: 5 };
  test("passes strings through, with and without a rule", () => {
    expect(run((c) => c.string("p", "anything at all"))).toEqual({ value: "anything at all", failures: [] });
    expect(run((c) => c.string("p", "abc", rule))).toEqual({ value: "abc", failures: [] });
    expect(run((c) => c.string("p", "", undefined))).toEqual({ value: "", failures: [] });
  });
  test("undefined and unknown pass untouched, even against a rule", () => {
    expect(run((c) => c.string("p", undefined, rule))).toEqual({ value: undefined, failures: [] });
    expect(run((c) => c.string("p", UNKNOWN, rule))).toEqual({ value: UNKNOWN, failures: [] });
  });
  test.each([5, true, null, ["a"], { a: 1 }])("a non-string %p fails naming the type", (v) => {
    const { value, failures } = run((c) => c.string("p", v));
    expect(value).toBeUndefined();
    expect(failures).toEqual([{ property: "p", reason: `expected a string, got ${JSON.stringify(v)}` }]);
  });
  test("a string against the pattern fails with the accepted form", () => {
    const { value, failures } = run((c) => c.string("p", "ABC", rule));
    expect(value).toBeUndefined();
    expect(failures).toEqual([{ property: "p", reason: '"ABC" is not valid: expected lower-case letters' }]);
  });
  test("a string longer than max fails", () => {
    expect(run((c) => c.string("p", "abcdef", rule)).failures).toEqual([{ property: "p", reason: '"abcdef" is not valid: expected lower-case letters' }]);
    expect(run((c) => c.string("p", "abcde", rule)).failures).toEqual([]);
  });
  test("long values are shortened in the message", () => {
    const { failures } = run((c) => c.string("p", "x".repeat(200), rule));
    expect(failures[0].reason).toBe(`"${"x".repeat(56)}... is not valid: expected lower-case letters`);
  });
});

describe("OBJECT_NAME", () => {
  test.each(["images", "pool_1", "a.b", "a+b:c@d-e", "_x", "9lives", "x".repeat(255)])("accepts %p", (name) => {
    expect(run((c) => c.string("name", name, OBJECT_NAME)).failures).toEqual([]);
  });
  test.each(["", "a/b", ".hidden", "-dash", "sp ace", "tab\t", "ü", "x".repeat(256), "a\nb"])("rejects %p", (name) => {
    const { failures } = run((c) => c.string("name", name, OBJECT_NAME));
    expect(failures).toHaveLength(1);
    expect(failures[0].property).toBe("name");
    expect(failures[0].reason).toContain(OBJECT_NAME.accepted);
  });
});

describe("ABSOLUTE_PATH (every host path: disks, pools, kernels, nvram, filesystems)", () => {
  test.each(["/", "/var/lib/libvirt/images/a.qcow2", "/srv/VM images/disk 1.qcow2", "/tmp/ü", "/" + "x".repeat(4095)])("accepts %p", (path) => {
    expect(run((c) => c.string("disk.file", path, ABSOLUTE_PATH)).failures).toEqual([]);
  });
  test.each(["", "relative/disk.qcow2", "~/disk.qcow2", " /leading-space", "/nul\0byte", "/" + "x".repeat(4096)])("rejects %p", (path) => {
    const { failures } = run((c) => c.string("disk.file", path, ABSOLUTE_PATH));
    expect(failures).toHaveLength(1);
    expect(failures[0].property).toBe("disk.file");
    expect(failures[0].reason).toContain("an absolute path on the host");
  });
});

describe("oneOf", () => {
  const values = ["dir", "fs"] as const;
  test("accepts listed values, undefined and unknown", () => {
    expect(run((c) => c.oneOf("type", "fs", values))).toEqual({ value: "fs", failures: [] });
    expect(run((c) => c.oneOf("type", undefined, values))).toEqual({ value: undefined, failures: [] });
    expect(run((c) => c.oneOf("type", UNKNOWN, values))).toEqual({ value: UNKNOWN, failures: [] });
  });
  test.each(["zfs", "DIR", "", 3, null, ["dir"]])("rejects %p listing the accepted values", (v) => {
    const { value, failures } = run((c) => c.oneOf("type", v, values));
    expect(value).toBeUndefined();
    expect(failures).toEqual([{ property: "type", reason: `${JSON.stringify(v)} is not one of the accepted values: dir, fs` }]);
  });
});

describe("bool", () => {
  test.each([true, false, undefined, UNKNOWN])("passes %p", (v) => {
    expect(run((c) => c.bool("start", v))).toEqual({ value: v, failures: [] });
  });
  test.each(["true", "yes", 1, 0, null, {}])("rejects %p", (v) => {
    const { value, failures } = run((c) => c.bool("start", v));
    expect(value).toBeUndefined();
    expect(failures).toEqual([{ property: "start", reason: `expected true or false, got ${JSON.stringify(v)}` }]);
  });
});

describe("int", () => {
  test.each([1, 5, 10, undefined, UNKNOWN])("passes %p within 1..10", (v) => {
    expect(run((c) => c.int("n", v, 1, 10))).toEqual({ value: v, failures: [] });
  });
  test.each([0, 11, -1, 1.5, NaN, Infinity, "5", null, true])("rejects %p naming the range", (v) => {
    const { value, failures } = run((c) => c.int("n", v, 1, 10));
    expect(value).toBeUndefined();
    expect(failures).toHaveLength(1);
    expect(failures[0].property).toBe("n");
    expect(failures[0].reason).toMatch(/is not valid: expected a whole number from 1 to 10$/);
  });
});

describe("size", () => {
  test("parses to bytes", () => {
    expect(run((c) => c.size("capacity", "1GiB"))).toEqual({ value: 1024 ** 3, failures: [] });
    expect(run((c) => c.size("capacity", 4096))).toEqual({ value: 4096, failures: [] });
    expect(run((c) => c.size("capacity", undefined))).toEqual({ value: undefined, failures: [] });
    expect(run((c) => c.size("capacity", UNKNOWN))).toEqual({ value: UNKNOWN, failures: [] });
  });
  test.each(["20 parsecs", -1, "lots", 1.5, {}])("rejects %p with the accepted forms", (v) => {
    const { value, failures } = run((c) => c.size("capacity", v));
    expect(value).toBeUndefined();
    expect(failures).toHaveLength(1);
    expect(failures[0].property).toBe("capacity");
    expect(failures[0].reason).toMatch(/is not a size: expected a whole number of bytes, or a string like "512MiB"/);
  });
});

describe("mode", () => {
  test.each([
    ["0755", "0755"],
    ["755", "0755"],
    ["0700", "0700"],
    ["1777", "1777"],
    ["00755", "0755"],
    [0o755, "0755"],
    [0o644, "0644"],
    [0o1777, "1777"],
    [0o7, undefined],
  ])("%p is %p", (v, out) => {
    const { value, failures } = run((c) => c.mode("mode", v));
    if (out === undefined) {
      expect(failures).toHaveLength(1);
    } else {
      expect(value).toBe(out);
      expect(failures).toEqual([]);
    }
  });
  test("undefined and unknown pass untouched", () => {
    expect(run((c) => c.mode("mode", undefined))).toEqual({ value: undefined, failures: [] });
    expect(run((c) => c.mode("mode", UNKNOWN))).toEqual({ value: UNKNOWN, failures: [] });
  });
  test.each(["999", "abc", "0789", "75", "17777", "", "rwxr-xr-x", -1, true, null])("rejects %p with an example", (v) => {
    const { value, failures } = run((c) => c.mode("target.permissions.mode", v));
    expect(value).toBeUndefined();
    expect(failures).toEqual([
      { property: "target.permissions.mode", reason: `${JSON.stringify(v)} is not a file mode: expected an octal string such as "0755" or "0644"` },
    ]);
  });
});

describe("object", () => {
  test("passes objects, undefined and unknown", () => {
    expect(run((c) => c.object("target", { a: 1 }))).toEqual({ value: { a: 1 }, failures: [] });
    expect(run((c) => c.object("target", {}))).toEqual({ value: {}, failures: [] });
    expect(run((c) => c.object("target", undefined))).toEqual({ value: undefined, failures: [] });
    expect(run((c) => c.object("target", UNKNOWN))).toEqual({ value: UNKNOWN, failures: [] });
  });
  test.each(["/path", 1, null, [], [{}], true])("rejects %p", (v) => {
    const { value, failures } = run((c) => c.object("target", v));
    expect(value).toBeUndefined();
    expect(failures).toEqual([{ property: "target", reason: `expected an object, got ${JSON.stringify(v)}` }]);
  });
});

describe("noExtraKeys", () => {
  test("known keys and __provider pass", () => {
    expect(run((c) => c.noExtraKeys("", { name: 1, type: 2, __provider: "x" }, ["name", "type"])).failures).toEqual([]);
    expect(run((c) => c.noExtraKeys("target", undefined, ["path"])).failures).toEqual([]);
  });
  test("each unknown key fails, named in full, listing the accepted keys", () => {
    const { failures } = run((c) => c.noExtraKeys("", { name: 1, autoStart: true, sise: 2 }, ["name", "autostart"]));
    expect(failures).toEqual([
      { property: "autoStart", reason: 'unknown property "autoStart": accepted are name, autostart' },
      { property: "sise", reason: 'unknown property "sise": accepted are name, autostart' },
    ]);
    expect(run((c) => c.noExtraKeys("target", { pth: "/x" }, ["path", "permissions"])).failures).toEqual([
      { property: "target.pth", reason: 'unknown property "pth": accepted are path, permissions' },
    ]);
  });
  test("with nothing accepted, the reason says so", () => {
    const { failures } = run((c) => c.noExtraKeys("source", { dir: "/x" }, []));
    expect(failures).toHaveLength(1);
    expect(failures[0].property).toBe("source.dir");
    expect(failures[0].reason).toMatch(/unknown property "dir": accepted are none/);
  });
  test("an unknown (preview) object has no keys to complain about", () => {
    expect(run((c) => c.noExtraKeys("source", UNKNOWN as any, ["host"])).failures).toEqual([]);
  });
});
