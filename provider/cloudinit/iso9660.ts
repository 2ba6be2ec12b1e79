/**
 * Minimal in-memory ISO9660 writer for cloud-init NoCloud seed disks.
 *
 * Produces a single flat root directory with three views of the same files:
 *   - ISO9660 primary tree with level-1 8.3 names ("USER_DAT.;1"), ECMA-119;
 *   - Rock Ridge (SUSP 1.10 + RRIP 1.09) NM/PX/TF entries in the primary
 *     records, so Linux isofs shows real lowercase names without Joliet;
 *   - a Joliet supplementary tree (UCS-2 big-endian names).
 * The layout mirrors `genisoimage -V cidata -J -r`, including writing the
 * volume id exactly as given in both descriptors (genisoimage writes
 * lowercase "cidata" into the PVD too; blkid reports the Joliet label).
 * Output is a pure function of the inputs: files are sorted by name and all
 * timestamps come from `opts.date` (fixed default), so equal inputs give
 * byte-identical images and stable content hashes.
 */

export interface IsoFile {
  name: string;
  data: Buffer;
}

export interface IsoOptions {
  /** Volume label, e.g. "cidata" (1-16 chars of [A-Za-z0-9_.-]). */
  volumeId: string;
  /** Timestamp for every date field; defaults to 2000-01-01T00:00:00Z. */
  date?: Date;
}

const SECTOR = 2048;
const DEFAULT_DATE = new Date(Date.UTC(2000, 0, 1));
const NAME_RE = /^[A-Za-z0-9._-]+$/;
const VOLUME_RE = /^[A-Za-z0-9_.-]{1,16}$/;

// --- Numeric encodings (ECMA-119 7.2 / 7.3) ---------------------------------

/** 7.2.3: 16-bit both-endian (LE then BE). */
function both16(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16LE(v, 0);
  b.writeUInt16BE(v, 2);
  return b;
}

/** 7.3.3: 32-bit both-endian (LE then BE). */
function both32(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(v, 0);
  b.writeUInt32BE(v, 4);
  return b;
}

// --- Dates ------------------------------------------------------------------

/** 9.1.5: 7-byte recording date (years since 1900 ... GMT offset 0, in UTC). */
function date7(d: Date): Buffer {
  return Buffer.from([
    d.getUTCFullYear() - 1900, d.getUTCMonth() + 1, d.getUTCDate(),
    d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), 0,
  ]);
}

/** 8.4.26.1: 17-byte volume date "YYYYMMDDHHMMSScc" + GMT offset; null = unset. */
function date17(d: Date | null): Buffer {
  if (!d) return Buffer.concat([Buffer.from("0".repeat(16), "ascii"), Buffer.from([0])]);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const s = p(d.getUTCFullYear(), 4) + p(d.getUTCMonth() + 1) + p(d.getUTCDate()) +
    p(d.getUTCHours()) + p(d.getUTCMinutes()) + p(d.getUTCSeconds()) + "00";
  return Buffer.concat([Buffer.from(s, "ascii"), Buffer.from([0])]);
}

// --- Strings ----------------------------------------------------------------

/** Space-padded a/d-character field (7.4), ASCII. */
function padAscii(s: string, len: number): Buffer {
  return Buffer.from(s.padEnd(len, " "), "ascii");
}

/** UCS-2 big-endian (Joliet), no padding. */
function ucs2(s: string): Buffer {
  const le = Buffer.from(s, "utf16le");
  return Buffer.from(le).swap16();
}

/** Joliet text field: UCS-2 BE padded with U+0020; an odd trailing byte stays 0. */
function padUcs2(s: string, len: number): Buffer {
  const b = Buffer.alloc(len);
  ucs2(s.padEnd(len >> 1, " ")).copy(b);
  return b;
}

// --- Rock Ridge / SUSP entries ----------------------------------------------

/** Generic SUSP entry: 2-char signature, length, version 1 (SUSP 4.1). */
function susp(sig: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(sig, "ascii"), Buffer.from([4 + body.length, 1]), body]);
}

const RR_PX = 0x01, RR_NM = 0x08, RR_TF = 0x80;
const S_IFDIR = 0o040000, S_IFREG = 0o100000;

/** RRIP 1.09 "RR" (which RRIP entries follow), "PX" (36 bytes), "TF", "NM". */
const rrFlags = (flags: number) => susp("RR", Buffer.from([flags]));
const px = (mode: number, nlink: number) =>
  susp("PX", Buffer.concat([both32(mode), both32(nlink), both32(0), both32(0)]));
// TF flags 0x0e: modify + access + attributes-change, 7-byte dates.
const tf = (d: Date) => susp("TF", Buffer.concat([Buffer.from([0x0e]), date7(d), date7(d), date7(d)]));
const nm = (name: string) => susp("NM", Buffer.concat([Buffer.from([0]), Buffer.from(name, "ascii")]));

/** SUSP 5.5 "ER": identifies the extension as RRIP 1.09 (the genisoimage texts). */
function erEntry(): Buffer {
  const id = Buffer.from("RRIP_1991A", "ascii");
  const des = Buffer.from("THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS", "ascii");
  const src = Buffer.from("PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION.", "ascii");
  return susp("ER", Buffer.concat([Buffer.from([id.length, des.length, src.length, 1]), id, des, src]));
}

// --- Directory records (9.1) ------------------------------------------------

function dirRecord(ident: Buffer, extent: number, size: number, isDir: boolean, d: Date, sysUse = Buffer.alloc(0)): Buffer {
  // 9.1.12: a padding byte follows an even-length identifier so the System Use
  // field starts on an even offset; the whole record must be even (9.1.1).
  const head = 33 + ident.length + (ident.length % 2 === 0 ? 1 : 0);
  const len = head + sysUse.length + ((head + sysUse.length) % 2);
  if (len > 255) throw new Error(`iso9660: directory record too long (${len} bytes)`);
  const r = Buffer.alloc(len);
  r[0] = len;
  both32(extent).copy(r, 2);
  both32(size).copy(r, 10);
  date7(d).copy(r, 18);
  r[25] = isDir ? 0x02 : 0x00;
  both16(1).copy(r, 28); // volume sequence number
  r[32] = ident.length;
  ident.copy(r, 33);
  sysUse.copy(r, head);
  return r;
}

/** 6.8.1.1: records may not straddle a sector, so start a new one when needed. */
function packRecords(records: Buffer[]): Buffer {
  const sectors: Buffer[] = [];
  let cur: Buffer[] = [], used = 0;
  for (const r of records) {
    if (used + r.length > SECTOR) { sectors.push(padSector(Buffer.concat(cur))); cur = []; used = 0; }
    cur.push(r); used += r.length;
  }
  sectors.push(padSector(Buffer.concat(cur)));
  return Buffer.concat(sectors);
}

function padSector(b: Buffer): Buffer {
  const n = Math.max(1, Math.ceil(b.length / SECTOR)) * SECTOR;
  return b.length === n ? b : Buffer.concat([b, Buffer.alloc(n - b.length)]);
}

/** 9.4: a path table with only the root (id 0x00, parent 1), L (LE) or M (BE). */
function pathTable(rootExtent: number, bigEndian: boolean): Buffer {
  const b = Buffer.alloc(10);
  b[0] = 1;
  if (bigEndian) { b.writeUInt32BE(rootExtent, 2); b.writeUInt16BE(1, 6); }
  else { b.writeUInt32LE(rootExtent, 2); b.writeUInt16LE(1, 6); }
  return b;
}

// --- Names ------------------------------------------------------------------

/** Level-1 name (7.5.1, 10.1): 8 d-chars "." 3 d-chars; unique. Returns [base, ext]. */
function primaryNames(names: string[]): [string, string][] {
  const used = new Set<string>();
  const clean = (s: string) => s.toUpperCase().replace(/[^A-Z0-9_]/g, "_");
  return names.map((name) => {
    const dot = name.lastIndexOf(".");
    let base = clean(dot > 0 ? name.slice(0, dot) : name).slice(0, 8);
    const ext = dot > 0 ? clean(name.slice(dot + 1)).slice(0, 3) : "";
    // Mangle collisions like genisoimage: replace the tail of the base with a counter.
    for (let n = 0; used.has(`${base}.${ext}`); n++) {
      const tag = String(n).padStart(3, "0");
      base = base.slice(0, 8 - tag.length) + tag;
    }
    used.add(`${base}.${ext}`);
    return [base, ext];
  });
}

/** 9.3: order by name then extension, each as if space-padded (prefix sorts first). */
function cmpPrimary(a: [string, string], b: [string, string]): number {
  const c = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
  return c(a[0], b[0]) || c(a[1], b[1]);
}

function validate(files: IsoFile[], opts: IsoOptions, date: Date): void {
  if (!VOLUME_RE.test(opts.volumeId)) {
    throw new Error(`iso9660: invalid volumeId ${JSON.stringify(opts.volumeId)}: must be 1-16 characters of [A-Za-z0-9_.-] (Joliet limit)`);
  }
  const y = date.getUTCFullYear();
  if (Number.isNaN(date.getTime()) || y < 1900 || y > 2155) {
    throw new Error("iso9660: invalid date: must be a valid Date between 1900 and 2155");
  }
  const seen = new Set<string>();
  for (const f of files) {
    if (typeof f.name !== "string" || f.name.length === 0 || f.name.length > 64) {
      throw new Error(`iso9660: invalid file name ${JSON.stringify(f.name)}: must be 1-64 characters`);
    }
    if (!NAME_RE.test(f.name) || f.name === "." || f.name === "..") {
      throw new Error(`iso9660: invalid file name ${JSON.stringify(f.name)}: only [A-Za-z0-9._-] allowed, and not "." or ".."`);
    }
    if (seen.has(f.name)) throw new Error(`iso9660: duplicate file name ${JSON.stringify(f.name)}`);
    seen.add(f.name);
    if (!Buffer.isBuffer(f.data)) throw new Error(`iso9660: data for ${JSON.stringify(f.name)} must be a Buffer`);
  }
}

// --- Volume descriptors (8.4 primary, 8.5 supplementary / Joliet) ------------

interface VdParams {
  joliet: boolean; volumeId: string; totalSectors: number; rootRecord: Buffer;
  lTable: number; mTable: number; date: Date;
}

function volumeDescriptor(p: VdParams): Buffer {
  const vd = Buffer.alloc(SECTOR);
  const text = (s: string, off: number, len: number) =>
    (p.joliet ? padUcs2(s, len) : padAscii(s, len)).copy(vd, off);
  vd[0] = p.joliet ? 2 : 1;
  vd.write("CD001", 1, "ascii");
  vd[6] = 1; // descriptor version
  text("LINUX", 8, 32); // system identifier (as genisoimage)
  text(p.volumeId, 40, 32);
  both32(p.totalSectors).copy(vd, 80);
  if (p.joliet) vd.write("%/E", 88, "ascii"); // escape sequence: Joliet UCS-2 level 3
  both16(1).copy(vd, 120); // volume set size
  both16(1).copy(vd, 124); // volume sequence number
  both16(SECTOR).copy(vd, 128); // logical block size
  both32(10).copy(vd, 132); // path table size: root entry only
  vd.writeUInt32LE(p.lTable, 140);
  vd.writeUInt32BE(p.mTable, 148);
  p.rootRecord.copy(vd, 156);
  text("", 190, 128); // volume set id
  text("", 318, 128); // publisher id
  text("", 446, 128); // data preparer id
  text("", 574, 128); // application id
  text("", 702, 37); // copyright file id
  text("", 739, 37); // abstract file id
  text("", 776, 37); // bibliographic file id
  date17(p.date).copy(vd, 813); // creation
  date17(p.date).copy(vd, 830); // modification
  date17(null).copy(vd, 847); // expiration: none
  date17(p.date).copy(vd, 864); // effective
  vd[881] = 1; // file structure version
  return vd;
}

// --- Image assembly -----------------------------------------------------------

export function buildIso(files: IsoFile[], opts: IsoOptions): Buffer {
  const date = opts.date ?? DEFAULT_DATE;
  validate(files, opts, date);

  // Sort by real name (UCS-2 code-unit order, which is also Joliet's 9.3 order)
  // so the caller's ordering never changes the bytes.
  const sorted = [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const iso = primaryNames(sorted.map((f) => f.name));
  const primaryOrder = sorted.map((_, i) => i).sort((a, b) => cmpPrimary(iso[a], iso[b]));

  const none = Buffer.alloc(0);
  const er = erEntry();
  // SUSP 5.3: SP must open the System Use field of the root "." record; the ER
  // entry does not fit in a 255-byte record, so it goes to a continuation
  // area (CE, SUSP 5.1) in its own sector, as genisoimage does.
  const sp = susp("SP", Buffer.from([0xbe, 0xef, 0]));
  const dirUse = (ce: Buffer) =>
    Buffer.concat([ce.length ? sp : none, rrFlags(RR_PX | RR_TF), px(S_IFDIR | 0o555, 2), tf(date), ce]);
  const fileUse = (name: string) =>
    Buffer.concat([rrFlags(RR_PX | RR_NM | RR_TF), nm(name), px(S_IFREG | 0o444, 1), tf(date)]);
  // Empty files get extent 0 (they own no sectors).
  const at = (ext: number[], i: number) => (sorted[i].data.length ? ext[i] : 0);

  // Root directory contents for each tree (9.1; "." = 0x00, ".." = 0x01, 6.8.2.2).
  const primaryDir = (self: number, size: number, ceSector: number, ext: number[]) => packRecords([
    dirRecord(Buffer.from([0]), self, size, true, date,
      dirUse(susp("CE", Buffer.concat([both32(ceSector), both32(0), both32(er.length)])))),
    dirRecord(Buffer.from([1]), self, size, true, date, dirUse(none)),
    ...primaryOrder.map((i) => dirRecord(Buffer.from(`${iso[i][0]}.${iso[i][1]};1`, "ascii"),
      at(ext, i), sorted[i].data.length, false, date, fileUse(sorted[i].name))),
  ]);
  // Joliet names carry no ";1" version, like genisoimage.
  const jolietDir = (self: number, size: number, ext: number[]) => packRecords([
    dirRecord(Buffer.from([0]), self, size, true, date),
    dirRecord(Buffer.from([1]), self, size, true, date),
    ...sorted.map((f, i) => dirRecord(ucs2(f.name), at(ext, i), f.data.length, false, date)),
  ]);

  // Layout: 0-15 system area, 16 PVD, 17 Joliet SVD, 18 terminator, 19-22 path
  // tables (primary L/M, Joliet L/M), primary root, CE area, Joliet root, data.
  // Directory sizes depend only on record lengths, so measure with dummy extents.
  const zeros = sorted.map(() => 0);
  const sizeP = primaryDir(0, 0, 0, zeros).length;
  const sizeJ = jolietDir(0, 0, zeros).length;
  const rootP = 23;
  const ceSector = rootP + sizeP / SECTOR;
  const rootJ = ceSector + 1;
  let next = rootJ + sizeJ / SECTOR;
  const extents = sorted.map((f) => {
    const start = next;
    next += Math.ceil(f.data.length / SECTOR);
    return start;
  });
  if (next * SECTOR > 0xffffffff) throw new Error("iso9660: image would exceed 4 GiB");

  const img = Buffer.alloc(next * SECTOR);
  // The root record embedded in a descriptor is a plain 34-byte record (8.4.18).
  const vd = (joliet: boolean, root: number, size: number, pt: number) => volumeDescriptor({
    joliet, volumeId: opts.volumeId, totalSectors: next, date, lTable: pt, mTable: pt + 1,
    rootRecord: dirRecord(Buffer.from([0]), root, size, true, date),
  });
  vd(false, rootP, sizeP, 19).copy(img, 16 * SECTOR);
  vd(true, rootJ, sizeJ, 21).copy(img, 17 * SECTOR);
  Buffer.from("\xffCD001\x01", "latin1").copy(img, 18 * SECTOR); // 8.3 set terminator
  pathTable(rootP, false).copy(img, 19 * SECTOR);
  pathTable(rootP, true).copy(img, 20 * SECTOR);
  pathTable(rootJ, false).copy(img, 21 * SECTOR);
  pathTable(rootJ, true).copy(img, 22 * SECTOR);
  primaryDir(rootP, sizeP, ceSector, extents).copy(img, rootP * SECTOR);
  er.copy(img, ceSector * SECTOR);
  jolietDir(rootJ, sizeJ, extents).copy(img, rootJ * SECTOR);
  sorted.forEach((f, i) => f.data.copy(img, extents[i] * SECTOR));
  return img;
}
