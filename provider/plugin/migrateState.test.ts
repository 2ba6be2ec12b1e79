import { migrateState } from "./migrateState";

const P = "urn:pulumi:dev::qs::";
const nodejs = { urn: `${P}pulumi:providers:pulumi-nodejs::default`, custom: true, id: "n1", type: "pulumi:providers:pulumi-nodejs", inputs: {}, outputs: {} };
const stackRes = { urn: `${P}pulumi:pulumi:Stack::qs-dev`, custom: false, type: "pulumi:pulumi:Stack" };
const pool = {
  urn: `${P}pulumi-nodejs:dynamic/libvirt:StoragePool::pool`, custom: true, id: "u-pool", type: "pulumi-nodejs:dynamic/libvirt:StoragePool",
  inputs: { __provider: "exports.handler = ...", name: "p" }, outputs: { __provider: "exports.handler = ...", name: "p", uuid: "u-pool" },
  parent: stackRes.urn, provider: `${nodejs.urn}::n1`,
};
const vol = {
  urn: `${P}my:app:Vm$pulumi-nodejs:dynamic/libvirt:Volume::disk`, custom: true, id: "k", type: "pulumi-nodejs:dynamic/libvirt:Volume",
  inputs: { __provider: "x", pool: "p" }, outputs: { __provider: "x", pool: "p", key: "k" },
  parent: `${P}my:app:Vm::vm`, provider: `${nodejs.urn}::n1`, dependencies: [pool.urn], propertyDependencies: { pool: [pool.urn] },
};
const component = { urn: `${P}my:app:Vm::vm`, custom: false, type: "my:app:Vm", parent: stackRes.urn };
const exported = (resources: object[], more = {}) => ({ version: 3, deployment: { manifest: {}, resources, ...more } });

describe("migrateState", () => {
  const { state, moved } = migrateState(exported([stackRes, nodejs, pool, component, vol]));
  const rs = state.deployment.resources;

  it("renames the dynamic types and every URN that names them, parents and dependencies included", () => {
    expect(moved).toEqual([pool.urn, vol.urn]);
    expect(rs.map((r: any) => r.type)).toEqual(["pulumi:pulumi:Stack", "pulumi:providers:libvirt", "libvirt:index:StoragePool", "my:app:Vm", "libvirt:index:Volume"]);
    const v = rs[4];
    expect(v.urn).toBe(`${P}my:app:Vm$libvirt:index:Volume::disk`);
    expect(v.parent).toBe(component.urn);
    expect(v.dependencies).toEqual([`${P}libvirt:index:StoragePool::pool`]);
    expect(v.propertyDependencies).toEqual({ pool: [`${P}libvirt:index:StoragePool::pool`] });
  });

  it("drops the serialized provider from inputs and outputs and keeps everything else", () => {
    expect(rs[2].inputs).toEqual({ name: "p" });
    expect(rs[2].outputs).toEqual({ name: "p", uuid: "u-pool" });
    expect(rs[2].id).toBe("u-pool");
  });

  it("points them at a default libvirt provider placed before them, and drops the unused pulumi-nodejs provider", () => {
    const prov = rs[1];
    expect(prov).toMatchObject({ urn: `${P}pulumi:providers:libvirt::default`, custom: true, inputs: {}, outputs: {} });
    expect(rs[2].provider).toBe(`${prov.urn}::${prov.id}`);
    expect(rs[4].provider).toBe(`${prov.urn}::${prov.id}`);
    expect(rs.some((r: any) => r.type === "pulumi:providers:pulumi-nodejs")).toBe(false);
  });

  it("gives the provider the stack's libvirt:uri, so the provider shows no diff either", () => {
    const r = migrateState(exported([stackRes, nodejs, pool]), { uri: "qemu+ssh://root@hv1/system" }).state.deployment.resources[1];
    expect(r.inputs).toEqual({ uri: "qemu+ssh://root@hv1/system" });
  });

  it("keeps the pulumi-nodejs provider while other dynamic resources use it", () => {
    const other = { urn: `${P}pulumi-nodejs:dynamic:Resource::x`, custom: true, id: "x", type: "pulumi-nodejs:dynamic:Resource", provider: `${nodejs.urn}::n1` };
    const r = migrateState(exported([stackRes, nodejs, pool, other])).state.deployment.resources;
    expect(r.map((x: any) => x.type)).toContain("pulumi:providers:pulumi-nodejs");
    expect(r.find((x: any) => x.id === "x").type).toBe("pulumi-nodejs:dynamic:Resource");
  });

  it("leaves a stack with nothing to move as it is, and refuses one with pending operations or no resources", () => {
    const plain = exported([stackRes]);
    expect(migrateState(plain)).toEqual({ state: plain, moved: [] });
    expect(() => migrateState(exported([stackRes, nodejs, pool], { pending_operations: [{ type: "creating" }] }))).toThrow(/pending operations/);
    expect(() => migrateState({ version: 3 })).toThrow(/deployment.resources is missing/);
  });
});
