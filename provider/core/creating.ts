/**
 * The create journal: what a create of the plugin was making when pulumi may have died.
 *
 * The engine records an object only after Create returns. If pulumi is killed between libvirt
 * making the object and the engine writing its state, the next run creates it again and finds
 * a name that "already exists", an object no state holds. Before each create the plugin notes
 * the resource's URN, host and the names it is about to use; the note goes when the engine shows
 * the resource is in the state (it diffs, reads, updates or deletes it) or when the create
 * failed and cleaned up. A later create of the same URN that finds its note finds its own
 * leftover, never recorded anywhere, and removes it before creating again. Objects without such
 * a note (someone else's, or made on another machine) are never touched.
 *
 * Only names are written (no inputs: they may hold secrets), and the facts a create records as
 * it goes that libvirt cannot tell later (a pool's storage built by it), under the user's state
 * directory.
 */
import { createHash } from "crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "fs";
import { homedir } from "os";
import { join } from "path";

const dir = () =>
  process.env.PULUMI_LIBVIRT_JOURNAL_DIR ??
  join(process.env.XDG_STATE_HOME ?? join(homedir(), ".local", "state"), "pulumi-libvirt", "creating");

const hash = (s: string) => createHash("sha256").update(s).digest("hex");
const fileOf = (owner: string) => join(dir(), `${hash(owner).slice(0, 32)}.json`);

interface Note {
  owner: string;
  /** A hash of the host URI (which may carry a password). */
  host: string;
  names: Record<string, string>;
  /** Facts the create noted as it went (see ResourceSpec.create's facts), for removing its leftover. */
  facts?: Record<string, unknown>;
}

function write(note: Note): void {
  mkdirSync(dir(), { recursive: true, mode: 0o700 });
  const file = fileOf(note.owner);
  writeFileSync(`${file}.tmp`, JSON.stringify(note), { mode: 0o600 });
  renameSync(`${file}.tmp`, file); // never a half-written note
}

function readNote(owner: string): Note | undefined {
  try {
    const note = JSON.parse(readFileSync(fileOf(owner), "utf8")) as Note;
    return note.owner === owner ? note : undefined;
  } catch {
    return undefined;
  }
}

/** Note that `owner` is about to create the object these names identify on `uri`. */
export function noteCreating(owner: string, uri: string, names: Record<string, string>): void {
  write({ owner, host: hash(uri), names });
}

/** Add facts to `owner`'s note, before the step they describe (a kill may follow at once). */
export function noteFacts(owner: string, facts: Record<string, unknown>): void {
  const note = readNote(owner);
  if (note) write({ ...note, facts: { ...note.facts, ...facts } });
}

/** The names and facts of an unfinished create of `owner` on `uri`, if one is noted. */
export function unfinishedCreate(owner: string, uri: string): { names: Record<string, string>; facts: Record<string, unknown> } | undefined {
  const note = readNote(owner);
  return note && note.host === hash(uri) ? { names: note.names, facts: note.facts ?? {} } : undefined;
}

/** The resource is in the state (or its create cleaned up after itself): forget the note. */
export function settled(owner: string): void {
  rmSync(fileOf(owner), { force: true });
}
