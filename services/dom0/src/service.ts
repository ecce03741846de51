import { LifecycleEventCodec, protos, type Dom0V1 } from '@splitvisor/proto';
import { unary } from '@splitvisor/rpc';
import { subjects } from '@splitvisor/bus';
import { parsers, type ServiceDefinition } from '@splitvisor/runtime';
import { closeBackends, connectBackends } from './backends.js';
import { Controller } from './controller.js';
import { toVmInfo } from './vm-state.js';

export interface Dom0Config {
  cpu: string;
  mmu: string;
  io: string;
}

export const dom0Service: ServiceDefinition<Dom0Config> = {
  name: 'dom0',
  grpcService: 'splitvisor.dom0.v1.Dom0',
  options: {
    cpu: { flag: 'cpu', env: 'SPLITVISOR_CPU_ADDR', help: 'cpu gRPC address', default: '127.0.0.1:50052', parse: parsers.hostPort },
    mmu: { flag: 'mmu', env: 'SPLITVISOR_MMU_ADDR', help: 'mmu gRPC address', default: '127.0.0.1:50053', parse: parsers.hostPort },
    io: { flag: 'io', env: 'SPLITVISOR_IO_ADDR', help: 'io-backend gRPC address', default: '127.0.0.1:50054', parse: parsers.hostPort },
  },
  async setup({ config, log, bus, server }) {
    await bus.ensureStreams();
    const backends = connectBackends(config);
    const ctl = new Controller(backends, bus, await bus.kv(), log);
    await ctl.restore();
    const unsubscribe = bus.subscribe(subjects.allLifecycle, LifecycleEventCodec, (ev) => ctl.onLifecycle(ev));
    const handlers: Dom0V1.Dom0Handlers = {
      CreateVm: unary(async (req: Dom0V1.CreateVmRequest__Output) => toVmInfo(await ctl.create(req.configYaml, req.baseDir, req.source))),
      StartVm: unary(async (req: Dom0V1.VmRef__Output) => toVmInfo(await ctl.start(req.name))),
      DestroyVm: unary(async (req: Dom0V1.VmRef__Output) => toVmInfo(await ctl.destroy(req.name))),
      GetVm: unary((req: Dom0V1.VmRef__Output) => toVmInfo(ctl.get(req.name))),
      ListVms: unary(() => ({ vms: ctl.list().map(toVmInfo) })),
    };
    server.add(protos().dom0.Dom0.service, handlers);
    return {
      async stop() {
        unsubscribe();
        closeBackends(backends);
      },
    };
  },
};
