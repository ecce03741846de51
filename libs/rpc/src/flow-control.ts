// HTTP/2 flow control for every Splitvisor channel. A receiver lets its peer send only as
// much as its window before the peer must wait for a WINDOW_UPDATE (RFC 9113 §5.2, §6.9).
// HTTP/2 starts each stream and each connection at 64 KiB, and Node keeps that unless told
// otherwise, so a 1 MiB page-fetch reply or a DMA stream with four 256 KiB writes in flight
// waited on the receiver's event loop a dozen times a call. The lab's links are loopback or
// a LAN between the services of one VM: the window is sized for what one link has in
// flight (DMA: CHUNK x WRITES_IN_FLIGHT; fetches: MAX_FETCH_PAGES), not for a WAN.
// The client's window is what it receives in (replies: DMA reads, page fetches); the
// server's, what its clients send (DMA writes). `npm run bench -- mmu` times both over an
// io-backend's DMA stream.
import type * as grpc from '@grpc/grpc-js';
import type { Http2Server, ServerHttp2Session } from 'node:http2';

/** Bytes a peer may send on one stream, and on one connection, before it waits. */
export const FLOW_CONTROL_WINDOW = 16 * 1024 * 1024;

/** A client's channel option: grpc-js (>= 1.13) advertises it as the stream window and
 *  raises its connection window to it. */
export const CLIENT_FLOW_CONTROL = { 'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW } as const;

/** The grpc-js server's internals this reaches into (1.14: the options each HTTP/2 server
 *  is made with, and the servers once bound). */
interface ServerInternals {
  commonServerOptions?: { settings?: Record<string, unknown> };
  http2Servers?: Map<Http2Server, unknown>;
}

/**
 * The server's side: grpc-js (1.14) has no option for it, so the stream window goes into
 * the settings its HTTP/2 servers are created with (call before bindAsync) and each session
 * raises its connection window as it opens (call after). False when grpc-js no longer has
 * the fields this sets: the server then keeps HTTP/2's 64 KiB, slower, not wrong.
 */
export function widenServerWindowBeforeBind(server: grpc.Server): boolean {
  const opts = (server as unknown as ServerInternals).commonServerOptions;
  if (opts === undefined || typeof opts !== 'object') return false;
  opts.settings = { ...(opts.settings ?? {}), initialWindowSize: FLOW_CONTROL_WINDOW };
  return true;
}

/** See widenServerWindowBeforeBind: the connection window of each session from now on. */
export function widenServerWindowAfterBind(server: grpc.Server): boolean {
  const servers = (server as unknown as ServerInternals).http2Servers;
  if (!(servers instanceof Map) || servers.size === 0) return false;
  for (const h of servers.keys()) {
    h.on('session', (session: ServerHttp2Session) => {
      // Node >= 15.3; the connection window only grows.
      if (typeof session.setLocalWindowSize === 'function') session.setLocalWindowSize(FLOW_CONTROL_WINDOW);
    });
  }
  return true;
}
