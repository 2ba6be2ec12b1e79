/**
 * XML mechanics over xml2js, kept apart from the resources' policy. Documents parse into a
 * small, predictable tree (every child is an array, attributes under "$", text under "_"),
 * and are built from plain objects in the same shape.
 */
import { Builder, parseStringPromise } from "xml2js";

export interface XmlNode {
  $?: Record<string, string>;
  _?: string;
  [child: string]: any;
}

export async function parseXml(xml: string): Promise<Record<string, XmlNode>> {
  return parseStringPromise(xml, { explicitArray: true, explicitCharkey: true, trim: true });
}

/** The root element of a document, checking its name. */
export async function parseRoot(xml: string, name: string): Promise<XmlNode> {
  const doc = await parseXml(xml);
  const root = doc[name];
  if (!root) throw new Error(`expected a <${name}> document, got <${Object.keys(doc)[0]}>`);
  return root;
}

export function child(node: XmlNode | undefined, name: string): XmlNode | undefined {
  return node?.[name]?.[0];
}

export function children(node: XmlNode | undefined, name: string): XmlNode[] {
  return node?.[name] ?? [];
}

export function attr(node: XmlNode | undefined, name: string): string | undefined {
  return node?.$?.[name];
}

export function text(node: XmlNode | undefined): string | undefined {
  return node?._;
}

/** Text of a child element: <name>value</name>. */
export function childText(node: XmlNode | undefined, name: string): string | undefined {
  return text(child(node, name));
}

export function toNumber(v: string | undefined): number | undefined {
  return v === undefined || v === "" ? undefined : Number(v);
}

/** libvirt's scaled-integer units (docs/formatdomain "memory"): single letters and "iB" are powers of 1024, "B" suffixes powers of 1000. */
const UNIT_BYTES: Record<string, number> = { b: 1, bytes: 1 };
["k", "m", "g", "t", "p", "e"].forEach((u, i) => {
  UNIT_BYTES[u] = UNIT_BYTES[`${u}ib`] = 1024 ** (i + 1);
  UNIT_BYTES[`${u}b`] = 1000 ** (i + 1);
});

/**
 * Bytes held by a sized element (<memory unit="KiB">, <capacity unit="bytes">), with the unit
 * its element defaults to. A unit libvirt never writes throws rather than guessing a scale.
 */
export function bytesIn(node: XmlNode | undefined, defaultUnit: "KiB" | "bytes"): number | undefined {
  const value = toNumber(text(node));
  if (value === undefined) return undefined;
  const unit = attr(node, "unit") ?? defaultUnit;
  const factor = UNIT_BYTES[unit.toLowerCase()];
  if (factor === undefined) throw new Error(`unknown size unit "${unit}" (value ${value}) in libvirt's XML; expected one of ${Object.keys(UNIT_BYTES).join(", ")}`);
  return value * factor;
}

/**
 * Build XML from a plain object: "$" holds attributes, "_" text, other keys child elements
 * (arrays repeat the element). Undefined values and empty objects are left out.
 */
export function buildXml(rootName: string, root: object): string {
  return new Builder({ rootName, headless: true, renderOpts: { pretty: true, indent: "  ", newline: "\n" } }).buildObject(prune(root));
}

function prune(v: any): any {
  if (Array.isArray(v)) return v.map(prune).filter((x) => x !== undefined);
  if (v && typeof v === "object") {
    const out: any = {};
    for (const [k, x] of Object.entries(v)) {
      const p = prune(x);
      if (p !== undefined && !(typeof p === "object" && !Array.isArray(p) && Object.keys(p).length === 0)) out[k] = p;
    }
    return Object.keys(out).length ? out : undefined;
  }
  return v === undefined ? undefined : typeof v === "number" || typeof v === "boolean" ? String(v) : v;
}
