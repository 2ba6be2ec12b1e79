/**
 * The one error type of the client. Errors the daemon sends back and errors the client detects
 * itself (bad packets, a closed socket, an unreachable daemon) are all LibvirtError, so callers
 * need a single `instanceof` and can branch on libvirt's own error codes.
 */

/** virErrorNumber values (include/libvirt/virterror.h) that callers branch on. */
export const ErrorCode = {
  INTERNAL_ERROR: 1,
  NO_SUPPORT: 3,
  NO_CONNECT: 5,
  INVALID_ARG: 8,
  OPERATION_FAILED: 9,
  XML_ERROR: 27,
  DOM_EXIST: 28,
  NETWORK_EXIST: 37,
  SYSTEM_ERROR: 38,
  RPC: 39,
  NO_DOMAIN: 42,
  NO_NETWORK: 43,
  AUTH_FAILED: 45,
  NO_STORAGE_POOL: 49,
  NO_STORAGE_VOL: 50,
  OPERATION_INVALID: 55,
  CONFIG_UNSUPPORTED: 67,
  OPERATION_TIMEOUT: 68,
  NO_DOMAIN_SNAPSHOT: 72,
  OPERATION_ABORTED: 78,
  OPERATION_UNSUPPORTED: 84,
  AGENT_UNRESPONSIVE: 86,
  RESOURCE_BUSY: 87,
  STORAGE_VOL_EXIST: 90,
  AUTH_UNAVAILABLE: 94,
} as const;

/** virErrorDomain values for errors raised on this side of the socket. */
export const ErrorDomain = { NONE: 0, RPC: 7, REMOTE: 13, STREAMS: 38 } as const;

const NOT_FOUND = new Set<number>([
  ErrorCode.NO_DOMAIN,
  ErrorCode.NO_NETWORK,
  ErrorCode.NO_STORAGE_POOL,
  ErrorCode.NO_STORAGE_VOL,
  ErrorCode.NO_DOMAIN_SNAPSHOT,
]);

export class LibvirtError extends Error {
  override readonly name: string = "LibvirtError";
  constructor(
    message: string,
    readonly code: number = ErrorCode.INTERNAL_ERROR,
    readonly domain: number = ErrorDomain.NONE,
  ) {
    super(message);
  }
}

/**
 * Bytes that break the protocol: a reply or frame that does not decode, an oversized packet.
 * The link is fine (or was): the same call gets the same bytes, so it is never retried.
 */
export class ProtocolError extends LibvirtError {
  override readonly name = "ProtocolError";
  constructor(readonly detail: string) {
    super(`libvirt protocol error: ${detail}`, ErrorCode.RPC, ErrorDomain.RPC);
  }
}

export function isLibvirtError(e: unknown, code?: number): e is LibvirtError {
  return e instanceof LibvirtError && (code === undefined || e.code === code);
}

/** The object looked up (domain, network, pool, volume, snapshot) does not exist. */
export function isNotFound(e: unknown): boolean {
  return e instanceof LibvirtError && NOT_FOUND.has(e.code);
}

/** The connection itself failed: the caller should reconnect rather than retry the call. */
/** fn's result, or undefined when libvirt says the object does not exist. */
export async function unlessNotFound<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

export function isConnectionLost(e: unknown): boolean {
  return e instanceof LibvirtError && !(e instanceof ProtocolError) && (e.code === ErrorCode.NO_CONNECT || e.code === ErrorCode.RPC);
}

/** No usable answer came back (the connection failed or the reply did not decode): never a verdict on the request. */
export function isNoAnswer(e: unknown): boolean {
  return e instanceof ProtocolError || isConnectionLost(e);
}
