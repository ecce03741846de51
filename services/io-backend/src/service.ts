// The io-backend as a process: streams ensured (console and lifecycle history are ours to
// publish), handlers on the gRPC server, and on SIGTERM every console flushed.
import { protos, type MmuV1 } from '@splitvisor/proto';
import { RpcClient } from '@splitvisor/rpc';
import { ConfigError, parsers, type ServiceDefinition } from '@splitvisor/runtime';
import { DMA_CALLER, IoBackend } from './backend.js';
import { leaseOutOfRange, SHADOW_LEASE_MS, SHADOW_LEASE_RANGE_MS } from './read-shadow.js';
import { MmuGuestMemory } from './virtio/guest-memory.js';
import { ioHandlers } from './handlers.js';
import { XenbusBackend } from './xenbus-backend.js';

export interface IoConfig {
  /** The mmu's gRPC address: virtio devices DMA through it. */
  mmu: string;
  /** How long a vCPU may serve a UART read shadow grant without an exit (read-shadow.ts). */
  shadowLeaseMs: number;
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
    shadowLeaseMs: {
      flag: 'shadow-lease-ms',
      env: 'SPLITVISOR_SHADOW_LEASE_MS',
      help: `how long a vCPU serves UART reads from its read shadow before it asks again (${SHADOW_LEASE_RANGE_MS.min}..${SHADOW_LEASE_RANGE_MS.max} ms)`,
      default: String(SHADOW_LEASE_MS),
      parse: (raw: string, where: string) => {
        const ms = parsers.positiveInt(raw, where);
        const bad = leaseOutOfRange(ms);
        if (bad) throw new ConfigError(`${where}: ${bad}`);
        return ms;
      },
    },
  },
  async setup({ config, log, bus, server }) {
    // The streams' configuration is dom0's: this service only creates one that is missing, and
    // in a secure lab may not even do that (dom0 does, when it starts after the data plane).
    await bus.ensureStreams({ update: false }).catch((e: Error) => log.warn({ err: e.message }, 'streams not all there yet; dom0 creates them'));
    // Device DMA goes to mmu under this service's identity (dom0 grants it per VM).
    const mmu = new RpcClient<MmuV1.MmuClient>(protos().mmu.Mmu, config.mmu, { deadlineMs: 5000, server: 'mmu' });
    const backend = new IoBackend(bus, log, {
      shadowLeaseMs: config.shadowLeaseMs,
      deviceMemory: (vmId) =>
        new MmuGuestMemory(mmu, vmId, DMA_CALLER, {
          onRetry: (what, attempt, err) => log.warn({ vm: vmId, attempt, code: err.code, err: err.message }, `${what}: no answer from mmu; asking again`),
        }),
    });
    server.add(protos().io.IoBackend.service, ioHandlers(backend));
    // dom0 sets devices up and down through KV, as xenbus does (xenbus-backend.ts). In a
    // secure lab the bucket is dom0's to create and dom0 starts after the data plane: until it
    // is there, look again every half second (no VM has devices before dom0 runs anyway).
    let xenbus: XenbusBackend | undefined;
    let stopped = false;
    const watchDevices = async (): Promise<void> => {
      for (let waiting = false; !stopped; waiting = true) {
        try {
          const kv = await bus.kv();
          if (stopped) return;
          xenbus = new XenbusBackend(bus, kv, backend, log);
          await xenbus.start();
          if (waiting) log.info('KV bucket there: watching devices');
          return;
        } catch (e) {
          if (!waiting) log.warn({ err: (e as Error).message }, 'KV bucket not there yet; waiting for dom0 to create it');
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    };
    await Promise.race([watchDevices(), new Promise((r) => setTimeout(r, 2000))]);
    log.info({ mmu: config.mmu, shadowLeaseMs: config.shadowLeaseMs }, 'io-backend ready');
    return {
      stop: async () => {
        stopped = true;
        xenbus?.stop();
        await backend.stop();
        mmu.close();
      },
    };
  },
};
