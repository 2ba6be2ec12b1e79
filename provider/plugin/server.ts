/**
 * pulumi-resource-libvirt: the resource provider plugin, served over Pulumi's gRPC protocol.
 *
 * It maps each RPC onto the same per-kind providers the dynamic resources use (core/resource.ts),
 * so every resource has one implementation. What the plugin adds: a schema (for YAML, Python
 * and codegen), provider configuration (`uri`, so one Provider resource per hypervisor),
 * detailed diffs, import (Read without recorded properties), the engine's timeouts, and Cancel.
 */
import * as grpc from "@grpc/grpc-js";
import * as anyproto from "google-protobuf/google/protobuf/any_pb";
import * as emptyproto from "google-protobuf/google/protobuf/empty_pb";
import * as structproto from "google-protobuf/google/protobuf/struct_pb";
import * as plugproto from "@pulumi/pulumi/proto/plugin_pb";
import * as provrpc from "@pulumi/pulumi/proto/provider_grpc_pb";
import * as provproto from "@pulumi/pulumi/proto/provider_pb";
import * as statusproto from "@pulumi/pulumi/proto/status_pb";
import { CheckFailure, Checker } from "../core/check";
import { closeAll, setConfiguredUri } from "../core/connections";
import { settled } from "../core/creating";
import { redactUri } from "../libvirt/uri";
import { secretFields } from "../core/fields";
import { resourceProvider, specs } from "../index";
import schema from "./schema.json";

const VERSION: string = schema.version;
const TYPE_PREFIX = "libvirt:index:";

/** The resource kind of a URN (urn:pulumi:stack::project::[parent$]libvirt:index:Domain::name). */
export function kindOf(urn: string): string {
  const type = urn.split("::")[2]?.split("$").pop() ?? "";
  if (!type.startsWith(TYPE_PREFIX)) throw new Error(`pulumi-libvirt has no resource type "${type}"`);
  return type.slice(TYPE_PREFIX.length);
}
const nameOf = (urn: string) => urn.split("::").slice(3).join("::");

const struct = (o: object | undefined) => structproto.Struct.fromJavaScript((o ?? {}) as Record<string, any>);

/** How the engine marks a secret value in a Struct, once the provider says it accepts secrets. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET = "1b47061264138c4ac30d75fd1eb44270";
const isSecret = (v: any) => v && typeof v === "object" && v[SECRET_SIG] === SECRET;
const unwrap = (v: any): any => (isSecret(v) ? unwrap(v.value) : Array.isArray(v) ? v.map(unwrap) : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrap(x)])) : v);
const hasSecret = (v: any): boolean => isSecret(v) || (v && typeof v === "object" && Object.values(v).some(hasSecret));

/** A request's properties as plain values, and the top-level keys that held a secret. */
function plainWithSecrets(s: structproto.Struct | undefined): { values: Record<string, any>; secret: Set<string> } {
  const raw = (s ? s.toJavaScript() : {}) as Record<string, any>;
  return { values: unwrap(raw), secret: new Set(Object.keys(raw).filter((k) => hasSecret(raw[k]))) };
}
const plain = (s: structproto.Struct | undefined) => plainWithSecrets(s).values;

/**
 * Outputs with the secret keys marked: those the table declares secret (a password read back
 * from libvirt on import or refresh is as secret as one the program gave) and those that came in secret.
 */
function secretStruct(kind: string, o: Record<string, any> | undefined, alsoSecret: Set<string> = new Set()): structproto.Struct {
  const secret = new Set([...secretFields((specs as Record<string, any>)[kind].fields), ...alsoSecret]);
  const out = Object.fromEntries(Object.entries(o ?? {}).map(([k, v]) => [k, secret.has(k) && v !== undefined ? { [SECRET_SIG]: SECRET, value: v } : v]));
  return struct(out);
}

/** A gRPC error; one with an id (created, not initialised) carries ErrorResourceInitFailed so the engine keeps the object. */
function grpcError(e: any): grpc.ServiceError {
  const message = e instanceof Error ? e.message : String(e);
  const metadata = new grpc.Metadata();
  if (e?.id) {
    const detail = new provproto.ErrorResourceInitFailed();
    detail.setId(e.id);
    detail.setProperties(struct(e.properties));
    detail.setReasonsList(e.reasons ?? [message]);
    const any = new anyproto.Any();
    any.pack(detail.serializeBinary(), "pulumirpc.ErrorResourceInitFailed");
    const status = new statusproto.Status();
    status.setCode(grpc.status.UNKNOWN);
    status.setMessage(message);
    status.addDetails(any);
    metadata.add("grpc-status-details-bin", Buffer.from(status.serializeBinary()));
  }
  return Object.assign(new Error(message), { code: grpc.status.UNKNOWN, details: message, metadata });
}

/** Adapts an async handler to grpc-js's callback style. */
function unary<Req, Res>(fn: (req: Req) => Promise<Res>) {
  return (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => {
    fn(call.request).then((res) => callback(null, res), (e) => callback(grpcError(e)));
  };
}

function checkResponse(inputs: object | undefined, failures: CheckFailure[] | undefined): provproto.CheckResponse {
  const res = new provproto.CheckResponse();
  if (inputs) res.setInputs(struct(inputs));
  for (const f of failures ?? []) {
    const failure = new provproto.CheckFailure();
    failure.setProperty(f.property);
    failure.setReason(f.reason);
    res.addFailures(failure);
  }
  return res;
}

/** The provider's own configuration: the host. */
function checkConfig(news: Record<string, any>): { failures: CheckFailure[] } {
  const c = new Checker();
  const known = Object.fromEntries(Object.entries(news).filter(([k]) => !k.startsWith("__") && k !== "version"));
  c.noExtraKeys("", known, ["uri"]);
  c.string("uri", news.uri, { pattern: /^[a-z][a-z0-9]*(\+[a-z0-9]+)?:\/\//i, accepted: "a libvirt URI such as qemu:///system or qemu+ssh://user@host/system" });
  return { failures: c.failures };
}

export function providerService(): grpc.UntypedServiceImplementation {
  const timeoutOf = (req: { getTimeout(): number }) => req.getTimeout() || undefined;

  const service = {
    getPluginInfo: unary(async () => new plugproto.PluginInfo().setVersion(VERSION)),
    getSchema: unary(async (req: provproto.GetSchemaRequest) => {
      if (req.getVersion() !== 0) throw new Error(`unsupported schema version ${req.getVersion()}`);
      return new provproto.GetSchemaResponse().setSchema(JSON.stringify(schema));
    }),

    checkConfig: unary(async (req: provproto.CheckRequest) => {
      const { failures } = checkConfig(plain(req.getNews()));
      // Returned as given: a uri held as a secret (it may carry credentials) stays one.
      const res = checkResponse(undefined, failures);
      if (!failures.length) res.setInputs(req.getNews());
      return res;
    }),
    diffConfig: unary(async (req: provproto.DiffRequest) => {
      // Another uri is another host, and its resources stay on the old one: updating the provider
      // would lose track of them, replacing it would delete them. A move is per resource: a
      // Domain's own uri with `migration` set.
      const [was, now] = [plain(req.getOlds()).uri, plain(req.getNews()).uri];
      if (was !== undefined && now !== undefined && was !== now) {
        throw new Error(`uri: this provider's resources live on ${redactUri(was)}; changing it to ${redactUri(now)} would leave them there. ` +
          "Set it back, and move them deliberately: a Domain moves when its own uri input changes and its migration input is set (live or offline); other resources are made anew on the new host by a new provider");
      }
      const changed = was !== now;
      const res = new provproto.DiffResponse().setChanges(changed ? provproto.DiffResponse.DiffChanges.DIFF_SOME : provproto.DiffResponse.DiffChanges.DIFF_NONE);
      if (changed) res.setDiffsList(["uri"]);
      return res;
    }),
    configure: unary(async (req: provproto.ConfigureRequest) => {
      const args = plain(req.getArgs());
      setConfiguredUri(args.uri ?? req.getVariablesMap().get("libvirt:config:uri"));
      // Secrets arrive marked; outputs keep them marked (see secretStruct). Preview needs no provider call.
      return new provproto.ConfigureResponse().setAcceptsecrets(true).setSupportspreview(false).setAcceptresources(false).setAcceptoutputs(false);
    }),

    check: unary(async (req: provproto.CheckRequest) => {
      const urn = req.getUrn();
      const kind = kindOf(urn);
      const { values: news, secret } = plainWithSecrets(req.getNews());
      // As in the SDK classes: the name in libvirt defaults to the resource's name.
      if (news.name === undefined) news.name = nameOf(urn);
      const r = await resourceProvider(kind).check(plain(req.getOlds()), news);
      const res = checkResponse(undefined, r.failures);
      if (!r.failures?.length) res.setInputs(secretStruct(kind, r.inputs, secret));
      return res;
    }),
    // Diff, read, update and delete come only for resources the state holds: a create's journal
    // note (core/creating.ts) has done its job then.
    diff: unary(async (req: provproto.DiffRequest) => {
      settled(req.getUrn());
      const r = await resourceProvider(kindOf(req.getUrn())).detailedDiff(req.getId(), plain(req.getOlds()), plain(req.getNews()));
      const res = new provproto.DiffResponse();
      res.setChanges(r.changes ? provproto.DiffResponse.DiffChanges.DIFF_SOME : provproto.DiffResponse.DiffChanges.DIFF_NONE);
      res.setReplacesList(r.replaces ?? []);
      res.setDeletebeforereplace(!!r.deleteBeforeReplace);
      res.setDiffsList(r.changed ?? []);
      // Update or replace per property, as the field table says.
      const detailed = res.getDetaileddiffMap();
      for (const name of r.changed ?? []) {
        const kind = r.replaces?.includes(name) ? provproto.PropertyDiff.Kind.UPDATE_REPLACE : provproto.PropertyDiff.Kind.UPDATE;
        detailed.set(name, new provproto.PropertyDiff().setKind(kind).setInputdiff(true));
      }
      res.setHasdetaileddiff(true);
      return res;
    }),
    create: unary(async (req: provproto.CreateRequest) => {
      const kind = kindOf(req.getUrn());
      const { values: inputs, secret } = plainWithSecrets(req.getProperties());
      if (req.getPreview()) return new provproto.CreateResponse().setProperties(secretStruct(kind, inputs, secret));
      const r = await resourceProvider(kind).create(inputs, timeoutOf(req), req.getUrn());
      return new provproto.CreateResponse().setId(r.id).setProperties(secretStruct(kind, r.outs, secret));
    }),
    read: unary(async (req: provproto.ReadRequest) => {
      // On import the engine sends no properties: only the id. Then every input is read from libvirt.
      settled(req.getUrn());
      const kind = kindOf(req.getUrn());
      const { values: props, secret } = plainWithSecrets(req.getProperties());
      const r = await resourceProvider(kind).read(req.getId(), props);
      const res = new provproto.ReadResponse();
      if (!r.id) return res; // gone
      return res.setId(r.id).setProperties(secretStruct(kind, r.props, secret)).setInputs(secretStruct(kind, r.inputs, secret));
    }),
    update: unary(async (req: provproto.UpdateRequest) => {
      settled(req.getUrn());
      const kind = kindOf(req.getUrn());
      const { values: news, secret } = plainWithSecrets(req.getNews());
      if (req.getPreview()) return new provproto.UpdateResponse().setProperties(secretStruct(kind, news, secret));
      const r = await resourceProvider(kind).update(req.getId(), plain(req.getOlds()), news, timeoutOf(req));
      return new provproto.UpdateResponse().setProperties(secretStruct(kind, r.outs, secret));
    }),
    delete: unary(async (req: provproto.DeleteRequest) => {
      settled(req.getUrn());
      await resourceProvider(kindOf(req.getUrn())).delete(req.getId(), plain(req.getProperties()), timeoutOf(req));
      return new emptyproto.Empty();
    }),
    // The engine cancels on Ctrl-C: closing the connections ends every call in flight with an error.
    cancel: unary(async () => {
      await closeAll();
      return new emptyproto.Empty();
    }),
  };
  return service as unknown as grpc.UntypedServiceImplementation;
}

/** Serve on a free loopback port and print it: the engine reads the port from the first line of stdout. */
export async function serve(): Promise<grpc.Server> {
  const server = new grpc.Server({ "grpc.max_receive_message_length": 400 * 1024 * 1024 });
  server.addService(provrpc.ResourceProviderService, providerService());
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  process.stdout.write(`${port}\n`);
  exitWithEngine();
  return server;
}

/**
 * The engine starts plugins in their own process group and, when it is killed, never tells
 * them: without this a killed `pulumi` leaves the plugin serving forever. Re-parented means the
 * engine is gone.
 */
function exitWithEngine(): void {
  const engine = process.ppid;
  setInterval(() => {
    if (process.ppid !== engine) process.exit(0);
  }, 1000).unref();
}
