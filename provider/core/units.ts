/** Sizes as users write them ("20GiB", "512 MiB", 1073741824) and as libvirt wants them (bytes). */

const UNITS: Record<string, number> = {
  b: 1, k: 1024, kb: 1000, kib: 1024, m: 1024 ** 2, mb: 1000 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1000 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tb: 1000 ** 4, tib: 1024 ** 4,
};

export const SIZE_FORMS = 'a whole number of bytes, or a string like "512MiB", "20GiB", "1.5TiB" (units B, KiB, MiB, GiB, TiB, or KB, MB, GB, TB as powers of 1000)';

/** Bytes for a size, or undefined when the text is not a size. */
export function parseSize(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  if (typeof v !== "string") return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(v);
  if (!m) return undefined;
  const factor = UNITS[(m[2] || "b").toLowerCase()];
  if (factor === undefined) return undefined;
  const bytes = Number(m[1]) * factor;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** A size for people: 21474836480 -> "20 GiB", 1536 -> "1.5 KiB". */
export function formatSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (i < units.length - 1 && bytes >= 1024 ** (i + 1)) i++;
  const v = bytes / 1024 ** i;
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}
