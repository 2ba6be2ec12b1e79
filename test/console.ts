/** A test guest's serial log (console type file, appended across restarts and migrations). */
import { readFileSync } from "node:fs";
import { sleep } from "./util";

/** Poll fn until it returns a value (not undefined or false), failing after timeoutMs. */
export async function poll<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 120_000, everyMs = 500): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

export class Console {
  constructor(readonly path: string) {}
  text(): string {
    try {
      return readFileSync(this.path, "utf8").replace(/\r/g, "");
    } catch {
      return "";
    }
  }
  mark(): number {
    return this.text().length;
  }
  async wait(re: RegExp, from = 0, timeoutMs = 150_000): Promise<RegExpMatchArray> {
    try {
      return await poll(`${re} on the console`, () => this.text().slice(from).match(re) ?? undefined, timeoutMs, 250);
    } catch (e) {
      throw new Error(`${(e as Error).message}; console since the mark:\n${this.text().slice(from).slice(-2000)}`);
    }
  }
}
