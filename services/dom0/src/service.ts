// dom0 as a process: the Dom0 gRPC API over the Controller, the lifecycle events that tell
// it what the guests do, and at start its view rebuilt from KV, the events it missed
// caught up on, and each VM reconciled with what cpu, mmu and io-backend hold.
import { protos, type Dom0V1 } from '@splitvisor/proto';
import { unary } from '@splitvisor/rpc';
import { ConfigError, parsers, type ServiceDefinition } from '@splitvisor/runtime';
import { closeBackends, connectBackends, cpuClient, grpcDataPlane } from './backends.js';
import { Controller, DEFAULT_MAX_VMS } from './controller.js';
import { collectStats } from './stats.js';
import { attachConsole, watchEvents } from './streams.js';
import { VmStore } from './vm-store.js';
import { DeviceHandshake } from './xenbus.js';
import { LifecycleFollower } from './follow.js';
import { CpuNodeWatch } from './node-watch.js';
import { NodeTable } from './node-table.js';
import { CpuNodeRegistry } from './node-registry.js';
import { NODE_TTL_MS } from '@splitvisor/bus';
import { toVmInfo, type VmRecord } from './vm-state.js';
import { FaultStore } from './faults.js';
import { defaultImageDir, openImageStore, parseByteSize } from './image-store.js';
import { checkFiles, uploadFile } from './upload-handlers.js';
import { pruneStoredTftp, withStoredFiles } from './stored-config.js';
import { canDo } from './vm-state.js';

export interface Dom0Config {
  /** The static cpu nodes (SPLITVISOR_CPU_ADDR), first in placement's tie-break order; the
   *  node registry adds the others. */
  cpu: string[];
  mmu: string;
  io: string;
  /** The most VMs this lab holds, in any state. */
  maxVms: number;
  /** The image store: files a remote CLI uploads (image-store.ts). */
  imageDir: string;
  uploadMax: number;
}

export const dom0Service: ServiceDefinition<Dom0Config> = {
  name: 'dom0',
  grpcService: 'splitvisor.dom0.v1.Dom0',
  options: {
    cpu: {
      flag: 'cpu',
      env: 'SPLITVISOR_CPU_ADDR',
      help: 'static cpu node gRPC addresses, comma-separated, beside those the node registry names (empty: found through NATS only)',
      default: '',
      parse: (raw, where) => (raw.trim() === '' ? [] : parsers.hostPortList(raw, where)),
    },
    mmu: { flag: 'mmu', env: 'SPLITVISOR_MMU_ADDR', help: 'mmu gRPC address', default: '127.0.0.1:50053', parse: parsers.hostPort },
    io: { flag: 'io', env: 'SPLITVISOR_IO_ADDR', help: 'io-backend gRPC address', default: '127.0.0.1:50054', parse: parsers.hostPort },
    maxVms: {
      flag: 'max-vms',
      env: 'SPLITVISOR_MAX_VMS',
      help: 'the most VMs this lab holds (any state); a create beyond it is refused',
      default: String(DEFAULT_MAX_VMS),
      parse: parsers.positiveInt,
    },
    imageDir: {
      flag: 'image-dir',
      env: 'SPLITVISOR_IMAGE_DIR',
      help: 'where dom0 keeps the images and disks the CLI uploads',
      default: defaultImageDir(),
      parse: (raw) => raw,
    },
    uploadMax: {
      flag: 'upload-max',
      env: 'SPLITVISOR_UPLOAD_MAX',
      help: 'the largest file an upload may store (8G, 512M, bytes)',
      default: '8G',
      parse: (raw, where) => {
        try {
          return parseByteSize(raw);
        } catch (e) {
          throw new ConfigError(`${where}: ${(e as Error).message}`);
        }
      },
    },
  },
  async setup({ config, log, bus, server }) {
    await bus.ensureStreams();
    const backends = connectBackends({ cpus: config.cpu, mmu: config.mmu, io: config.io });
    const kv = await bus.kv();
    const store = new VmStore(bus, kv, log);
    const devices = new DeviceHandshake(kv, log, {
      bus,
      backendAlive: () =>
        backends.io.call('Ping', {}, { deadlineMs: 1000 }).then(
          () => true,
          () => false,
        ),
    });
    const nodes = new NodeTable(NODE_TTL_MS, config.cpu);
    const plane = grpcDataPlane(backends, devices, () => nodes.live());
    const ctl = new Controller(plane, store, log, { maxVms: config.maxVms });
    // The cpu nodes in the registry: found before the VMs are reconciled, which asks them.
    // A cpu node that dies takes its VMs with it: on_crash applies when its health stream
    // ends (node-watch.ts) or its registry entry expires, whichever comes first.
    const nodeWatch = new CpuNodeWatch(config.cpu, (node, why) => void ctl.nodeLost(node, why), log);
    const registry = new CpuNodeRegistry(
      bus,
      nodes,
      {
        up: (addr) => {
          if (!backends.cpus.has(addr)) backends.cpus.set(addr, cpuClient(addr));
          nodeWatch.add(addr);
        },
        gone: (addr, _id, why) => nodeWatch.remove(addr, why),
      },
      log,
    );
    await registry.start();
    const restored = await store.load();
    if (restored.length) log.info({ vms: restored.map((v) => v.name) }, 'restored VM records from KV');
    // Events missed while dom0 was down first, then each VM checked against the data plane.
    const follower = new LifecycleFollower(bus, kv, (ev, subject) => ctl.onLifecycle(ev, subject), log);
    const caught = await follower.start();
    if (caught.upTo > caught.replayedFrom) log.info(caught, 'caught up on lifecycle events missed while down');
    for (const r of restored) void ctl.reconcile(r.name);
    nodeWatch.start();
    // The fault plane's link faults: the table, handed to every service over NATS.
    const faults = new FaultStore(bus, kv, log);
    await faults.start();
    // Files a CLI on another host sends for its VMs; a disk held by a live VM is not replaced.
    const images = await openImageStore(config.imageDir, config.uploadMax, (m) => log.warn(m));
    const vmInUse = (vm: string) => {
      const r = store.find(vm);
      return r !== undefined && !canDo(r.state, 'replace');
    };
    const uploads = { store: images, log, vmInUse };
    const info = (r: VmRecord) => toVmInfo(r);
    const handlers: Dom0V1.Dom0Handlers = {
      CreateVm: unary(async (req: Dom0V1.CreateVmRequest__Output) => {
        const configYaml = await withStoredFiles(images, req);
        const r = await ctl.create(configYaml, req.baseDir, req.source);
        // The VM is created: tftp copies its config no longer names can go (stored-config.ts).
        await pruneStoredTftp(images, configYaml, req.baseDir, req.source).then(
          (gone) => gone.length > 0 && log.info({ vm: r.name, removed: gone }, 'stale tftp directories removed from the image store'),
          (e: unknown) => log.warn({ vm: r.name, err: (e as Error).message }, 'could not remove stale tftp directories from the image store'),
        );
        return info(r);
      }),
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
      GetStats: unary(async (req: Dom0V1.VmRef__Output) => ({ ...(await collectStats(plane, ctl.get(req.name))), reports: ctl.reportCounts(req.name) })),
      WatchEvents: watchEvents({ bus, log, find: (n) => store.find(n) }),
      AttachConsole: attachConsole({ bus, log, find: (n) => store.find(n) }),
      AddFault: unary((req: Dom0V1.AddFaultRequest__Output) => faults.add(req)),
      ListFaults: unary(() => faults.list()),
      ClearFaults: unary((req: Dom0V1.ClearFaultsRequest__Output) => faults.clear(req.id)),
      CheckFiles: unary(checkFiles(uploads)),
      UploadFile: uploadFile(uploads),
    };
    server.add(protos().dom0.Dom0.service, handlers);
    return {
      async stop() {
        registry.stop();
        nodeWatch.stop();
        faults.stop();
        await follower.stop();
        ctl.stop();
        closeBackends(backends);
      },
    };
  },
};
