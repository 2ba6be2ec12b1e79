/**
 * How long a client takes to declare a silent daemon dead: ours and libvirt's C client (through
 * bench/reference.py), each connected through a proxy to the daemon that stops forwarding, so
 * the socket stays open and nothing answers. A proxy rather than SIGSTOP on libvirtd: nothing
 * else on the host sees the daemon freeze. (connection.int.test.ts checks the behaviour with a
 * real frozen daemon; the timing lives here.)
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createConnection, createServer, Server, Socket } from "node:net";
import { rmSync } from "node:fs";
import { Libvirt } from "../provider/libvirt/client";

export const KEEPALIVE = { interval: 1, count: 2 };

/** A unix-socket proxy to libvirtd's socket; freeze() stops it forwarding, both ways. */
class FreezableProxy {
  readonly path = `/tmp/bench-keepalive-${randomBytes(4).toString("hex")}.sock`;
  private frozen = false;
  private readonly sockets: Socket[] = [];
  private server?: Server;

  constructor(private readonly target: string) {}

  uri(): string {
    return `qemu+unix:///system?socket=${this.path}`;
  }

  async listen(): Promise<void> {
    this.server = createServer((client) => {
      const daemon = createConnection(this.target);
      this.sockets.push(client, daemon);
      client.on("data", (d) => this.frozen || daemon.write(d));
      daemon.on("data", (d) => this.frozen || client.write(d));
      for (const [a, b] of [[client, daemon], [daemon, client]]) {
        a.on("error", () => b.destroy());
        a.on("close", () => b.destroy());
      }
    });
    await new Promise<void>((resolve, reject) => this.server!.once("error", reject).listen(this.path, resolve));
  }

  freeze(): void {
    this.frozen = true;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server?.close(r));
    rmSync(this.path, { force: true });
  }
}

function seconds(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function ours(target: string): Promise<number> {
  const proxy = new FreezableProxy(target);
  await proxy.listen();
  try {
    const lv = await Libvirt.connect(proxy.uri(), { keepaliveInterval: KEEPALIVE.interval, keepaliveCount: KEEPALIVE.count });
    const closed = new Promise((resolve) => lv.rpc.once("closed", resolve));
    proxy.freeze();
    const t0 = process.hrtime.bigint();
    await closed;
    return seconds(t0);
  } finally {
    await proxy.close();
  }
}

/** reference.py connects, says "ready", starts its clock on our "frozen", and prints the seconds to its close callback. */
async function reference(python: string, script: string, target: string): Promise<number> {
  const proxy = new FreezableProxy(target);
  await proxy.listen();
  try {
    const child = spawn(python, [script, "keepalive", proxy.uri(), "-", String(KEEPALIVE.interval), String(KEEPALIVE.count)], { stdio: ["pipe", "pipe", "inherit"] });
    let out = "";
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.startsWith("ready\n")) resolve();
      });
      child.once("close", () => reject(new Error(`reference.py keepalive exited before it was ready: ${out}`)));
    });
    proxy.freeze();
    child.stdin!.end("frozen\n");
    const code = await exited;
    if (code !== 0) throw new Error(`reference.py keepalive exited with ${code}: ${out}`);
    return JSON.parse(out.slice("ready\n".length)).seconds;
  } finally {
    await proxy.close();
  }
}

/** Seconds from the freeze to the close, for each side, one round. */
export async function keepaliveRound(python: string, script: string, target = "/var/run/libvirt/libvirt-sock"): Promise<{ ours: number; c: number }> {
  return { ours: await ours(target), c: await reference(python, script, target) };
}
