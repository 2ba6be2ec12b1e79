/** Type helpers that turn the provider's plain input and output types into Pulumi's. */
import * as pulumi from "@pulumi/pulumi";
import { type FieldTable, secretFields } from "../provider/core/fields";
import { profileLoad } from "../provider/core/profile";

profileLoad("program");

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
 * What a resource registers, as [props, opts]; the same for the dynamic classes (sdk/*.ts) and
 * the plugin's (sdk/plugin.ts). Only registered keys become the resource's Outputs, so every
 * input is listed, even unset, and resolves to the value the provider chose. The table's secret
 * inputs are registered as secrets and its secret outputs declared so, so the engine never shows
 * or stores them in plain text (a preview's diff, the state), whether or not the program marked them.
 * `name` defaults to the Pulumi resource name.
 */
export function registration(fields: FieldTable<any>, outputs: object, name: string, args: { name?: unknown },
  opts: pulumi.CustomResourceOptions | undefined): [Record<string, unknown>, pulumi.CustomResourceOptions] {
  const all: Record<string, unknown> = {};
  for (const k of Object.keys(fields)) all[k] = undefined;
  const props: Record<string, unknown> = { ...all, ...outputs, ...args, name: args.name ?? name };
  const secrets = secretFields(fields);
  for (const k of secrets) if (props[k] !== undefined) props[k] = pulumi.secret(props[k]);
  return [props, secrets.length ? pulumi.mergeOptions(opts, { additionalSecretOutputs: secrets }) : opts ?? {}];
}
