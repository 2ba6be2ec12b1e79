/**
 * CloudInitDisk: a NoCloud seed (an ISO 9660 image labelled "cidata") built in memory from
 * user-data, meta-data, network-config and vendor-data, and uploaded over libvirt's connection
 * into a pool volume. No mkisofs anywhere. The volume's name carries the content's hash, so new
 * content makes a new volume beside the old one, a domain using it swaps its cdrom media live,
 * and only then is the old volume deleted.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildIso } from "../cloudinit/iso9660";
import { Checker, OBJECT_NAME } from "../core/check";
import type { FieldTable } from "../core/fields";
import { CommonInputs, ResourceSpec } from "../core/resource";
import { volume, VolumeInputs, VolumeOutputs } from "./volume";

export interface CloudInitDiskInputs extends CommonInputs {
  /** The storage pool that holds the seed volume. */
  pool: string;
  /** Base of the volume's name: the volume is "<name>-<hash>.iso". */
  name: string;
  /** #cloud-config or a script; secret. */
  userData?: string;
  /** Defaults to an instance-id and local-hostname derived from the name. */
  metaData?: string;
  networkConfig?: string;
  vendorData?: string;
}

export interface CloudInitDiskOutputs {
  /** The volume to attach as a cdrom: `{ device: "cdrom", volume: { pool, name: seed.volumeName } }`. */
  volumeName: string;
  key: string;
  path: string;
  /** Bytes of the ISO image. */
  size: number;
  /** sha256 of the ISO image. */
  sha256: string;
}

const content = (doc: string) => ({ effect: "replace" as const, doc });
export const cloudInitDiskFields: FieldTable<CloudInitDiskInputs> = {
  pool: { effect: "replace", doc: "Another pool makes a new seed there." },
  name: { effect: "replace", doc: "A new name makes a new seed." },
  userData: { ...content("New content makes a new seed volume; a domain using it swaps its cdrom media live. Kept secret."), secret: true },
  metaData: content("As userData."),
  networkConfig: content("As userData."),
  vendorData: content("As userData."),
  uri: { effect: "replace", doc: "Another host makes a new seed there." },
  timeoutSeconds: { effect: "none", doc: "Deadline for the upload and retries." },
};

const MAX_DOC = 1024 * 1024;

function checkInputs(news: Record<string, unknown>, c: Checker): CloudInitDiskInputs {
  const name = c.string("name", news.name, { ...OBJECT_NAME, max: 200 });
  c.required("name", news.name);
  const pool = c.string("pool", news.pool, OBJECT_NAME);
  c.required("pool", news.pool);
  const doc = (field: string) => {
    const v = c.string(field, news[field]);
    if (typeof v === "string" && Buffer.byteLength(v) > MAX_DOC) c.fail(field, `${Buffer.byteLength(v)} bytes is more than the 1 MiB a NoCloud seed should carry`);
    return v;
  };
  const userData = doc("userData");
  const metaData = doc("metaData") ?? (typeof name === "string" ? `instance-id: ${name}\nlocal-hostname: ${name}\n` : undefined);
  return { name: name as string, pool: pool as string, userData, metaData, networkConfig: doc("networkConfig"), vendorData: doc("vendorData") };
}

/** The seed image, byte for byte the same for the same inputs. */
export function seedImage(i: CloudInitDiskInputs): Buffer {
  const files = [
    { name: "user-data", data: i.userData }, { name: "meta-data", data: i.metaData },
    { name: "network-config", data: i.networkConfig }, { name: "vendor-data", data: i.vendorData },
  ].filter((f): f is { name: string; data: string } => f.data !== undefined).map((f) => ({ name: f.name, data: Buffer.from(f.data) }));
  // NoCloud requires user-data to exist, even empty.
  if (!files.some((f) => f.name === "user-data")) files.push({ name: "user-data", data: Buffer.alloc(0) });
  return buildIso(files, { volumeId: "cidata" });
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const volumeNameOf = (i: CloudInitDiskInputs, hash: string) => `${i.name}-${hash.slice(0, 12)}.iso`;

/** The seed as the Volume resource sees it: raw content from a file. */
function asVolume(i: CloudInitDiskInputs, volumeName: string, path?: string): VolumeInputs {
  return { pool: i.pool, name: volumeName, format: "raw", uri: i.uri, timeoutSeconds: i.timeoutSeconds, source: path ? { path } : undefined };
}

export const cloudInitDisk: ResourceSpec<CloudInitDiskInputs, CloudInitDiskOutputs> = {
  kind: "CloudInitDisk",
  fields: cloudInitDiskFields,
  // The volume name carries the content hash, so a replacement never collides with the old seed.
  identity: [],
  check: (news, c) => checkInputs(news, c),
  describe: (i, id) => `cloud-init disk "${i.name ?? id}"`,

  async create(ctx, inputs) {
    const image = seedImage(inputs);
    const hash = sha256(image);
    const dir = mkdtempSync(join(tmpdir(), "pulumi-libvirt-seed-"));
    try {
      const file = join(dir, "seed.iso");
      writeFileSync(file, image, { mode: 0o600 }); // user-data may hold secrets
      const { id } = await volume.create(ctx, asVolume(inputs, volumeNameOf(inputs, hash), file));
      return { id, facts: { sha256: hash, size: image.length } };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },

  async read(ctx, id, recorded) {
    const hash = recorded.sha256 ?? sha256(seedImage(recorded as CloudInitDiskInputs));
    const volumeName = volumeNameOf(recorded as CloudInitDiskInputs, hash);
    const state = await volume.read(ctx, id, asVolume(recorded as CloudInitDiskInputs, volumeName) as Partial<VolumeInputs & VolumeOutputs>);
    if (!state) return undefined;
    // The documents themselves are not read back: libvirt cannot show a volume's bytes cheaply.
    return {
      live: { pool: state.live.pool },
      outputs: { volumeName: state.live.name ?? volumeName, key: state.outputs.key, path: state.outputs.path, size: state.outputs.capacity, sha256: hash },
    };
  },

  async prepare() {
    // Every content field replaces; the rest are provider-side settings.
  },

  async delete(ctx, id, olds) {
    await volume.delete(ctx, id, { ...asVolume(olds, olds.volumeName), key: olds.key, path: olds.path } as VolumeInputs & VolumeOutputs);
  },
};
