// Mutual TLS between the services: one CA per lab, one certificate per identity whose
// common name is the identity ("dom0", "cpu", "mmu", "io-backend", "cli") and whose one SAN,
// `<identity>.<lab-id>.splitvisor`, names it and its lab. A process loads its own material
// once (useTls) and every RpcServer, RpcClient and health check in it then speaks TLS and
// presents its certificate; a server refuses a client without a certificate from the same
// CA at the handshake, a client refuses a server that is not the service it asked for, and
// the access interceptor refuses a known client a method that is not its to call.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';

export interface TlsMaterial {
  /** Who this process is: the CN of its certificate. */
  identity: string;
  /** Which lab it belongs to: from its certificate's SAN. */
  labId: string;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

const DNS_SUFFIX = 'splitvisor';

/** The DNS name an identity's certificate carries in lab `labId`. */
export function labDnsName(identity: string, labId: string): string {
  return `${identity}.${labId}.${DNS_SUFFIX}`;
}

function commonName(x: X509Certificate): string | undefined {
  return /^CN=(.*)$/m.exec(x.subject)?.[1];
}

/** The lab ids `identity` is named for in a certificate's SANs (`DNS:<identity>.<lab>.splitvisor`). */
function labIdsOf(x: X509Certificate, identity: string): string[] {
  const prefix = `DNS:${identity}.`;
  return (x.subjectAltName ?? '')
    .split(', ')
    .filter((n) => n.startsWith(prefix) && n.endsWith(`.${DNS_SUFFIX}`))
    .map((n) => n.slice(prefix.length, -DNS_SUFFIX.length - 1))
    .filter((l) => /^[a-z0-9-]+$/.test(l));
}

/**
 * Reads `<dir>/ca.crt`, `<dir>/<identity>.crt` and `<dir>/<identity>.key`, naming what is
 * missing, and refuses material that is not `identity`'s: a certificate of another
 * identity (CN or SAN), a key that is not the certificate's, a certificate the CA beside
 * it did not issue.
 */
export function loadTls(dir: string, identity: string): TlsMaterial {
  const path = (f: string) => join(dir, f);
  const read = (f: string) => {
    try {
      return readFileSync(path(f));
    } catch (e) {
      throw new Error(`TLS: cannot read ${path(f)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  const parse = (f: string, b: Buffer) => {
    try {
      return new X509Certificate(b);
    } catch (e) {
      throw new Error(`TLS: ${path(f)} is not a PEM certificate: ${(e as Error).message}`);
    }
  };
  const ca = read('ca.crt');
  const cert = read(`${identity}.crt`);
  const key = read(`${identity}.key`);
  const caX = parse('ca.crt', ca);
  const x = parse(`${identity}.crt`, cert);
  const certFile = path(`${identity}.crt`);
  const cn = commonName(x);
  if (cn !== identity) throw new Error(`TLS: ${certFile} is ${cn === undefined ? 'a certificate with no CN' : `${cn}'s certificate`}, not ${identity}'s`);
  const labs = labIdsOf(x, identity);
  if (labs.length !== 1) throw new Error(`TLS: ${certFile} names no single ${labDnsName(identity, '<lab>')} (SAN: ${x.subjectAltName ?? 'none'})`);
  let matches: boolean;
  try {
    matches = x.checkPrivateKey(createPrivateKey(key));
  } catch (e) {
    throw new Error(`TLS: ${path(`${identity}.key`)} is not a private key: ${(e as Error).message}`);
  }
  if (!matches) throw new Error(`TLS: ${path(`${identity}.key`)} is not the key of ${certFile}`);
  if (!x.checkIssued(caX) || !x.verify(caX.publicKey)) {
    throw new Error(
      `TLS: ${certFile} (issuer ${x.issuer.replace(/\n/g, ', ')}) was not issued by the CA in ${path('ca.crt')} (${caX.subject.replace(/\n/g, ', ')})`,
    );
  }
  return { identity, labId: labs[0]!, ca, cert, key };
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

export interface Channel {
  credentials: grpc.ChannelCredentials;
  options: grpc.ChannelOptions;
}

/** Names a certificate's holder for an error: its CN and SANs. */
function holderOf(cert: PeerCertificate): string {
  const cn = cert.subject?.CN;
  return `${Array.isArray(cn) ? cn[0] : (cn ?? 'no CN')}'s certificate (${cert.subjectaltname ?? 'no SAN'})`;
}

/**
 * Credentials and channel options for a client of `server` (the service it expects:
 * "mmu", "dom0", ...) at `address`: plaintext without TLS material, else mutual TLS that
 * accepts only a certificate naming `<server>.<our lab>.splitvisor`. The TLS ServerName
 * (SNI) is that name too, so Node checks a host name, not an IP (no DEP0123 warning).
 */
export function channelTo(address: string, m: TlsMaterial | undefined, server?: string): Channel {
  if (!m) return { credentials: grpc.credentials.createInsecure(), options: {} };
  if (!server) throw new Error(`TLS client of ${address}: say which service it must be (server: 'mmu', 'cpu', 'io-backend' or 'dom0')`);
  const expected = labDnsName(server, m.labId);
  return {
    credentials: grpc.credentials.createSsl(m.ca, m.key, m.cert, {
      checkServerIdentity: (_servername, cert) =>
        checkServerIdentity(expected, cert) &&
        new Error(`${address} is not ${server}: it presented ${holderOf(cert)}, and ${server} of this lab is ${expected}`),
    }),
    options: { 'grpc.ssl_target_name_override': expected },
  };
}

export function defaultServerCredentials(): grpc.ServerCredentials {
  return processTls ? serverCredentials(processTls) : grpc.ServerCredentials.createInsecure();
}

/** The CN of the client's certificate (verified against the lab CA at the handshake), or
 *  undefined on a call without one. Never metadata: a caller cannot name itself. */
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

/** Metadata key under which a call carries its caller's name to the handlers (mmu's DMA
 *  checks it). Under TLS the access interceptor writes it from the certificate; a caller
 *  that names itself otherwise is refused. */
export const CALLER_KEY = 'x-splitvisor-caller';

/**
 * Refuses, with PERMISSION_DENIED naming the identity and the method, a call the policy
 * does not allow, and a caller that names itself (CALLER_KEY) as someone its certificate
 * is not; the name the handlers see is the certificate's. A call with no certificate
 * (a plaintext or one-way TLS server) is refused UNAUTHENTICATED: no identity, no call.
 */
export function accessInterceptor(policy: AccessPolicy): grpc.ServerInterceptor {
  return (method, call) => {
    return new grpc.ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, mdNext) {
            const who = peerIdentity(call);
            if (who === undefined) {
              call.sendStatus({
                code: grpc.status.UNAUTHENTICATED,
                details: `${method.path}: no client certificate (this service answers only holders of a lab certificate)`,
                metadata: new grpc.Metadata(),
              });
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
            metadata.set(CALLER_KEY, who);
            mdNext(metadata);
          },
        });
      },
    });
  };
}
