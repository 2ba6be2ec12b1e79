/**
 * Progress lines for long work. In a dynamic provider pulumi.log goes nowhere, but the
 * process's stderr reaches the user's terminal, so progress is written there, one line each.
 */
import { formatSize } from "./units";

let sink: (line: string) => void = (line) => process.stderr.write(`pulumi-libvirt: ${line}\n`);

export function progress(line: string): void {
  sink(line);
}

/** Tests capture progress instead of printing it. Returns the previous sink. */
export function setProgressSink(next: (line: string) => void): (line: string) => void {
  const prev = sink;
  sink = next;
  return prev;
}

/** Reports bytes done, total and rate at most every intervalMs, plus a final line. */
export function transferProgress(what: string, total: number | undefined, intervalMs = 5000): { update(done: number): void; finish(done: number): void } {
  const start = Date.now();
  let last = start;
  const line = (done: number) => {
    const secs = Math.max((Date.now() - start) / 1000, 0.001);
    const rate = `${(done / secs / 1024 ** 2).toFixed(1)} MiB/s`;
    const of = total ? ` of ${formatSize(total)} (${Math.floor((done / total) * 100)}%)` : "";
    progress(`${what}: ${formatSize(done)}${of}, ${rate}`);
  };
  return {
    update(done) {
      if (Date.now() - last >= intervalMs) {
        last = Date.now();
        line(done);
      }
    },
    finish(done) {
      if (Date.now() - start >= 1000) line(done);
    },
  };
}
