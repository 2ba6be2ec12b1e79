/**
 * The local transport: a unix socket to the system daemon, or to the per-user session daemon,
 * which is started on demand as libvirt's own client does.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { connect, Socket } from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";
import { ErrorCode, ErrorDomain, LibvirtError } from "../errors";
import type { LibvirtUri } from "../uri";
import type { Dialed } from "./index";

const RUN_DIR = "/var/run/libvirt";

/** Candidate sockets, most specific first: the modular per-driver daemon, then libvirtd. */
export function socketCandidates(uri: LibvirtUri, readOnly: boolean, env = process.env): string[] {
  const explicit = uri.params.get("socket");
  if (explicit) return [explicit];
  const modular = `virt${uri.driver === "qemu" ? "qemu" : uri.driver}d`;
  if (uri.path === "/session") {
    const dir = env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, "libvirt") : join(homedir(), ".cache", "libvirt");
    return [join(dir, `${modular}-sock`), join(dir, "libvirt-sock")];
  }
  const suffix = readOnly ? "sock-ro" : "sock";
  return [join(RUN_DIR, `${modular}-${suffix}`), join(RUN_DIR, `libvirt-${suffix}`)];
}

function connectTo(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.once("connect", () => {
      s.off("error", reject);
      resolve(s);
    });
    s.once("error", reject);
  });
}

async function firstReachable(paths: string[]): Promise<{ socket?: Socket; path?: string; tried: string[] }> {
  const tried: string[] = [];
  for (const path of paths) {
    if (!existsSync(path)) {
      tried.push(`${path} (absent)`);
      continue;
    }
    try {
      return { socket: await connectTo(path), path, tried };
    } catch (e) {
      tried.push(`${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  return { tried };
}

/** Start the session daemon the way libvirt does: it exits by itself after 120 s idle. */
function startSessionDaemon(): void {
  const binary = ["/usr/sbin/virtqemud", "/usr/sbin/libvirtd"].find(existsSync);
  if (!binary) return;
  spawn(binary, ["--timeout=120"], { detached: true, stdio: "ignore" }).unref();
}

export async function dialUnix(uri: LibvirtUri, readOnly: boolean): Promise<Dialed> {
  const candidates = socketCandidates(uri, readOnly);
  let { socket, path, tried } = await firstReachable(candidates);
  if (!socket && uri.path === "/session" && !uri.params.has("socket")) {
    startSessionDaemon();
    for (let i = 0; i < 50 && !socket; i++) {
      await new Promise((r) => setTimeout(r, 100));
      ({ socket, path } = await firstReachable(candidates));
    }
  }
  if (!socket) {
    const fix = uri.path === "/session"
      ? "start the session daemon (virtqemud --timeout=120 or libvirtd --timeout=120) as this user"
      : "start the daemon: `systemctl start libvirtd` (or virtqemud.socket), or `libvirtd -d` where there is no systemd; check that this user may open the socket (root, or the libvirt group)";
    throw new LibvirtError(
      `cannot connect to libvirt at ${uri.text}: tried ${tried.join(", ")}. To fix: ${fix}`,
      ErrorCode.NO_CONNECT,
      ErrorDomain.RPC,
    );
  }
  return { socket, peer: `unix socket ${path}` };
}
