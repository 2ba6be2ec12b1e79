/**
 * What a disk image is, from its first bytes: the same probing libvirt and QEMU do, so the
 * provider knows before the upload which format the volume will have and, for qcow2, its
 * virtual size.
 */

export interface ImageInfo {
  /** "qcow2", "raw", or another format libvirt would report (iso, vmdk, vdi, vhdx, vpc, qed). */
  format: string;
  /** qcow2: the size the guest sees, from the header. */
  virtualSize?: number;
  /** Why this image cannot be used as a volume's content, when it cannot. */
  problem?: string;
}

/** Bytes needed to tell the formats apart (an ISO's signature sits at 32769). */
export const IMAGE_HEAD_BYTES = 64 * 1024;

const ascii = (b: Buffer, at: number, text: string) => b.length >= at + text.length && b.toString("latin1", at, at + text.length) === text;

export function detectImage(head: Buffer): ImageInfo {
  if (head.length >= 4 && head.readUInt32BE(0) === 0x514649fb) return qcow2(head);
  if (ascii(head, 0, "QED\0")) return { format: "qed" };
  if (ascii(head, 0, "KDMV") || ascii(head, 0, "# Disk DescriptorFile")) return { format: "vmdk" };
  if (head.length >= 0x44 && head.readUInt32LE(0x40) === 0xbeda107f) return { format: "vdi" };
  if (ascii(head, 0, "vhdxfile")) return { format: "vhdx" };
  if (ascii(head, 0, "conectix")) return { format: "vpc" };
  if (ascii(head, 0x8001, "CD001")) return { format: "iso" };
  return { format: "raw" };
}

function qcow2(h: Buffer): ImageInfo {
  if (h.length < 72) return { format: "qcow2", problem: "its qcow2 header is truncated" };
  const version = h.readUInt32BE(4);
  const backingOffset = h.readBigUInt64BE(8);
  const size = h.readBigUInt64BE(24);
  const crypt = h.readUInt32BE(32);
  const info: ImageInfo = { format: "qcow2", virtualSize: Number(size) };
  if (version !== 2 && version !== 3) info.problem = `it is qcow2 version ${version}, which QEMU does not read`;
  else if (size > BigInt(Number.MAX_SAFE_INTEGER)) info.problem = "its virtual size in the qcow2 header is not plausible";
  // A backing file in the header would make the volume read another file on the host.
  else if (backingOffset !== 0n) info.problem = "it is a qcow2 overlay with a backing file; upload a standalone image (qemu-img convert -O qcow2 overlay.qcow2 standalone.qcow2)";
  else if (crypt !== 0) info.problem = "it is an encrypted qcow2 image, which this provider does not upload";
  else if (version === 3 && h.length >= 80) {
    const incompatible = h.readBigUInt64BE(72);
    if (incompatible & 2n) info.problem = "its qcow2 header marks it corrupt; repair it with `qemu-img check -r all`";
    else if (incompatible & 4n) info.problem = "it is a qcow2 image with an external data file, which cannot be uploaded as one volume";
  }
  return info;
}
