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
