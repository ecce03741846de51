// Mutual TLS between the services: one lab CA, one certificate per service whose common
// name is the service's identity ("dom0", "cpu", "mmu", "io-backend", "cli"). A process
// loads its own material once (useTls) and every RpcServer, RpcClient and health check in
// it then speaks TLS and presents its certificate; a server refuses a client without a
// certificate from the same CA at the handshake, and the access interceptor refuses a
// known client a method that is not its to call.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { checkServerIdentity } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { parseHostPort } from './address.js';

export interface TlsMaterial {
  /** Who this process is: the CN of its certificate. */
  identity: string;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/** Reads `<dir>/ca.crt`, `<dir>/<identity>.crt` and `<dir>/<identity>.key`, naming what is missing. */
export function loadTls(dir: string, identity: string): TlsMaterial {
  const read = (f: string) => {
    try {
      return readFileSync(join(dir, f));
    } catch (e) {
      throw new Error(`TLS: cannot read ${join(dir, f)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  return { identity, ca: read('ca.crt'), cert: read(`${identity}.crt`), key: read(`${identity}.key`) };
}

export function serverCredentials(m: TlsMaterial): grpc.ServerCredentials {
  return grpc.ServerCredentials.createSsl(m.ca, [{ private_key: m.key, cert_chain: m.cert }], true);
}

export function channelCredentials(m: TlsMaterial): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(m.ca, m.key, m.cert);
}

let processTls: TlsMaterial | undefined;

/** From now on every server and client this process makes uses `m` (or plaintext: undefined). */
export function useTls(m: TlsMaterial | undefined): void {
  processTls = m;
}

export function currentTls(): TlsMaterial | undefined {
  return processTls;
}

/** The SNI sent to a server reached by IP address. grpc-js always sends the target's
 *  host as the TLS ServerName, but RFC 6066 §3 allows host names only (Node warns,
 *  DEP0123, on every connection: on stderr of every CLI command of a TLS lab). A name
 *  under .invalid (RFC 6761) names nothing; our servers have one certificate and ignore
 *  SNI. The certificate is still checked against the IP itself. */
export const IP_TARGET_SERVERNAME = 'ip-address.invalid';

export interface Channel {
  credentials: grpc.ChannelCredentials;
  options: grpc.ChannelOptions;
}

/** The IP literal `address` (host:port, [v6]:port) names, or undefined for a host name. */
function ipOf(address: string): string | undefined {
  let host: string;
  try {
    host = parseHostPort(address, 'address').host;
  } catch {
    return undefined;
  }
  const bare = host.startsWith('[') ? host.slice(1, -1) : host;
  return isIP(bare) ? bare : undefined;
}

/** Credentials and channel options for a client of `address`: plaintext without TLS
 *  material, else mutual TLS whose server certificate must cover the host dialled. */
export function channelTo(address: string, m: TlsMaterial | undefined): Channel {
  if (!m) return { credentials: grpc.credentials.createInsecure(), options: {} };
  const ip = ipOf(address);
  if (ip === undefined) return { credentials: channelCredentials(m), options: {} };
  return {
    credentials: grpc.credentials.createSsl(m.ca, m.key, m.cert, { checkServerIdentity: (_servername, cert) => checkServerIdentity(ip, cert) }),
    options: { 'grpc.ssl_target_name_override': IP_TARGET_SERVERNAME },
  };
}

export function defaultServerCredentials(): grpc.ServerCredentials {
  return processTls ? serverCredentials(processTls) : grpc.ServerCredentials.createInsecure();
}

/** The CN of the client's certificate, or undefined on a plaintext call. */
export function peerIdentity(call: { getAuthContext(): { sslPeerCertificate?: { subject?: { CN?: string | string[] } } } | null }): string | undefined {
  const cn = call.getAuthContext()?.sslPeerCertificate?.subject?.CN;
  return Array.isArray(cn) ? cn[0] : cn;
}

/**
 * Which identities may call which methods: keys are a method path
 * (`/pkg.Service/Method`) or a whole service (`/pkg.Service/*`), values the identities
 * allowed, or `'*'` for any holder of a lab certificate. Anything not listed is refused.
 */
export type AccessPolicy = Readonly<Record<string, readonly string[] | '*'>>;

/** Metadata key a caller names itself under (mmu's DMA checks it); under TLS it must be true. */
export const CALLER_KEY = 'x-splitvisor-caller';

/**
 * Refuses, with PERMISSION_DENIED naming the identity and the method, a call the policy
 * does not allow, and a caller that names itself (CALLER_KEY) as someone its certificate
 * is not. Under TLS the name is filled in from the certificate when the caller gave none.
 * On a plaintext server it lets everything through: there is no identity to check.
 */
export function accessInterceptor(policy: AccessPolicy): grpc.ServerInterceptor {
  return (method, call) => {
    return new grpc.ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, mdNext) {
            const who = peerIdentity(call);
            if (who === undefined) {
              mdNext(metadata);
              return;
            }
            const service = method.path.slice(0, method.path.lastIndexOf('/'));
            const allowed = policy[method.path] ?? policy[`${service}/*`];
            const named = metadata.get(CALLER_KEY)[0];
            let refusal: string | undefined;
            if (allowed === undefined) refusal = `${method.path} is not open to any caller`;
            else if (allowed !== '*' && !allowed.includes(who)) refusal = `${who} may not call ${method.path} (only ${allowed.join(', ')})`;
            else if (named !== undefined && named !== who) refusal = `${who} may not call as "${String(named)}"`;
            if (refusal) {
              call.sendStatus({ code: grpc.status.PERMISSION_DENIED, details: refusal, metadata: new grpc.Metadata() });
              return;
            }
            if (named === undefined) metadata.set(CALLER_KEY, who);
            mdNext(metadata);
          },
        });
      },
    });
  };
}
