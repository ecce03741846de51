// dom0 as a process: the Dom0 gRPC API over the Controller, the lifecycle events that tell
// it what the guests do, and at start its view rebuilt from KV, the events it missed
// caught up on, and each VM reconciled with what cpu, mmu and io-backend hold.
import { protos, type Dom0V1 } from '@splitvisor/proto';
import { unary } from '@splitvisor/rpc';
import { parsers, type ServiceDefinition } from '@splitvisor/runtime';
import { closeBackends, connectBackends, grpcDataPlane } from './backends.js';
import { Controller } from './controller.js';
import { collectStats } from './stats.js';
import { attachConsole, watchEvents } from './streams.js';
import { VmStore } from './vm-store.js';
import { DeviceHandshake } from './xenbus.js';
import { LifecycleFollower } from './follow.js';
import { toVmInfo, type VmRecord } from './vm-state.js';

export interface Dom0Config {
  /** Every cpu node, in placement's tie-break order. */
  cpu: string[];
  mmu: string;
  io: string;
}

export const dom0Service: ServiceDefinition<Dom0Config> = {
  name: 'dom0',
  grpcService: 'splitvisor.dom0.v1.Dom0',
  options: {
    cpu: {
      flag: 'cpu',
      env: 'SPLITVISOR_CPU_ADDR',
      help: 'cpu node gRPC addresses, comma-separated',
      default: '127.0.0.1:50052',
      parse: parsers.hostPortList,
    },
    mmu: { flag: 'mmu', env: 'SPLITVISOR_MMU_ADDR', help: 'mmu gRPC address', default: '127.0.0.1:50053', parse: parsers.hostPort },
    io: { flag: 'io', env: 'SPLITVISOR_IO_ADDR', help: 'io-backend gRPC address', default: '127.0.0.1:50054', parse: parsers.hostPort },
  },
  async setup({ config, log, bus, server }) {
    await bus.ensureStreams();
    const backends = connectBackends({ cpus: config.cpu, mmu: config.mmu, io: config.io });
    const kv = await bus.kv();
    const store = new VmStore(bus, kv, log);
    const devices = new DeviceHandshake(kv, log, {
      backendAlive: () =>
        backends.io.call('Ping', {}, { deadlineMs: 1000 }).then(
          () => true,
          () => false,
        ),
    });
    const plane = grpcDataPlane(backends, devices);
    const ctl = new Controller(plane, store, log);
    const restored = await store.load();
    if (restored.length) log.info({ vms: restored.map((v) => v.name) }, 'restored VM records from KV');
    // Events missed while dom0 was down first, then each VM checked against the data plane.
    const follower = new LifecycleFollower(bus, kv, (ev) => ctl.onLifecycle(ev), log);
    const caught = await follower.start();
    if (caught.replayedFrom > 0 && caught.upTo > caught.replayedFrom) log.info(caught, 'caught up on lifecycle events missed while down');
    for (const r of restored) void ctl.reconcile(r.name);
    const info = (r: VmRecord) => toVmInfo(r);
    const handlers: Dom0V1.Dom0Handlers = {
      CreateVm: unary(async (req: Dom0V1.CreateVmRequest__Output) => info(await ctl.create(req.configYaml, req.baseDir, req.source))),
      StartVm: unary(async (req: Dom0V1.VmRef__Output) => info(await ctl.start(req.name))),
      PauseVm: unary(async (req: Dom0V1.VmRef__Output) => info(await ctl.pause(req.name))),
      ResumeVm: unary(async (req: Dom0V1.VmRef__Output) => info(await ctl.resume(req.name))),
      ShutdownVm: unary(async (req: Dom0V1.ShutdownVmRequest__Output) => info(await ctl.shutdown(req.name, req.timeoutMs || undefined))),
      RebootVm: unary(async (req: Dom0V1.VmRef__Output) => info(await ctl.reboot(req.name))),
      DestroyVm: unary(async (req: Dom0V1.VmRef__Output) => info(await ctl.destroy(req.name))),
      GetVm: unary(async (req: Dom0V1.VmRef__Output) => {
        const r = ctl.get(req.name);
        const cfg = await store.config(req.name).catch(() => undefined);
        return { ...info(r), configJson: cfg ? JSON.stringify(cfg) : '' };
      }),
      ListVms: unary(() => ({ vms: ctl.list().map(info) })),
      GetStats: unary((req: Dom0V1.VmRef__Output) => collectStats(plane, ctl.get(req.name))),
      WatchEvents: watchEvents({ bus, log, find: (n) => store.find(n) }),
      AttachConsole: attachConsole({ bus, log, find: (n) => store.find(n) }),
    };
    server.add(protos().dom0.Dom0.service, handlers);
    return {
      async stop() {
        await follower.stop();
        closeBackends(backends);
      },
    };
  },
};
