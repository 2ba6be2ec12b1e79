/**
 * libvirt connection URIs: driver[+transport]://[user@][host][:port]/path[?param=value...]
 * (https://libvirt.org/uri.html). Parameters meant for the client (how to reach the daemon)
 * are split from the name sent to the daemon in CONNECT_OPEN, as libvirt's remote driver does.
 */
import { ErrorCode, LibvirtError } from "./errors";

export type Transport = "unix" | "ssh" | "tls" | "tcp" | "ext";

/** Query parameters the remote driver consumes itself; they never reach the daemon. */
const CLIENT_PARAMS = new Set([
  "name", "command", "socket", "auth", "netcat", "keyfile", "sshauth", "no_verify", "no_tty",
  "pkipath", "known_hosts", "known_hosts_verify", "tls_priority", "mode", "proxy", "no_sanity", "authfile",
]);

export interface LibvirtUri {
  /** The URI as given, except that a password in the user part reads "***" (safe for messages). */
  readonly text: string;
  readonly driver: string;
  readonly transport: Transport;
  /** The user name, without a password: "user:pw@" is accepted, the password never used or kept. */
  readonly user?: string;
  readonly host?: string;
  readonly port?: number;
  /** "/system", "/session", ... */
  readonly path: string;
  readonly params: ReadonlyMap<string, string>;
  /** What CONNECT_OPEN receives: the URI without transport, host and client-only parameters. */
  readonly remoteName: string;
}

export const DEFAULT_URI = "qemu:///system";

/** The URI to use when the caller gave none: LIBVIRT_DEFAULT_URI, then qemu:///system. */
export function defaultUri(env: NodeJS.ProcessEnv = process.env): string {
  return env.LIBVIRT_DEFAULT_URI || DEFAULT_URI;
}

/**
 * The URI with a password in its user part ("qemu+ssh://user:pw@host/...") replaced by "***":
 * the only form of a URI that may appear in messages, logs or outputs.
 */
export function redactUri(text: string): string {
  return text.replace(/^([^:/?#]*:\/\/[^@/?:]*):[^@/?]*@/, "$1:***@");
}

export function parseUri(given: string): LibvirtUri {
  const text = redactUri(given);
  const m = /^([a-z][a-z0-9]*)(?:\+([a-z0-9]+))?:\/\/(?:([^@/?]*)@)?(\[[^\]]+\]|[^:/?]*)(?::(\d+))?(\/[^?]*)?(?:\?(.*))?$/i.exec(given);
  if (!m) {
    throw new LibvirtError(
      `invalid libvirt URI "${text}": expected driver[+transport]://[user@][host][:port]/path, e.g. qemu:///system or qemu+ssh://root@host/system`,
      ErrorCode.INVALID_ARG,
    );
  }
  const [, driver, transportText, user, hostText, portText, pathText, query] = m;
  const host = hostText ? hostText.replace(/^\[|\]$/g, "") : undefined;
  const transport = (transportText?.toLowerCase() ?? (host ? "tls" : "unix")) as Transport;
  if (!["unix", "ssh", "tls", "tcp", "ext"].includes(transport)) {
    throw new LibvirtError(`unsupported transport "${transportText}" in "${text}": use unix, ssh, tls or tcp`, ErrorCode.INVALID_ARG);
  }
  if (transport === "unix" && host) {
    throw new LibvirtError(`"${text}" names a host, but the unix transport reaches only this machine: use qemu+ssh://${host}/... or qemu+tls://${host}/...`, ErrorCode.INVALID_ARG);
  }
  const port = portText ? Number(portText) : undefined;
  if (port !== undefined && (port < 1 || port > 65535)) {
    throw new LibvirtError(`invalid port ${portText} in libvirt URI "${text}": expected 1..65535`, ErrorCode.INVALID_ARG);
  }
  const params = new Map<string, string>();
  const forDaemon: string[] = [];
  for (const part of (query ?? "").split("&").filter(Boolean)) {
    const eq = part.indexOf("=");
    const key = unescapeParam(eq < 0 ? part : part.slice(0, eq), text);
    const value = eq < 0 ? "" : unescapeParam(part.slice(eq + 1), text);
    params.set(key, value);
    if (!CLIENT_PARAMS.has(key)) forDaemon.push(part);
  }
  const path = pathText || "/";
  const remoteName = params.get("name") ?? `${driver}://${path}${forDaemon.length ? "?" + forDaemon.join("&") : ""}`;
  return {
    text, driver: driver.toLowerCase(), transport, user: user?.split(":")[0] || undefined, host,
    port, path, params, remoteName,
  };
}

/** decodeURIComponent, but a malformed %-escape is a LibvirtError naming the URI, not a URIError. */
function unescapeParam(s: string, text: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new LibvirtError(`invalid libvirt URI "${text}": malformed %-escape in "${s}"`, ErrorCode.INVALID_ARG);
  }
}

/** libvirt's boolean URI parameters are "1"/"0". */
export function flagParam(uri: LibvirtUri, name: string): boolean {
  return uri.params.get(name) === "1";
}
