/**
 * qemu+tls://host[:port]/system (and qemu://host/system, where tls is the default): TLS to the
 * daemon's tls port (16514) with libvirt's own PKI file layout, then the one confirmation byte
 * the daemon sends once it has checked our certificate. As libvirt's client does:
 *
 * - files: pkipath=DIR/{cacert,cacrl,clientcert,clientkey}.pem when given; otherwise root uses
 *   /etc/pki/CA/cacert.pem, /etc/pki/CA/cacrl.pem, /etc/pki/libvirt/clientcert.pem and
 *   /etc/pki/libvirt/private/clientkey.pem, and other users ~/.pki/libvirt/ first, falling back
 *   to those system files one by one (certificate and key as a pair);
 * - the CA certificate is required, the CRL is used when present, the client certificate and key
 *   are sent when both exist (the daemon decides whether it needs them);
 * - the server's certificate chain and its name (the URI's host against the SAN) are verified
 *   unless no_verify=1, which skips exactly that check and nothing else;
 * - after the handshake the daemon sends byte 1 if it accepts us, or closes the connection.
 */
import { existsSync, readFileSync } from "node:fs";
import { isIP, Socket } from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect, ConnectionOptions, createSecureContext, SecureContext, TLSSocket } from "node:tls";
import { ErrorCode, ErrorDomain, LibvirtError } from "../errors";
import { flagParam, LibvirtUri } from "../uri";
import type { Dialed } from "./index";
import { connectTcp, hostPort, readExactly } from "./tcp";

export const TLS_PORT = 16514;

export interface PkiFiles {
  cacert: string;
  cacrl: string;
  cert: string;
  key: string;
}

const SYSTEM_PKI: PkiFiles = {
  cacert: "/etc/pki/CA/cacert.pem",
  cacrl: "/etc/pki/CA/cacrl.pem",
  cert: "/etc/pki/libvirt/clientcert.pem",
  key: "/etc/pki/libvirt/private/clientkey.pem",
};

/** Where libvirt's client looks for its CA, CRL, certificate and key (virNetTLSContextLocateCredentials). */
export function pkiFiles(uri: LibvirtUri, uid = process.getuid?.() ?? 0, home = homedir(), exists: (p: string) => boolean = existsSync): PkiFiles {
  const pkipath = uri.params.get("pkipath");
  const inDir = (dir: string): PkiFiles => ({
    cacert: join(dir, "cacert.pem"), cacrl: join(dir, "cacrl.pem"), cert: join(dir, "clientcert.pem"), key: join(dir, "clientkey.pem"),
  });
  // An explicit path is used whether or not the files exist there.
  if (pkipath) return inDir(pkipath);
  if (uid === 0) return { ...SYSTEM_PKI };
  const user = inDir(join(home, ".pki", "libvirt"));
  const pair = exists(user.cert) && exists(user.key);
  return {
    cacert: exists(user.cacert) ? user.cacert : SYSTEM_PKI.cacert,
    cacrl: exists(user.cacrl) ? user.cacrl : SYSTEM_PKI.cacrl,
    cert: pair ? user.cert : SYSTEM_PKI.cert,
    key: pair ? user.key : SYSTEM_PKI.key,
  };
}

const PKI_FIX = "pass pkipath=DIR naming a directory with cacert.pem (the CA that signed the daemon's certificate), clientcert.pem and clientkey.pem, or install them where libvirt looks: /etc/pki/CA/cacert.pem, /etc/pki/libvirt/clientcert.pem and /etc/pki/libvirt/private/clientkey.pem for root, ~/.pki/libvirt/ for other users (https://libvirt.org/kbase/tlscerts.html)";

function readPki(uri: LibvirtUri, path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new LibvirtError(`cannot read the TLS ${what} ${path} for ${uri.text}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}. To fix: ${PKI_FIX}`,
      ErrorCode.SYSTEM_ERROR, ErrorDomain.RPC);
  }
}

/** OpenSSL's verdicts on the server's certificate (as opposed to a broken handshake). */
const CERT_ERROR = /CERT|ISSUER|SIGNATURE|ALTNAME|CRL|SELF_SIGNED|CHAIN|UNTRUSTED|REJECTED|PURPOSE/;

function handshake(socket: Socket, opts: ConnectionOptions): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    let tls: TLSSocket;
    try {
      tls = tlsConnect({ ...opts, socket });
    } catch (e) {
      // Unusable key or certificate material (an encrypted key, a PEM that is not one).
      socket.destroy();
      reject(e);
      return;
    }
    const onError = (e: Error) => {
      tls.destroy();
      socket.destroy();
      reject(e);
    };
    tls.once("error", onError);
    tls.once("secureConnect", () => {
      tls.off("error", onError);
      resolve(tls);
    });
  });
}

export async function dialTls(uri: LibvirtUri): Promise<Dialed> {
  const host = uri.host ?? "localhost";
  const port = uri.port ?? TLS_PORT;
  const where = hostPort(host, port);
  const verify = !flagParam(uri, "no_verify");
  const files = pkiFiles(uri);
  const ca = readPki(uri, files.cacert, "CA certificate");
  const crl = existsSync(files.cacrl) ? readPki(uri, files.cacrl, "certificate revocation list") : undefined;
  const clientCert = existsSync(files.cert) && existsSync(files.key);
  const cert = clientCert ? readPki(uri, files.cert, "client certificate") : undefined;
  const key = clientCert ? readPki(uri, files.key, "client key") : undefined;
  let secureContext: SecureContext;
  try {
    secureContext = createSecureContext({ ca, crl, cert, key });
  } catch (e) {
    throw new LibvirtError(
      `cannot use the TLS files for ${uri.text} (${[files.cacert, ...(crl ? [files.cacrl] : []), ...(clientCert ? [files.cert, files.key] : [])].join(", ")}): ${(e as Error).message}. ` +
      "To fix: they must be PEM files, the key unencrypted and matching the certificate",
      ErrorCode.SYSTEM_ERROR, ErrorDomain.RPC,
    );
  }

  const tcp = await connectTcp(host, port, `the libvirt daemon's TLS port for ${uri.text}`,
    "run the daemon with `--listen` and listen_tls = 1 in libvirtd.conf (or enable libvirtd-tls.socket / virtproxyd-tls.socket); check host, port and any firewall");
  let tls: TLSSocket;
  try {
    tls = await handshake(tcp, {
      host, secureContext,
      // An IP address is not a valid SNI name; the identity check still matches it against IP SANs.
      servername: isIP(host) ? undefined : host,
      rejectUnauthorized: verify,
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code && CERT_ERROR.test(err.code)) {
      throw new LibvirtError(
        `the TLS certificate of the libvirt daemon at ${where} (${uri.text}) failed verification: ${err.message} (${err.code}; trusted CA: ${files.cacert}). ` +
        `To fix: make ${files.cacert} the CA certificate that signed the daemon's certificate (or pass pkipath=DIR), and make sure that certificate names "${host}" in its subjectAltName; ` +
        "no_verify=1 skips this check, which lets anyone on the path impersonate the daemon",
        ErrorCode.AUTH_FAILED, ErrorDomain.RPC,
      );
    }
    throw new LibvirtError(
      `TLS handshake with the libvirt daemon at ${where} (${uri.text}) failed: ${err.message}${err.code ? ` (${err.code})` : ""}. ` +
      `To fix: check that ${where} is the daemon's TLS port (listen_tls, tls_port; the tcp port 16509 is plaintext) and that its certificates are valid`,
      ErrorCode.AUTH_FAILED, ErrorDomain.RPC,
    );
  }

  const missing = [files.cert, files.key].filter((p) => !existsSync(p));
  const refused = (detail: string) => new LibvirtError(
    `the libvirt daemon at ${where} (${uri.text}) refused this client after the TLS handshake (${detail}): ` +
    (clientCert
      ? `it did not accept the client certificate ${files.cert} (not signed by a CA in the daemon's ca_file, expired, or its DN is not in tls_allowed_dn_list)`
      : `no client certificate was sent, because ${missing.join(" and ")} ${missing.length > 1 ? "do" : "does"} not exist`) +
    `. To fix: ${clientCert ? "use a client certificate signed by the CA the daemon trusts, and add its DN to tls_allowed_dn_list if the daemon sets one" : PKI_FIX}`,
    ErrorCode.AUTH_FAILED, ErrorDomain.RPC,
  );
  let confirm: Buffer;
  try {
    confirm = await readExactly(tls, 1, () => refused("it closed the connection"), (e) => refused((e as NodeJS.ErrnoException).code ?? e.message));
  } catch (e) {
    tls.destroy();
    throw e;
  }
  if (confirm[0] !== 1) {
    tls.destroy();
    throw refused(`it answered ${confirm[0]} where 1 means accepted`);
  }
  // One SSL_write per chunk, so that no TLS record holds the end of one message and the start
  // of the next. Node's writev would join calls queued in the same tick into one record;
  // libvirtd reads the first, leaves the rest decrypted inside gnutls and waits for the socket
  // to become readable again, so the later calls stall until unrelated bytes arrive (the next
  // keepalive, 5 s on). libvirt's own client never joins messages either. Each chunk RpcConnection
  // writes is a whole message or part of one (a stream packet's header, then its data).
  (tls as unknown as { _writev: unknown })._writev = null;
  return { socket: tls, peer: `tls ${where}` };
}
