/**
 * qemu+tcp://host[:port]/system: plain TCP to the daemon's tcp port (16509), for daemons
 * configured with listen_tcp = 1. Nothing is encrypted or authenticated by the transport: the
 * daemon normally demands SASL there (auth_tcp = "sasl"), which this client does not implement,
 * so only auth_tcp = "none" daemons on trusted networks are reachable this way.
 *
 * Also home of two helpers the other network transports share: formatting host:port, and
 * reading an exact number of bytes before the stream is handed to the RPC layer.
 */
import { connect, isIPv6, Socket } from "node:net";
import type { Readable } from "node:stream";
import { ErrorCode, ErrorDomain, LibvirtError } from "../errors";
import type { LibvirtUri } from "../uri";
import type { Dialed } from "./index";

export const TCP_PORT = 16509;

/** "host:port", with IPv6 literals in brackets. */
export function hostPort(host: string, port: number): string {
  return `${isIPv6(host) ? `[${host}]` : host}:${port}`;
}

/**
 * Resolve with exactly n bytes from a readable, leaving everything after them buffered in the
 * stream for whoever reads next (the RPC connection). Rejects with ended() when the stream ends
 * or closes first, and with the stream's own error (passed to failed()) when it errors.
 *
 * Uses 'readable' and read(n), never 'data': once the 'readable' listener is removed the stream
 * goes back to its initial mode, so the next 'data' listener starts the flow as usual.
 */
export function readExactly(stream: Readable, n: number, ended: () => Error, failed: (e: Error) => Error = (e) => e): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      stream.off("readable", onReadable);
      stream.off("end", onEnd);
      stream.off("close", onEnd);
      stream.off("error", onError);
    };
    const onReadable = () => {
      const chunk: Buffer | null = stream.read(n);
      if (chunk === null) return;
      if (chunk.length < n) {
        // read() hands out a short tail only once the stream has ended.
        cleanup();
        reject(ended());
        return;
      }
      cleanup();
      resolve(chunk);
    };
    const onEnd = () => {
      cleanup();
      reject(ended());
    };
    const onError = (e: Error) => {
      cleanup();
      reject(failed(e));
    };
    stream.on("readable", onReadable);
    stream.once("end", onEnd);
    stream.once("close", onEnd);
    stream.once("error", onError);
  });
}

const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: "connection refused (nothing listens on that port)",
  ENOTFOUND: "host name not found",
  EAI_AGAIN: "host name lookup failed (temporary DNS failure)",
  ETIMEDOUT: "timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ECONNRESET: "connection reset by the peer",
};

/** "connection refused (ECONNREFUSED)" rather than Node's "connect ECONNREFUSED 1.2.3.4:5". */
export function networkError(e: NodeJS.ErrnoException): string {
  return e.code && NETWORK_ERRORS[e.code] ? `${NETWORK_ERRORS[e.code]} (${e.code})` : e.message;
}

/** Open a TCP connection; the error names the address and says what usually listens there. */
export function connectTcp(host: string, port: number, what: string, fix: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const onError = (e: NodeJS.ErrnoException) => {
      socket.destroy();
      reject(new LibvirtError(
        `cannot connect to ${what} at ${hostPort(host, port)}: ${networkError(e)}. To fix: ${fix}`,
        ErrorCode.NO_CONNECT, ErrorDomain.RPC,
      ));
    };
    socket.once("error", onError);
    socket.once("connect", () => {
      socket.off("error", onError);
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 30_000);
      resolve(socket);
    });
  });
}

export async function dialTcp(uri: LibvirtUri): Promise<Dialed> {
  const host = uri.host ?? "localhost";
  const port = uri.port ?? TCP_PORT;
  const socket = await connectTcp(host, port, `the libvirt daemon's tcp port for ${uri.text}`,
    `run the daemon with \`--listen\` and listen_tcp = 1 in libvirtd.conf (or enable libvirtd-tcp.socket / virtproxyd-tcp.socket), check host and port and any firewall; prefer qemu+ssh:// or qemu+tls://, tcp is unencrypted`);
  return { socket, peer: `tcp ${hostPort(host, port)}` };
}
