/**
 * Dialers: one per transport, each turning a parsed URI into a connected byte stream. The RPC
 * layer above never knows which one it got.
 */
import type { Duplex } from "node:stream";
import { ErrorCode, LibvirtError } from "../errors";
import type { LibvirtUri, Transport } from "../uri";
import { dialSsh } from "./ssh";
import { dialTcp } from "./tcp";
import { dialTls } from "./tls";
import { dialUnix } from "./unix";

export interface Dialed {
  socket: Duplex;
  /** How the daemon was reached, for errors and `doctor`: "unix socket /var/run/libvirt/libvirt-sock". */
  peer: string;
}

export type Dialer = (uri: LibvirtUri, readOnly: boolean) => Promise<Dialed>;

const dialers: Partial<Record<Transport, Dialer>> = {
  unix: dialUnix,
  ssh: dialSsh,
  tls: dialTls,
  tcp: dialTcp,
};

export function dial(uri: LibvirtUri, readOnly: boolean): Promise<Dialed> {
  const dialer = dialers[uri.transport];
  if (!dialer) {
    return Promise.reject(new LibvirtError(
      `the ${uri.transport} transport (${uri.text}) is not supported: use unix, ssh, tls or tcp`,
      ErrorCode.NO_SUPPORT,
    ));
  }
  return dialer(uri, readOnly);
}
