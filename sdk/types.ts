/** Type helpers that turn the provider's plain input and output types into Pulumi's. */
import type * as pulumi from "@pulumi/pulumi";

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
 */
export function resourceProps(fields: object, outputs: object, args: object): Record<string, unknown> {
  const all: Record<string, unknown> = {};
  for (const k of Object.keys(fields)) all[k] = undefined;
  return { ...all, ...outputs, ...args };
}
