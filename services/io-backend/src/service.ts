// The io-backend as a process: streams ensured (console and lifecycle history are ours to
// publish), handlers on the gRPC server, and on SIGTERM every console flushed.
import { protos } from '@splitvisor/proto';
import { parsers, type ServiceDefinition } from '@splitvisor/runtime';
import { IoBackend } from './backend.js';
import { ioHandlers } from './handlers.js';
import { XenbusBackend } from './xenbus-backend.js';

export interface IoConfig {
  /** The mmu's gRPC address: virtio devices DMA through it. */
  mmu: string;
}

export const ioBackendService: ServiceDefinition<IoConfig> = {
  name: 'io-backend',
  grpcService: 'splitvisor.io.v1.IoBackend',
  options: {
    mmu: {
      flag: 'mmu',
      env: 'SPLITVISOR_MMU_ADDR',
      help: 'mmu gRPC address host:port (for device DMA)',
      default: '127.0.0.1:50053',
      parse: parsers.hostPort,
    },
  },
  async setup({ config, log, bus, server }) {
    await bus.ensureStreams();
    const backend = new IoBackend(bus, log, { mmuAddr: config.mmu });
    server.add(protos().io.IoBackend.service, ioHandlers(backend));
    // dom0 sets devices up and down through KV, as xenbus does (xenbus-backend.ts).
    const xenbus = new XenbusBackend(await bus.kv(), backend, log);
    await xenbus.start();
    log.info({ mmu: config.mmu }, 'io-backend ready');
    return {
      stop: () => {
        xenbus.stop();
        return backend.stop();
      },
    };
  },
};
