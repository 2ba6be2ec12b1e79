/**
 * The plugin as the engine runs it: `plugin/pulumi-resource-libvirt` (the executable the engine finds in a plugin path),
 * spoken to over gRPC. Needs `npm run build` (the plugin runs from bin/). Check, Diff and
 * GetSchema touch no libvirt; the resources' effects are tested through the CLI (test/e2e).
 */
import { ChildProcess, spawn } from "node:child_process";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as structproto from "google-protobuf/google/protobuf/struct_pb";
import * as plugproto from "@pulumi/pulumi/proto/plugin_pb";
import * as provrpc from "@pulumi/pulumi/proto/provider_grpc_pb";
import * as provproto from "@pulumi/pulumi/proto/provider_pb";
import { kindOf } from "./server";

const root = path.resolve(__dirname, "..", "..");
const urn = (type: string, name: string) => `urn:pulumi:dev::proj::libvirt:index:${type}::${name}`;

let child: ChildProcess;
let client: provrpc.ResourceProviderClient;

const call = <Req, Res>(method: string, req: Req): Promise<Res> =>
  new Promise((resolve, reject) => (client as any)[method](req, (e: Error | null, res: Res) => (e ? reject(e) : resolve(res))));

beforeAll(async () => {
  child = spawn(path.join(root, "plugin", "pulumi-resource-libvirt"), [], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout!.once("data", (d) => resolve(String(d).trim()));
    child.once("exit", (code) => reject(new Error(`plugin exited with ${code}`)));
  });
  client = new provrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
});

afterAll(() => {
  client?.close();
  child?.kill();
});

function checkRequest(type: string, name: string, news: object, olds: object = {}) {
  return new provproto.CheckRequest().setUrn(urn(type, name)).setNews(structproto.Struct.fromJavaScript(news as any)).setOlds(structproto.Struct.fromJavaScript(olds as any));
}

describe("the plugin over gRPC", () => {
  it("reports the package version and serves the generated schema", async () => {
    const info = await call<any, plugproto.PluginInfo>("getPluginInfo", new (require("google-protobuf/google/protobuf/empty_pb").Empty)());
    expect(info.getVersion()).toBe(require(path.join(root, "package.json")).version);
    const res = await call<any, provproto.GetSchemaResponse>("getSchema", new provproto.GetSchemaRequest());
    expect(JSON.parse(res.getSchema())).toEqual(require(path.join(root, "provider/plugin/schema.json")));
  });

  it("checks the provider's uri", async () => {
    const bad = await call<any, provproto.CheckResponse>("checkConfig", checkRequest("Provider", "p", { uri: "not a uri" }));
    expect(bad.getFailuresList().map((f) => [f.getProperty(), f.getReason()])).toEqual([["uri", expect.stringContaining("qemu:///system")]]);
    const good = await call<any, provproto.CheckResponse>("checkConfig", checkRequest("Provider", "p", { uri: "qemu+ssh://root@hv1/system" }));
    expect(good.getFailuresList()).toEqual([]);
  });

  it("refuses to point a provider at another host, which would strand its resources", async () => {
    const diff = (olds: object, news: object) => new provproto.DiffRequest().setUrn("urn:pulumi:dev::proj::pulumi:providers:libvirt::hv1")
      .setOlds(structproto.Struct.fromJavaScript(olds as any)).setNews(structproto.Struct.fromJavaScript(news as any));
    await expect(call("diffConfig", diff({ uri: "qemu:///system" }, { uri: "qemu+ssh://root@hv2/system" }))).rejects.toThrow(/^.*uri: this provider's resources live on qemu:\/\/\/system; changing it to qemu\+ssh:\/\/root@hv2\/system would leave them there/);
    const same = await call<any, provproto.DiffResponse>("diffConfig", diff({ uri: "qemu:///system" }, { uri: "qemu:///system" }));
    expect(same.getChanges()).toBe(provproto.DiffResponse.DiffChanges.DIFF_NONE);
  });

  it("fills the name from the resource's name and names bad fields with the accepted values", async () => {
    const ok = await call<any, provproto.CheckResponse>("check", checkRequest("Network", "lab", { mode: "isolated" }));
    expect(ok.getFailuresList()).toEqual([]);
    expect(ok.getInputs()!.toJavaScript()).toMatchObject({ name: "lab", mode: "isolated" });
    const bad = await call<any, provproto.CheckResponse>("check", checkRequest("Domain", "web", { memory: "1GiB", vcpus: 1, state: "asleep" }));
    expect(bad.getFailuresList().map((f) => f.getProperty())).toEqual(["state"]);
    expect(bad.getFailuresList()[0].getReason()).toContain("running, shutoff, paused, saved");
  });

  it("keeps secrets secret: a secret input, and fields the table declares secret, come back marked", async () => {
    const sig = "4dabf18193072939515e22adb298388d", secret = "1b47061264138c4ac30d75fd1eb44270";
    const res = await call<any, provproto.CheckResponse>("check", checkRequest("Domain", "web", {
      memory: "256MiB", vcpus: 1, description: { [sig]: secret, value: "for db" }, graphics: { type: "vnc", password: "pw" },
    }));
    expect(res.getFailuresList()).toEqual([]);
    const inputs = res.getInputs()!.toJavaScript() as any;
    expect(inputs.description).toEqual({ [sig]: secret, value: "for db" });
    expect(inputs.graphics).toEqual({ [sig]: secret, value: { type: "vnc", password: "pw" } });
    expect(inputs.memory).toBe(268435456);
  });

  it("diffs per property from the field table: update or replace", async () => {
    const olds = { name: "web", memory: 268435456, vcpus: 1, type: "qemu" };
    const news = { name: "web2", memory: 536870912, vcpus: 1, type: "qemu" };
    const req = new provproto.DiffRequest().setId("uuid").setUrn(urn("Domain", "web"))
      .setOlds(structproto.Struct.fromJavaScript(olds)).setNews(structproto.Struct.fromJavaScript(news));
    const res = await call<any, provproto.DiffResponse>("diff", req);
    expect(res.getChanges()).toBe(provproto.DiffResponse.DiffChanges.DIFF_SOME);
    expect(res.getReplacesList()).toEqual(["name"]);
    const kinds = Object.fromEntries(res.getDetaileddiffMap().toArray().map(([k, v]) => [k, (v as unknown as unknown[])[0]]));
    expect(kinds).toEqual({ name: provproto.PropertyDiff.Kind.UPDATE_REPLACE, memory: provproto.PropertyDiff.Kind.UPDATE });
    const same = new provproto.DiffRequest().setId("uuid").setUrn(urn("Domain", "web"))
      .setOlds(structproto.Struct.fromJavaScript(olds)).setNews(structproto.Struct.fromJavaScript(olds));
    expect((await call<any, provproto.DiffResponse>("diff", same)).getChanges()).toBe(provproto.DiffResponse.DiffChanges.DIFF_NONE);
  });

  it("refuses a type that is not its own", async () => {
    await expect(call("check", checkRequest("Nope", "x", {}))).rejects.toThrow('no resource kind "Nope"');
    expect(() => kindOf("urn:pulumi:dev::proj::aws:s3:Bucket::b")).toThrow('no resource type "aws:s3:Bucket"');
    expect(kindOf("urn:pulumi:dev::proj::my:Component$libvirt:index:Volume::v")).toBe("Volume");
  });
});
