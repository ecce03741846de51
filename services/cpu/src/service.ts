import { protos, type IoV1, type MmuV1 } from '@splitvisor/proto';
import { RpcClient } from '@splitvisor/rpc';
import { ConfigError, parsers, type ServiceDefinition } from '@splitvisor/runtime';
import { badNodeAddress, checkNodeId } from '@splitvisor/bus';
import type { RecallTransport } from './ports/index.js';
import { VmManager } from './vm-manager.js';
import { SpareWorkers } from './spare-workers.js';
import { NodeRegistration, advertisedAddress, defaultNodeId } from './registration.js';

export interface CpuConfig {
  mmu: string;
  io: string;
  exitDeadlineMs: number;
  /** host:port dom0 reaches this node on ('' = from the listen address, see registration.ts). */
  advertise: string;
  /** This node's id in the node registry ('' = <hostname>-<port>). */
  nodeId: string;
  /** How mmu's recalls reach this node's page caches. */
  recallTransport: RecallTransport;
  /** Keep a vCPU thread loaded for the next VM (spare-workers.ts). */
  spareVcpu: boolean;
}

export const cpuService: ServiceDefinition<CpuConfig> = {
  name: 'cpu',
  grpcService: 'splitvisor.cpu.v1.Cpu',
  options: {
    mmu: { flag: 'mmu', env: 'SPLITVISOR_MMU_ADDR', help: 'mmu gRPC address', default: '127.0.0.1:50053', parse: parsers.hostPort },
    io: { flag: 'io', env: 'SPLITVISOR_IO_ADDR', help: 'io-backend gRPC address', default: '127.0.0.1:50054', parse: parsers.hostPort },
    exitDeadlineMs: {
      flag: 'exit-deadline-ms',
      env: 'SPLITVISOR_EXIT_DEADLINE_MS',
      help: 'deadline of one exit (MMIO, page fetch); past it the VM fails',
      default: '2000',
      parse: parsers.positiveInt,
    },
    advertise: {
      flag: 'advertise',
      env: 'SPLITVISOR_ADVERTISE_ADDR',
      help: "host:port dom0 reaches this node on, put in the node registry (empty: the listen address; for 0.0.0.0, this host's IPv4 address)",
      default: '',
      parse: (raw, where) => {
        const bad = raw === '' ? undefined : badNodeAddress(raw);
        if (bad) throw new ConfigError(`${where}: ${bad}`);
        return raw;
      },
    },
    nodeId: {
      flag: 'node-id',
      env: 'SPLITVISOR_NODE_ID',
      help: "this node's id in the node registry (empty: <hostname>-<port>)",
      default: '',
      parse: (raw, where) => {
        try {
          return raw === '' ? raw : checkNodeId(raw);
        } catch (e) {
          throw new ConfigError(`${where}: ${(e as Error).message}`);
        }
      },
    },
    spareVcpu: {
      flag: 'spare-vcpu',
      env: 'SPLITVISOR_SPARE_VCPU',
      help: 'keep a vCPU thread started and loaded for the next VM (on), or start each VM its own (off) (spare-workers.ts)',
      default: 'on',
      parse: (raw, where) => {
        if (raw !== 'on' && raw !== 'off') throw new ConfigError(`${where}: "${raw}" is not on or off`);
        return raw === 'on';
      },
    },
    recallTransport: {
      flag: 'recall-transport',
      env: 'SPLITVISOR_RECALL_TRANSPORT',
      help: "how mmu's recalls reach this node's page caches: stream (one Mmu.RecallStream per VM, NATS while it is not open) or nats (NATS request/reply alone, to measure what the stream saves)",
      default: 'stream',
      parse: (raw, where) => {
        if (raw !== 'stream' && raw !== 'nats') throw new ConfigError(`${where}: "${raw}" is not a recall transport (stream or nats)`);
        return raw;
      },
    },
  },
  async setup({ config, log, bus, server }) {
    // The streams' configuration is dom0's: this service only creates one that is missing, and
    // in a secure lab may not even do that (dom0 does, when it starts after the data plane).
    await bus.ensureStreams({ update: false }).catch((e: Error) => log.warn({ err: e.message }, 'streams not all there yet; dom0 creates them'));
    const mmu = new RpcClient<MmuV1.MmuClient>(protos().mmu.Mmu, config.mmu, { deadlineMs: config.exitDeadlineMs, server: 'mmu' });
    const io = new RpcClient<IoV1.IoBackendClient>(protos().io.IoBackend, config.io, { deadlineMs: config.exitDeadlineMs, server: 'io-backend' });
    const spares = new SpareWorkers(config.spareVcpu, log);
    const vms = new VmManager({ mmu, io, exitDeadlineMs: config.exitDeadlineMs, recallTransport: config.recallTransport, spares, log, bus }, bus, log);
    server.add(protos().cpu.Cpu.service, vms.handlers());
    let registration: NodeRegistration | undefined;
    return {
      // In the node registry only once it serves: dom0 places VMs on what it finds there.
      async started({ port }) {
        const addr = advertisedAddress(config.listen, port, config.advertise);
        registration = new NodeRegistration(bus, log, { id: config.nodeId || defaultNodeId(port), addr });
        await registration.start();
      },
      async stop() {
        // Out of the registry first: dom0 places nothing new here while the VMs stop.
        await registration?.stop();
        await vms.stopAll('cpu service shutting down');
        await spares.close();
        mmu.close();
        io.close();
      },
    };
  },
};
