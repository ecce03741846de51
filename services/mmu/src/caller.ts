// Who is calling. For now a caller names itself in gRPC metadata; the check sits behind
// one function so that an mTLS peer identity (the certificate's SAN) can replace it
// without touching the DMA logic, which only ever sees a name.
import type * as grpc from '@grpc/grpc-js';

/** Metadata key a caller names itself under, e.g. "io-backend". */
export const CALLER_KEY = 'x-splitvisor-caller';

export type Identify = (call: { metadata: grpc.Metadata }) => string;

/** The caller's name from metadata, '' when there is none. */
export const metadataIdentity: Identify = (call) => {
  const v = call.metadata.get(CALLER_KEY)[0];
  return typeof v === 'string' ? v.slice(0, 200) : '';
};
