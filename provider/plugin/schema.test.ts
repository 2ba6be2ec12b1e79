import * as path from "node:path";
import { readFileSync } from "node:fs";
import { specs } from "../index";
import { repositorySchema, SCHEMA_FILE } from "./generateSchema";

const root = path.resolve(__dirname, "..", "..");
const committed = JSON.parse(readFileSync(path.join(root, SCHEMA_FILE), "utf8"));

describe("the plugin's schema", () => {
  it("is what the field tables and types produce now (run `npm run schema` after changing them)", () => {
    expect(committed).toEqual(repositorySchema(root));
  }, 60000);

  it("has every resource kind, and every field of each table as an input and an output with the table's doc", () => {
    for (const [kind, spec] of Object.entries(specs)) {
      const res = committed.resources[`libvirt:index:${kind}`];
      expect(res).toBeDefined();
      for (const [name, field] of Object.entries(spec.fields as Record<string, { doc: string; secret?: true }>)) {
        expect(res.inputProperties[name]?.description).toContain(field.doc);
        expect(res.properties[name]).toBeDefined();
        expect(!!res.inputProperties[name].secret).toBe(!!field.secret);
      }
    }
  });

  it("marks the graphics password and cloud-init user-data secret", () => {
    expect(committed.resources["libvirt:index:Domain"].properties.graphics.secret).toBe(true);
    expect(committed.resources["libvirt:index:CloudInitDisk"].inputProperties.userData.secret).toBe(true);
  });

  it("references only types it defines", () => {
    const refs = JSON.stringify(committed).match(/#\/types\/[^"]+/g) ?? [];
    for (const ref of refs) expect(committed.types[ref.slice("#/types/".length)]).toBeDefined();
  });
});
