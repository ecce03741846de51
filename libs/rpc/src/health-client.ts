import { protos, type HealthV1 } from '@splitvisor/proto';
import { RpcClient } from './client.js';
import type { TlsMaterial } from './tls.js';

/** Asks a server's grpc.health.v1 whether `service` ("" = the whole server) is SERVING;
 *  under TLS `server` says which lab service must answer. */
export async function checkHealth(address: string, service = '', deadlineMs = 2000, tls?: TlsMaterial, server?: string): Promise<string> {
  const client = new RpcClient<HealthV1.HealthClient>(protos().health.Health, address, { deadlineMs, ...(tls && { tls }), ...(server && { server }) });
  try {
    const res = await client.call('Check', { service });
    return res.status;
  } finally {
    client.close();
  }
}

/** Polls health until SERVING or the timeout; throws naming the address and the last error. */
export async function waitForServing(address: string, timeoutMs = 15000, service = '', tls?: TlsMaterial, server?: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < end) {
    try {
      const s = await checkHealth(address, service, Math.min(1000, Math.max(100, end - Date.now())), tls, server);
      if (s === 'SERVING') return;
      last = `status ${s}`;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${address} not serving after ${timeoutMs} ms (${last})`);
}
