/**
 * Builds the plugin's Pulumi package schema from the same sources the TypeScript SDK and diff
 * use: each resource's field table (which inputs exist, their docs, which are secret) and its
 * TypeScript types (the SDK's `<Kind>Args` for input shapes, the provider's `<Kind>Inputs` and
 * `<Kind>Outputs` for output shapes). Run `npm run schema` to rewrite schema.json;
 * schema.test.ts fails when the committed file drifts from what this produces.
 *
 * A development tool: it needs the `typescript` package, which the plugin at run time does not.
 */
import * as path from "node:path";
import * as ts from "typescript";
import type { Field } from "../core/fields";

const PACKAGE = "libvirt";

export interface SchemaSource {
  /** Repository root (holds sdk/ and provider/). */
  root: string;
  version: string;
  /** Kind → its field table. */
  tables: Record<string, Record<string, Field>>;
}

type Spec = Record<string, unknown>;

const token = (name: string) => `${PACKAGE}:index:${name}`;
const camelToPascal = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
/** disks → Disk, addresses → Address: a list's element type is named in the singular. */
const singular = (s: string) => (s.endsWith("sses") ? s.slice(0, -2) : s.endsWith("s") && !s.endsWith("ss") ? s.slice(0, -1) : s);

export function generateSchema(src: SchemaSource): Spec {
  const sdkFile = (kind: string) => path.join(src.root, "sdk", `${kind.charAt(0).toLowerCase()}${kind.slice(1)}.ts`);
  const program = ts.createProgram(Object.keys(src.tables).map(sdkFile), { strict: true, target: ts.ScriptTarget.ES2022, moduleResolution: ts.ModuleResolutionKind.Node10, skipLibCheck: true });
  const checker = program.getTypeChecker();
  const types: Record<string, Spec> = {};

  /** An exported type of a module, by name, following re-exports. */
  const exported = (file: string, name: string): ts.Type => {
    const sf = program.getSourceFile(file);
    const mod = sf && checker.getSymbolAtLocation(sf);
    const sym = mod && checker.getExportsOfModule(mod).find((s) => s.name === name);
    if (!sym) throw new Error(`${file} does not export ${name}`);
    return checker.getDeclaredTypeOfSymbol(sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym) : sym);
  };
  /** The module a type name is exported from, as imported by the SDK file (provider/resources/...). */
  const importedType = (file: string, name: string): ts.Type => {
    const sf = program.getSourceFile(file)!;
    for (const stmt of sf.statements) {
      if (!ts.isImportDeclaration(stmt) || !stmt.importClause?.namedBindings || !ts.isNamedImports(stmt.importClause.namedBindings)) continue;
      const spec = stmt.importClause.namedBindings.elements.find((e) => e.name.text === name);
      if (!spec) continue;
      const target = path.resolve(path.dirname(file), (stmt.moduleSpecifier as ts.StringLiteral).text);
      const candidates = [`${target}.ts`, path.join(target, "index.ts")];
      const found = candidates.find((c) => program.getSourceFile(c));
      if (found) return exported(found, name);
    }
    throw new Error(`${file} imports no ${name}`);
  };

  const docOf = (sym: ts.Symbol) => ts.displayPartsToString(sym.getDocumentationComment(checker)).trim();

  /** Union members that are values, without undefined and the Promise/Output wrappers of pulumi.Input. */
  const values = (t: ts.Type): ts.Type[] => {
    const wrapper = (p: ts.Type): boolean =>
      p.isIntersection() ? p.types.some(wrapper) : ["Promise", "OutputInstance", "Output"].includes(p.getSymbol()?.name ?? "");
    const parts = t.isUnion() ? t.types : [t];
    return parts.filter((p) => !(p.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Null | ts.TypeFlags.Void)) && !wrapper(p));
  };

  /** The schema type of a TypeScript type; object types become named types under `name`. */
  const typeSpec = (t: ts.Type, name: string): Spec => {
    const parts = values(t);
    const is = (flag: ts.TypeFlags) => parts.every((p) => p.flags & flag);
    if (is(ts.TypeFlags.BooleanLike)) return { type: "boolean" };
    if (is(ts.TypeFlags.StringLike)) {
      const literals = parts.filter((p) => p.isStringLiteral()).map((p) => (p as ts.StringLiteralType).value);
      return literals.length === parts.length ? { type: "string", accepted: literals } : { type: "string" };
    }
    // Every number here is a count, a size in bytes, a port or an id: integers (and generated code writes them as such).
    if (is(ts.TypeFlags.NumberLike)) return { type: "integer" };
    if (parts.length > 1) return { oneOf: parts.map((p) => typeSpec(p, name)) };
    const [one] = parts;
    if (!one) throw new Error(`${name}: no type`);
    if (checker.isArrayType(one)) return { type: "array", items: typeSpec(checker.getTypeArguments(one as ts.TypeReference)[0], singular(name)) };
    const index = checker.getIndexTypeOfType(one, ts.IndexKind.String);
    if (index && !checker.getPropertiesOfType(one).length) return { type: "object", additionalProperties: typeSpec(index, name) };
    if (one.flags & ts.TypeFlags.Object) {
      defineObject(one, name);
      return { $ref: `#/types/${token(name)}` };
    }
    throw new Error(`${name}: unsupported type ${checker.typeToString(one)}`);
  };

  /** Properties of an object type; `docs` overrides the TSDoc of top-level inputs. */
  const properties = (t: ts.Type, prefix: string, docs?: (name: string) => string | undefined) => {
    const props: Record<string, Spec> = {};
    const required: string[] = [];
    for (const sym of checker.getPropertiesOfType(t)) {
      const type = checker.getTypeOfSymbol(sym);
      const spec = withDoc(typeSpec(type, prefix + camelToPascal(sym.name)), docs?.(sym.name) ?? docOf(sym));
      props[sym.name] = spec;
      if (!(sym.flags & ts.SymbolFlags.Optional) && !(type.isUnion() && type.types.some((p) => p.flags & ts.TypeFlags.Undefined))) required.push(sym.name);
    }
    return { props, required };
  };

  /** Input and output shapes of one nested object share a named type: a property either adds is kept. */
  const defineObject = (t: ts.Type, name: string) => {
    const key = token(name);
    const existing = types[key] as { properties: Record<string, Spec>; required?: string[] } | undefined;
    if (existing && !existing.properties) return; // being defined (a recursive type)
    if (!existing) types[key] = {};
    const { props, required } = properties(t, name);
    if (existing) {
      for (const [k, v] of Object.entries(props)) existing.properties[k] ??= v;
      return;
    }
    types[key] = { type: "object", properties: props, ...(required.length ? { required } : {}) };
  };

  const resources: Record<string, Spec> = {};
  for (const [kind, table] of Object.entries(src.tables)) {
    const file = sdkFile(kind);
    const tableDoc = (n: string) => table[n]?.doc;
    const args = properties(exported(file, `${kind}Args`), kind, tableDoc);
    // Outputs carry every input, as the provider normalized it (sizes in bytes, defaults filled).
    const ins = properties(importedType(file, `${kind}Inputs`), kind, tableDoc);
    const onlyOuts = properties(importedType(file, `${kind}Outputs`), kind);
    const outs = { props: { ...ins.props, ...onlyOuts.props }, required: [...ins.required, ...onlyOuts.required] };
    const missing = Object.keys(table).filter((k) => !(k in args.props));
    if (missing.length) throw new Error(`${kind}Args lacks ${missing.join(", ")} of its field table`);
    for (const [k, f] of Object.entries(table)) {
      if (!f.secret) continue;
      args.props[k].secret = true;
      outs.props[k].secret = true;
    }
    const doc = docOf(checker.getSymbolAtLocation((program.getSourceFile(file)!.statements.find((s) => ts.isClassDeclaration(s) && s.name?.text === kind) as ts.ClassDeclaration).name!)!);
    resources[token(kind)] = {
      description: doc,
      properties: outs.props,
      required: outs.required.filter((k) => !(k in table)),
      inputProperties: args.props,
      requiredInputs: args.required,
    };
  }

  const uri = { type: "string", description: "libvirt URI of the host, such as qemu:///system or qemu+ssh://user@host/system (default: LIBVIRT_DEFAULT_URI, else qemu:///system)." };
  return {
    name: PACKAGE,
    displayName: "libvirt",
    version: src.version,
    description: "KVM/QEMU hypervisors through libvirt: domains, networks, storage pools, volumes, cloud-init disks and domain snapshots, changed live where the hypervisor allows.",
    keywords: ["pulumi", "libvirt", "kvm", "qemu", "category/infrastructure"],
    license: "Apache-2.0",
    config: { variables: { uri } },
    provider: { description: "A libvirt host. One per hypervisor: pass it as the `provider` option.", inputProperties: { uri }, properties: { uri } },
    types: sortKeys(types),
    resources,
    language: { python: { packageName: "pulumi_libvirt", requires: { pulumi: ">=3.139.0,<4.0.0" } } },
  };
}

/** `accepted` is our note of a string's allowed values: the schema has no such key, so it goes into the description. */
function withDoc(spec: Spec, doc: string | undefined): Spec {
  const { accepted, ...rest } = spec as Spec & { accepted?: string[] };
  const items = rest.items as Spec | undefined;
  if (items && (items as { accepted?: string[] }).accepted) rest.items = withDoc(items, undefined);
  const note = accepted ? `One of: ${accepted.join(", ")}.` : "";
  const description = [doc, note].filter(Boolean).join(" ");
  return description ? { ...rest, description } : rest;
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

/** The schema of this repository (what schema.json must hold). */
export function repositorySchema(root: string): Spec {
  // Loaded here, not at the top: the generator's types come from the sources, its tables from the build.
  const { specs } = require("../index") as typeof import("../index");
  const { version } = JSON.parse(require("node:fs").readFileSync(path.join(root, "package.json"), "utf8"));
  const tables = Object.fromEntries(Object.entries(specs).map(([kind, spec]) => [kind, spec.fields as Record<string, Field>]));
  return generateSchema({ root, version, tables });
}

export const SCHEMA_FILE = "provider/plugin/schema.json";

if (require.main === module) {
  const root = path.resolve(__dirname, "..", "..", "..");
  require("node:fs").writeFileSync(path.join(root, SCHEMA_FILE), `${JSON.stringify(repositorySchema(root), null, 2)}\n`);
  process.stdout.write(`wrote ${SCHEMA_FILE}\n`);
}
