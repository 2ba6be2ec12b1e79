/**
 * Input validation for check(): each helper records a failure that names the property and the
 * accepted values, and passes unknown (preview) values through untouched.
 */
import { isUnknown } from "./unknown";
import { parseSize, SIZE_FORMS } from "./units";

/** A host path: absolute, spaces allowed, no NUL, at most PATH_MAX (4096) bytes. */
export const ABSOLUTE_PATH = { pattern: /^\/[^\0]*$/, accepted: "an absolute path on the host, such as /var/lib/libvirt/images/disk1.qcow2", max: 4096 };

export interface CheckFailure {
  property: string;
  reason: string;
}

function describe(v: unknown): string {
  const text = JSON.stringify(v);
  return text === undefined ? String(v) : text.length > 60 ? text.slice(0, 57) + "..." : text;
}

export class Checker {
  readonly failures: CheckFailure[] = [];

  fail(property: string, reason: string): undefined {
    this.failures.push({ property, reason });
    return undefined;
  }

  required<T>(property: string, v: T | undefined): v is T {
    if (v === undefined || v === null || v === "") {
      this.fail(property, `${property} is required`);
      return false;
    }
    return true;
  }

  /** secret: the failure does not repeat the value (a password). */
  string(property: string, v: unknown, rule?: { pattern: RegExp; accepted: string; max?: number; secret?: boolean }): string | undefined {
    if (v === undefined || isUnknown(v)) return v as undefined;
    if (typeof v !== "string") return this.fail(property, `expected a string, got ${rule?.secret ? typeof v : describe(v)}`);
    if (rule && (!rule.pattern.test(v) || v.length > (rule.max ?? Infinity))) {
      return this.fail(property, `${rule.secret ? `the value (${v.length} characters)` : describe(v)} is not valid: expected ${rule.accepted}`);
    }
    return v;
  }

  oneOf<T extends string>(property: string, v: unknown, values: readonly T[]): T | undefined {
    if (v === undefined || isUnknown(v)) return v as undefined;
    if (typeof v !== "string" || !values.includes(v as T)) {
      return this.fail(property, `${describe(v)} is not one of the accepted values: ${values.join(", ")}`);
    }
    return v as T;
  }

  bool(property: string, v: unknown): boolean | undefined {
    if (v === undefined || isUnknown(v)) return v as undefined;
    if (typeof v !== "boolean") return this.fail(property, `expected true or false, got ${describe(v)}`);
    return v;
  }

  int(property: string, v: unknown, min: number, max: number): number | undefined {
    if (v === undefined || isUnknown(v)) return v as undefined;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      return this.fail(property, `${describe(v)} is not valid: expected a whole number from ${min} to ${max}`);
    }
    return v;
  }

  /** A size in bytes, from a number or a string with units. */
  size(property: string, v: unknown): number | undefined {
    if (v === undefined || isUnknown(v)) return v as undefined;
    const bytes = parseSize(v);
    if (bytes === undefined) return this.fail(property, `${describe(v)} is not a size: expected ${SIZE_FORMS}`);
    return bytes;
  }

  /** Unix permissions as an octal string ("0755") or number (0o755). */
  mode(property: string, v: unknown): string | undefined {
    if (v === undefined || isUnknown(v)) return v as undefined;
    const text = typeof v === "number" ? v.toString(8) : v;
    if (typeof text !== "string" || !/^0?[0-7]{3,4}$/.test(text)) {
      return this.fail(property, `${describe(v)} is not a file mode: expected an octal string such as "0755" or "0644"`);
    }
    return text.padStart(4, "0").slice(-4);
  }

  object(property: string, v: unknown): Record<string, unknown> | undefined {
    if (v === undefined || isUnknown(v)) return v as undefined;
    if (typeof v !== "object" || v === null || Array.isArray(v)) return this.fail(property, `expected an object, got ${describe(v)}`);
    return v as Record<string, unknown>;
  }

  /** Keys the resource does not know are typos; say which ones exist. */
  noExtraKeys(property: string, v: Record<string, unknown> | undefined, known: readonly string[]): void {
    // An unknown (preview) object is a string: its "keys" would be its characters.
    if (isUnknown(v)) return;
    for (const key of Object.keys(v ?? {})) {
      if (key === "__provider") continue;
      if (!known.includes(key)) this.fail(property ? `${property}.${key}` : key, `unknown property "${key}": accepted are ${known.join(", ") || "none"}`);
    }
  }
}

/** libvirt object names: no slash, no leading dot, printable, at most 255 bytes. */
export const OBJECT_NAME = {
  pattern: /^[A-Za-z0-9_][A-Za-z0-9_.+:@-]*$/,
  accepted: "1-255 characters of letters, digits, and _ . + : @ -, not starting with . or -",
  max: 255,
};
