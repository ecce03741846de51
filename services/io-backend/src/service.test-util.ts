// The io-backend as its specs run it: in-process, set up as main.ts sets it up, against a
// real nats-server on a free port and a real gRPC server on loopback, with a client for it
// and a second NATS connection playing the other services.
import { Bus } from '@splitvisor/bus';
import { protos, type IoV1 } from '@splitvisor/proto';
import { RpcClient, RpcServer } from '@splitvisor/rpc';
import type { RunningService } from '@splitvisor/runtime';
import { silentLogger, startTestNats } from '@splitvisor/testing';
import { ioBackendService } from './service.js';
import { SHADOW_LEASE_MS } from './read-shadow.js';

export interface TestIoBackend {
  /** io-backend's own NATS connection. */
  bus: Bus;
  /** Another connection, as the cpu or a reader would have. */
  peer: Bus;
  io: RpcClient<IoV1.IoBackendClient>;
  stop(): Promise<void>;
}

export async function startTestIoBackend(): Promise<TestIoBackend> {
  const nats = await startTestNats();
  const log = silentLogger('io-backend');
  const bus = await Bus.connect({ url: nats.url, name: 'io-backend', log });
  const peer = await Bus.connect({ url: nats.url, name: 'peer', log });
  const server = new RpcServer({ name: 'splitvisor.io.v1.IoBackend', listen: '127.0.0.1:0', log });
  const running: RunningService = await ioBackendService.setup({
    config: { mmu: '127.0.0.1:50053', shadowLeaseMs: SHADOW_LEASE_MS, nats: nats.url, listen: '127.0.0.1:0', logLevel: 'silent' },
    log,
    bus,
    server,
  });
  const io = new RpcClient<IoV1.IoBackendClient>(protos().io.IoBackend, `127.0.0.1:${await server.start()}`, { deadlineMs: 5000 });
  return {
    bus,
    peer,
    io,
    async stop() {
      await running.stop();
      io.close();
      await server.stop(200);
      await bus.drain();
      await peer.drain();
      await nats.stop();
    },
  };
}
