// The data plane and the VM store in memory, for the controller's spec: each port records
// what it was asked, in one shared log, and can be told to refuse. No process, no network.
import type { CpuV1, EventsV1, IoV1, MmuV1 } from '@splitvisor/proto';
import { notFound, RpcError, unavailable } from '@splitvisor/rpc';
import type { ImageSegment } from './guest-image.js';
import type { CpuNodePort, CpuNodes, DataPlane, VcpuStart, VmDevicesPort, VmMemoryPort } from './ports.js';
import { DEFAULT_POLICIES, type VmConfig } from './vm-config.js';
import type { VmRecord } from './vm-state.js';
import type { VmRecords } from './vm-store.js';
import type { DeviceSpec } from './xenbus.js';

/** Calls as "<who> <what> <vm>", in the order they were made. */
export type CallLog = string[];

type Faults = Map<string, RpcError>;

function check(faults: Faults, log: CallLog, call: string): void {
  log.push(call);
  const e = faults.get(call.slice(0, call.lastIndexOf(' '))) ?? faults.get(call);
  if (e) throw e;
}

class FakeMemory implements VmMemoryPort {
  /** Per VM: its RAM size, the bytes and segments loaded (the device tree among them), DMA grants. */
  readonly vms = new Map<string, { ramSize: number; loaded: number; segments: ImageSegment[]; dma: string[] }>();
  constructor(
    private readonly log: CallLog,
    private readonly faults: Faults,
  ) {}
  async create(vmId: string, _ramBase: number, ramSize: number, opts: { replace?: boolean } = {}): Promise<void> {
    check(this.faults, this.log, `mmu create ${vmId}`);
    // As mmu: one VM per id, unless the call replaces it.
    if (this.vms.has(vmId) && !opts.replace) throw new RpcError('ALREADY_EXISTS', `vm "${vmId}" already exists`);
    this.vms.set(vmId, { ramSize, loaded: 0, segments: [], dma: [] });
  }
  async load(vmId: string, segments: readonly ImageSegment[]): Promise<number> {
    check(this.faults, this.log, `mmu load ${vmId}`);
    const n = segments.reduce((t, s) => t + s.data.length, 0);
    this.held(vmId).loaded += n;
    this.held(vmId).segments.push(...segments);
    return n;
  }
  async allowDma(vmId: string, backend: string): Promise<void> {
    check(this.faults, this.log, `mmu allowDma ${vmId}`);
    this.held(vmId).dma.push(backend);
  }
  async release(vmId: string): Promise<void> {
    check(this.faults, this.log, `mmu release ${vmId}`);
    this.held(vmId);
    this.vms.delete(vmId);
  }
  async stats(vmId: string): Promise<MmuV1.MemStats__Output> {
    this.held(vmId);
    return {} as MmuV1.MemStats__Output;
  }
  private held(vmId: string) {
    const v = this.vms.get(vmId);
    if (!v) throw notFound(`vm "${vmId}" not found`);
    return v;
  }
}

class FakeDevices implements VmDevicesPort {
  readonly vms = new Map<string, string[]>();
  constructor(
    private readonly log: CallLog,
    private readonly faults: Faults,
  ) {}
  async connect(vmId: string, devices: readonly (string | DeviceSpec)[]): Promise<void> {
    check(this.faults, this.log, `io connect ${vmId}`);
    this.vms.set(
      vmId,
      devices.map((d) => (typeof d === 'string' ? d : d.id)),
    );
  }
  async disconnect(vmId: string): Promise<void> {
    check(this.faults, this.log, `io disconnect ${vmId}`);
    this.vms.delete(vmId);
  }
  async stats(vmId: string): Promise<IoV1.DeviceStats__Output> {
    if (!this.vms.has(vmId)) throw notFound(`vm "${vmId}" not found`);
    return {} as IoV1.DeviceStats__Output;
  }
}

class FakeCpuNode implements CpuNodePort {
  /** The VMs whose vCPUs this node runs, paused or not. */
  readonly vms = new Map<string, { paused: boolean; start: VcpuStart }>();
  constructor(
    readonly name: string,
    private readonly log: CallLog,
    private readonly faults: Faults,
  ) {}
  async start(req: VcpuStart, waitReadyMs?: number): Promise<void> {
    check(this.faults, this.log, `${this.name} start${waitReadyMs === undefined ? '' : ' patiently'} ${req.vmId}`);
    this.vms.set(req.vmId, { paused: false, start: req });
  }
  async pause(vmId: string): Promise<void> {
    check(this.faults, this.log, `${this.name} pause ${vmId}`);
    this.held(vmId).paused = true;
  }
  async resume(vmId: string): Promise<void> {
    check(this.faults, this.log, `${this.name} resume ${vmId}`);
    this.held(vmId).paused = false;
  }
  async stop(vmId: string, _reason: string, _deadlineMs: number): Promise<void> {
    check(this.faults, this.log, `${this.name} stop ${vmId}`);
    this.held(vmId);
    this.vms.delete(vmId);
  }
  async stats(vmId: string): Promise<CpuV1.VmStats__Output> {
    // Not logged (reconciliation asks in bulk), but a node can be told to refuse it.
    const e = this.faults.get(`${this.name} stats`);
    if (e) throw e;
    const v = this.held(vmId);
    return { running: true, paused: v.paused } as CpuV1.VmStats__Output;
  }
  private held(vmId: string) {
    const v = this.vms.get(vmId);
    if (!v) throw notFound(`vm "${vmId}" not found on ${this.name}`);
    return v;
  }
}

export class FakePlane implements DataPlane {
  readonly calls: CallLog = [];
  /** Errors to throw, by "<who> <what>" (every VM) or "<who> <what> <vm>". */
  readonly faults: Faults = new Map();
  readonly memory: FakeMemory;
  readonly devices: FakeDevices;
  readonly nodes: Map<string, FakeCpuNode>;
  readonly cpus: CpuNodes;

  constructor(nodeNames: readonly string[]) {
    this.memory = new FakeMemory(this.calls, this.faults);
    this.devices = new FakeDevices(this.calls, this.faults);
    this.nodes = new Map(nodeNames.map((n) => [n, new FakeCpuNode(n, this.calls, this.faults)]));
    const nodes = this.nodes;
    this.cpus = {
      names: nodeNames,
      node(name) {
        const c = name === undefined ? nodes.values().next().value : nodes.get(name);
        if (!c) throw unavailable(`cpu node ${name ?? '(none)'} is unknown`);
        return c;
      },
    };
  }

  /** A node that does not answer. */
  down(node: string): void {
    for (const what of ['start', 'start patiently', 'stop', 'stats']) this.faults.set(`${node} ${what}`, unavailable(`${node} connection refused`));
  }
}

/** The VM store as a map; lifecycle events kept in order. */
export class MemoryRecords implements VmRecords {
  readonly records = new Map<string, VmRecord>();
  readonly configs = new Map<string, VmConfig>();
  readonly events: Pick<EventsV1.LifecycleEvent, 'vmId' | 'kind' | 'reason' | 'exitCode'>[] = [];

  list(): VmRecord[] {
    return [...this.records.values()].sort((a, b) => a.createdAt - b.createdAt);
  }
  find(name: string): VmRecord | undefined {
    return this.records.get(name);
  }
  get(name: string): VmRecord {
    const r = this.records.get(name);
    if (!r) throw notFound(`no vm named "${name}"`);
    return r;
  }
  async save(r: VmRecord): Promise<VmRecord> {
    this.records.set(r.name, r);
    return r;
  }
  async remove(name: string): Promise<void> {
    this.records.delete(name);
    this.configs.delete(name);
  }
  async putConfig(cfg: VmConfig): Promise<void> {
    this.configs.set(cfg.name, cfg);
  }
  async config(name: string): Promise<VmConfig> {
    const c = this.configs.get(name);
    if (!c) throw notFound(`vm "${name}" has no config`);
    return { ...DEFAULT_POLICIES, ...c };
  }
  async emit(vmId: string, kind: EventsV1.LifecycleKind, reason = '', exitCode = 0): Promise<void> {
    this.events.push({ vmId, kind, reason, exitCode });
  }
  async purgeConsole(): Promise<void> {}

  /** The kinds of `vm`'s events, without the LIFECYCLE_ prefix. */
  kinds(vm: string): string[] {
    return this.events.filter((e) => e.vmId === vm).map((e) => String(e.kind).replace('LIFECYCLE_', ''));
  }
}
