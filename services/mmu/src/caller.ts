// Who is calling. Under mutual TLS the caller is the CN of its certificate, which the lab CA
// vouched for at the handshake; metadata is not consulted. Only on a plaintext lab (which
// says at start what it gives up) does a caller name itself in gRPC metadata.
import type * as grpc from '@grpc/grpc-js';
import { CALLER_KEY, peerIdentity } from '@splitvisor/rpc';

export { CALLER_KEY };

type Call = { metadata: grpc.Metadata; getAuthContext?: () => { sslPeerCertificate?: { subject?: { CN?: string | string[] } } } | null };

export type Identify = (call: Call) => string;

/** The certificate's identity when there is one, else the name in metadata ('' when none). */
export const callerIdentity: Identify = (call) => {
  const cert = call.getAuthContext ? peerIdentity({ getAuthContext: call.getAuthContext.bind(call) }) : undefined;
  if (cert !== undefined) return cert;
  const v = call.metadata.get(CALLER_KEY)[0];
  return typeof v === 'string' ? v.slice(0, 200) : '';
};
