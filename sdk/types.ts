/** Type helpers that turn the provider's plain input and output types into Pulumi's. */
import * as pulumi from "@pulumi/pulumi";
import { type FieldTable, secretFields } from "../provider/core/fields";

/** Every level may be a value, a promise or an Output. */
export type DeepInput<T> = T extends (infer U)[]
  ? pulumi.Input<DeepInput<U>[]>
  : T extends object
    ? pulumi.Input<{ [K in keyof T]: DeepInput<T[K]> }>
    : pulumi.Input<T>;

export type ArgsOf<T> = { [K in keyof T]: DeepInput<T[K]> };

/** Resource properties as Outputs, typed (no `any`). */
export type OutputsOf<T> = { readonly [K in keyof T]-?: pulumi.Output<T[K]> };

/**
 * The properties a dynamic resource registers. Only registered keys become the resource's
 * Outputs, so every input is listed, even unset, and resolves to the value the provider chose.
 * The table's secret inputs are registered as secrets, so the engine never shows or stores them
 * in plain text (a preview's diff, the state's inputs), whether or not the program marked them.
 */
export function resourceProps(fields: FieldTable<any>, outputs: object, args: object): Record<string, unknown> {
  const all: Record<string, unknown> = {};
  for (const k of Object.keys(fields)) all[k] = undefined;
  const props: Record<string, unknown> = { ...all, ...outputs, ...args };
  for (const k of secretFields(fields)) if (props[k] !== undefined) props[k] = pulumi.secret(props[k]);
  return props;
}
