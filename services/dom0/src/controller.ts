// dom0's lifecycle logic: turns validated commands into calls on the data plane's ports
// (ports.ts: the VM's memory, its devices, the cpu nodes), and reacts to what the data plane reports (poweroff, reset, a vCPU that
// stopped) as the VM's policies say. One operation at a time per VM; every state change
// is in KV (vm-store.ts) before it is announced.
import { alreadyExists, invalidArgument, resourceExhausted, RpcError } from '@splitvisor/rpc';
import type { EventsV1 } from '@splitvisor/proto';
import type { Logger } from '@splitvisor/log';
import { DEFAULT_VM_MODE } from '@splitvisor/platform';
import { ConfigError, parseVmConfig, type Policy, type VmConfig } from './vm-config.js';
import { layoutFor, Provisioner, type BootPoint } from './provision.js';
import { leastLoaded, nodeLoads } from './placement.js';
import { canDo, isFinal, requireState, vcpuMayRun, type VmRecord, type VmState } from './vm-state.js';
import type { DataPlane, CpuNodePort } from './ports.js';
import type { VmRecords } from './vm-store.js';
import { afterNodeLoss, decide, probe } from './reconcile.js';
import { LifecycleReports, type GuestEnd, type Report, type ReportCounts } from './lifecycle-reports.js';

export interface ControllerOptions {
  /** on_crash=restart gives up after this many restarts in a row, each within
   *  `crashWindowMs` of its boot (a guest that crashes at once would loop forever). */
  maxCrashRestarts?: number;
  crashWindowMs?: number;
  /** The most VMs this lab holds (any state); a create beyond it is refused naming it. */
  maxVms?: number;
  /** How long the cpu's exit report may follow io-backend's POWEROFF or RESET before the
   *  latter is logged and counted as unconfirmed. */
  confirmMs?: number;
}

/** VMs per lab when not told otherwise (dom0 --max-vms, SPLITVISOR_MAX_VMS). */
export const DEFAULT_MAX_VMS = 64;

const POLICY_FIELD: Record<GuestEnd, 'on_poweroff' | 'on_reboot' | 'on_crash'> = { poweroff: 'on_poweroff', reset: 'on_reboot', crash: 'on_crash' };

/** The cpu's exit report, believed (lifecycle-reports.ts). */
type VcpuExit = Extract<Report, { kind: 'exit' }>;

/** A stand-in record for a VM being created: it counts one vCPU on its node. */
const PLACEHOLDER: VmRecord = {
  name: '',
  state: 'created',
  memoryBytes: 0,
  image: '',
  entry: 0,
  ramBase: 0,
  reason: '',
  exitCode: 0,
  createdAt: 0,
  startedAt: 0,
  stoppedAt: 0,
};

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class Controller {
  /** One operation at a time per VM: lifecycle events and API calls are serialized. */
  private readonly queues = new Map<string, Promise<unknown>>();
  /** Nodes chosen for VMs still being created: creates in parallel must not all pick the
   *  same least-loaded node before any of them is recorded. */
  private readonly placing = new Map<string, string>();
  private readonly prov: Provisioner;
  private readonly reports: LifecycleReports;

  constructor(
    private readonly plane: DataPlane,
    readonly store: VmRecords,
    private readonly log: Logger,
    private readonly opts: ControllerOptions = {},
  ) {
    this.prov = new Provisioner(plane, log);
    this.reports = new LifecycleReports(log, (vm) => this.store.find(vm)?.state, opts.confirmMs);
  }

  /** Lifecycle reports about `name` that dom0 refused or that were never confirmed. */
  reportCounts(name: string): ReportCounts {
    return this.reports.of(name);
  }

  /** Stops the timers of causes still awaiting the cpu's report. */
  stop(): void {
    this.reports.stop();
  }

  get nodes(): string[] {
    return [...this.plane.cpus.names];
  }

  protected serial<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(name) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => undefined);
    this.queues.set(name, settled);
    void settled.then(() => {
      if (this.queues.get(name) === settled) this.queues.delete(name);
    });
    return next;
  }

  list(): VmRecord[] {
    return this.store.list();
  }

  get(name: string): VmRecord {
    return this.store.get(name);
  }

  async create(configYaml: string, baseDir: string, source: string): Promise<VmRecord> {
    let cfg;
    const where = source || 'vm config';
    try {
      cfg = parseVmConfig(configYaml, baseDir || process.cwd(), where);
    } catch (e) {
      if (e instanceof ConfigError) throw invalidArgument(e.message);
      throw e;
    }
    return this.serial(cfg.name, async () => {
      const existing = this.store.find(cfg.name);
      if (existing && !canDo(existing.state, 'replace')) {
        throw alreadyExists(`a vm named "${cfg.name}" already exists and is ${existing.state}`);
      }
      const layout = await layoutFor(cfg, where);
      // The cap is checked and the slot taken with no await in between: creates in parallel
      // (each serialized only per name) cannot all pass it.
      this.checkCap(cfg.name);
      const node = this.place(cfg.name);
      this.placing.set(cfg.name, node);
      try {
        const boot = await this.prov.provision(cfg, layout);
        try {
          await this.store.purgeConsole(cfg.name);
        } catch (e) {
          await this.prov.release(cfg.name, {});
          throw e;
        }
        return await this.recordCreated(cfg, boot, node);
      } finally {
        this.placing.delete(cfg.name);
      }
    });
  }

  /** Refuses a new VM when the lab holds its cap already, counting creates in flight. */
  private checkCap(name: string): void {
    const max = this.opts.maxVms ?? DEFAULT_MAX_VMS;
    const held = new Set([...this.store.list().map((v) => v.name), ...this.placing.keys()]);
    if (held.has(name)) return; // replacing a VM of this name takes no new slot
    if (held.size >= max) {
      throw resourceExhausted(`vm "${name}" refused: this lab holds ${held.size} VMs and its cap is ${max} (dom0 --max-vms, SPLITVISOR_MAX_VMS)`);
    }
  }

  /** The least loaded node for `name`, counting VMs being created elsewhere right now. */
  private place(name: string, exclude: ReadonlySet<string> = new Set()): string {
    const others = this.store.list().filter((v) => v.name !== name);
    const pending = [...this.placing].filter(([n]) => n !== name).map(([n, node]): VmRecord => ({ ...PLACEHOLDER, name: n, node }));
    return leastLoaded(this.nodes, [...others, ...pending], exclude);
  }

  private async recordCreated(cfg: VmConfig, boot: BootPoint, node: string): Promise<VmRecord> {
    const rec: VmRecord = {
      name: cfg.name,
      state: 'created',
      memoryBytes: cfg.memoryBytes,
      // What the hart enters first: the image, or the firmware.
      image: cfg.image ?? cfg.firmware ?? '',
      ...(cfg.firmware !== undefined && { firmware: cfg.firmware }),
      ...(cfg.kernel !== undefined && { kernel: cfg.kernel }),
      ...boot,
      reason: '',
      exitCode: 0,
      createdAt: Date.now(),
      startedAt: 0,
      stoppedAt: 0,
      node,
      vcpus: cfg.vcpus,
      mode: cfg.mode,
      ...(cfg.cpu?.h && { h: true }),
      ...(cfg.cpu?.engine !== undefined && { engine: cfg.cpu.engine }),
      onPoweroff: cfg.onPoweroff,
      onReboot: cfg.onReboot,
      onCrash: cfg.onCrash,
      boots: 0,
    };
    await this.store.putConfig(cfg);
    await this.store.save(rec);
    await this.store.emit(cfg.name, 'LIFECYCLE_CREATED');
    return rec;
  }

  /** created: run it. stopped or failed: reload the images first, then run it. */
  start(name: string): Promise<VmRecord> {
    return this.serial(name, async () => {
      let r = this.store.get(name);
      requireState(name, r.state, 'start');
      if (r.state !== 'created') r = await this.reprovision(r);
      return this.launch(r, '');
    });
  }

  /** Memory, images and devices again for a VM (same name and config). Memory it still
   *  holds at mmu (a reboot) is replaced in one step, so its reservation is never free for
   *  another VM's create in between. */
  private async reprovision(r: VmRecord): Promise<VmRecord> {
    const cfg = await this.store.config(r.name);
    const boot = await this.prov.provision(cfg, await layoutFor(cfg, r.name), { replace: true });
    return this.store.save({ ...r, ...boot, state: 'created', reason: '', exitCode: 0, stoppedAt: 0 });
  }

  /**
   * cpu StartVm on the VM's node. A node that does not answer (UNAVAILABLE) is passed over
   * for the least loaded of the others: the VM's memory is at mmu, not at the node.
   */
  private async launch(r: VmRecord, reason: string): Promise<VmRecord> {
    // Its own node even when gone from the registry (one failed call if it is down): a VM
    // whose every node is gone fails naming its own.
    const own = r.node !== undefined && (this.nodes.includes(r.node) || this.plane.cpus.known?.(r.node));
    const first = own ? r.node! : this.place(r.name);
    // The VM's own node first, then the others from the least loaded.
    const load = nodeLoads(
      this.nodes,
      this.store.list().filter((v) => v.name !== r.name),
    );
    const order = [first, ...this.nodes.filter((n) => n !== first).sort((a, b) => load.get(a)! - load.get(b)!)];
    let node = first;
    let bootAt = 0;
    let lastErr: RpcError | undefined;
    // A node that just restarted may still be in its client's reconnect backoff: after a
    // first round where every node failed fast, a second one waits for each to connect.
    rounds: for (const patient of [false, true]) {
      for (const n of order) {
        node = n;
        bootAt = Date.now();
        try {
          const start = {
            vmId: r.name,
            ramBase: r.ramBase,
            ramSize: r.memoryBytes,
            entry: r.entry,
            // Records written before there was a device tree have none: 0.
            dtbAddr: r.dtbAddr ?? 0,
            vcpus: r.vcpus ?? 1,
            mode: r.mode ?? DEFAULT_VM_MODE,
            h: r.h ?? false,
            engine: r.engine ?? '',
          };
          await this.plane.cpus.node(n).start(start, patient ? 2000 : undefined);
          lastErr = undefined;
          break rounds;
        } catch (e) {
          if (e instanceof RpcError && e.code === 'UNAVAILABLE') {
            lastErr = e;
            this.log.warn({ vm: r.name, node: n, err: e.message }, 'cpu node unavailable; trying another');
            continue;
          }
          if (e instanceof RpcError) throw new RpcError(e.code, `starting vm "${r.name}" on cpu node ${n}: ${e.message}`);
          throw e;
        }
      }
    }
    if (lastErr) throw new RpcError(lastErr.code, `starting vm "${r.name}" on cpu node ${node}: ${lastErr.message}`);
    const next = await this.store.save({
      ...r,
      node,
      state: 'running',
      startedAt: Date.now(),
      bootAt,
      boots: (r.boots ?? 0) + 1,
      reason,
      exitCode: 0,
      stoppedAt: 0,
    });
    await this.store.emit(r.name, 'LIFECYCLE_STARTED', reason);
    return next;
  }

  pause(name: string): Promise<VmRecord> {
    return this.serial(name, async () => {
      const r = this.store.get(name);
      requireState(name, r.state, 'pause');
      await this.onNode(r, 'pausing', (c) => c.pause(name));
      const next = await this.store.save({ ...r, state: 'paused' });
      await this.store.emit(name, 'LIFECYCLE_PAUSED');
      return next;
    });
  }

  resume(name: string): Promise<VmRecord> {
    return this.serial(name, async () => {
      const r = this.store.get(name);
      requireState(name, r.state, 'resume');
      await this.onNode(r, 'resuming', (c) => c.resume(name));
      const next = await this.store.save({ ...r, state: 'running' });
      await this.store.emit(name, 'LIFECYCLE_RESUMED');
      return next;
    });
  }

  private async onNode<T>(r: VmRecord, doing: string, fn: (c: CpuNodePort) => Promise<T>): Promise<T> {
    try {
      return await fn(this.plane.cpus.node(r.node));
    } catch (e) {
      if (e instanceof RpcError) throw new RpcError(e.code, `${doing} vm "${r.name}" on cpu node ${r.node ?? '?'}: ${e.message}`);
      throw e;
    }
  }

  /** Orderly: vCPUs to a safepoint (pages written back), devices flushed, memory freed. */
  shutdown(name: string, timeoutMs = 10_000): Promise<VmRecord> {
    return this.serial(name, async () => {
      const r = this.store.get(name);
      requireState(name, r.state, 'shutdown');
      await this.store.save({ ...r, state: 'stopping' });
      await this.store.emit(name, 'LIFECYCLE_SHUTDOWN', 'shutdown requested');
      await this.prov.release(name, { vcpuOn: r.node, timeoutMs });
      return this.ended(r, 'stopped', 0, 'shut down by request');
    });
  }

  reboot(name: string): Promise<VmRecord> {
    return this.serial(name, async () => {
      const r = this.store.get(name);
      requireState(name, r.state, 'reboot');
      return this.restartInPlace(r, 'rebooted by request');
    });
  }

  /** Down and up again under the same name, on the same node, the images read afresh. */
  private async restartInPlace(r: VmRecord, why: string): Promise<VmRecord> {
    await this.store.save({ ...r, state: 'rebooting' });
    await this.store.emit(r.name, 'LIFECYCLE_REBOOTING', why);
    await this.prov.release(r.name, { vcpuOn: r.node, keepMemory: true });
    try {
      const fresh = await this.reprovision({ ...r, state: 'rebooting' });
      return await this.launch(fresh, `restarted: ${why}`);
    } catch (e) {
      await this.prov.release(r.name, {});
      await this.ended(r, 'failed', 0, `restart failed: ${message(e)}`);
      throw e;
    }
  }

  /** Immediate: whatever runs is stopped, everything is freed, the VM is forgotten. */
  destroy(name: string): Promise<VmRecord> {
    return this.serial(name, async () => {
      const r = this.store.get(name);
      requireState(name, r.state, 'destroy');
      if (!isFinal(r.state)) await this.prov.release(name, { vcpuOn: vcpuMayRun(r.state) ? r.node : undefined, timeoutMs: 5000 });
      await this.store.remove(name);
      this.reports.forget(name);
      await this.store.emit(name, 'LIFECYCLE_DESTROYED', 'destroyed by request');
      return { ...r, state: 'destroyed' as VmState, stoppedAt: r.stoppedAt || Date.now(), reason: r.reason || 'destroyed' };
    });
  }

  /**
   * What the data plane reports on `subject` (sv.vm.<id>.lifecycle.<source>): io-backend
   * the guest's poweroff or reset (a cause, kept), the cpu that the vCPU stopped (acted on,
   * as the VM's policy says). VM and source are the subject's; a body that disagrees is
   * refused (lifecycle-reports.ts). Resolves once handled (a restarted dom0 counts what it
   * has caught up on).
   */
  onLifecycle(ev: EventsV1.LifecycleEvent__Output, subject: string): Promise<void> {
    const report = this.reports.read(ev, subject);
    if (report.kind !== 'exit' || !this.store.find(report.vm)) return Promise.resolve();
    return this.serial(report.vm, () => this.guestEnded(report)).catch((e: unknown) =>
      this.log.error({ vm: report.vm, err: message(e) }, `handling the guest's ${report.end} failed`),
    );
  }

  /** After a dom0 restart: the VM's record brought in line with what the data plane holds. */
  reconcile(name: string): Promise<void> {
    return this.serial(name, async () => {
      const r = this.store.find(name);
      if (!r) return;
      const held = await probe(this.plane, r);
      const d = decide(r, held);
      if (d.kind === 'keep') return;
      this.log.warn({ vm: name, state: r.state, held, decision: d }, 'reconciling with the data plane');
      switch (d.kind) {
        case 'adopt':
          await this.store.save({ ...r, state: d.state });
          await this.store.emit(name, d.state === 'paused' ? 'LIFECYCLE_PAUSED' : 'LIFECYCLE_RESUMED', d.why);
          return;
        case 'fail':
          return this.finish(r, 'failed', 0, d.reason);
        case 'finish-stop':
          return this.finish(r, 'stopped', r.exitCode, d.reason);
        case 'finish-reboot':
          await this.restartInPlace(r, 'finishing a reboot begun before dom0 restarted').catch(() => undefined);
          return;
      }
    }).catch((e: unknown) => this.log.error({ vm: name, err: message(e) }, 'reconciling failed'));
  }

  /**
   * Cpu node `node` went away (node-watch.ts saw its health stream end): each VM that ran
   * there and that the node no longer runs crashed, and its on_crash applies (restart
   * places it again, on that node once it is back or on another). A VM whose node still
   * has it, or already told its end, is left alone.
   */
  nodeLost(node: string, why: string): Promise<void> {
    const vms = this.store.list().filter((r) => afterNodeLoss(r, node, 'unknown', why) !== undefined);
    return Promise.all(
      vms.map((v) =>
        this.serial(v.name, async () => {
          const r = this.store.find(v.name);
          if (!r) return;
          const held = await this.plane.cpus
            .node(r.node)
            .stats(r.name)
            .then(
              (s): 'running' | 'paused' | 'exited' => (!s.running ? 'exited' : s.paused ? 'paused' : 'running'),
              (e: unknown) => (e instanceof RpcError && e.code === 'NOT_FOUND' ? ('absent' as const) : ('unknown' as const)),
            );
          const reason = afterNodeLoss(r, node, held, why);
          if (reason === undefined) return;
          this.log.warn({ vm: r.name, node, why }, reason);
          await this.guestEnded({ kind: 'exit', vm: r.name, end: 'crash', reason, exitCode: 0, at: Date.now() });
        }).catch((e: unknown) => this.log.error({ vm: v.name, node, err: message(e) }, 'applying on_crash after a node loss failed')),
      ),
    ).then(() => undefined);
  }

  private async guestEnded(ev: VcpuExit): Promise<void> {
    const end = ev.end;
    let r = this.store.find(ev.vm);
    if (!r || (r.state !== 'running' && r.state !== 'paused')) return;
    // A report older than the current boot (one read again after a dom0 restart) is done with.
    if (r.bootAt !== undefined && ev.at > 0 && ev.at < r.bootAt) return;
    const field = POLICY_FIELD[end];
    const policy: Policy = (end === 'poweroff' ? r.onPoweroff : end === 'reset' ? r.onReboot : r.onCrash) ?? (end === 'reset' ? 'restart' : 'destroy');
    this.log.info({ vm: r.name, end, policy, reason: ev.reason, exitCode: ev.exitCode }, `guest ${end}: ${field}=${policy}`);
    if (policy === 'restart') {
      if (end === 'crash') {
        const window = this.opts.crashWindowMs ?? 10_000;
        const max = this.opts.maxCrashRestarts ?? 3;
        const inARow = Date.now() - r.startedAt < window ? (r.crashRestarts ?? 0) + 1 : 1;
        if (inARow > max) {
          return this.finish(r, 'failed', 0, `${ev.reason} (on_crash=restart gave up: ${max} restarts each within ${window / 1000} s of the boot)`);
        }
        r = { ...r, crashRestarts: inARow };
      }
      await this.restartInPlace(r, `${ev.reason} (${field}=restart)`).catch(() => undefined);
      return;
    }
    if (policy === 'preserve') {
      await this.store.save({ ...r, state: 'stopping' });
      await this.prov.release(r.name, { vcpuOn: r.node, keepMemoryAndDevices: true });
      await this.ended(r, 'preserved', ev.exitCode, `${ev.reason} (${field}=preserve: memory and devices kept until destroyed)`);
      return;
    }
    const reason = end === 'reset' ? `${ev.reason} (on_reboot=destroy)` : ev.reason;
    await this.finish(r, end === 'crash' ? 'failed' : 'stopped', ev.exitCode, reason);
  }

  /** Stops the vCPUs, frees memory and devices, records the final state, tells everyone. */
  private async finish(r: VmRecord, state: 'stopped' | 'failed', exitCode: number, reason: string): Promise<void> {
    await this.store.save({ ...r, state: 'stopping' });
    await this.prov.release(r.name, { vcpuOn: r.node });
    await this.ended(r, state, exitCode, reason);
  }

  private async ended(r: VmRecord, state: 'stopped' | 'failed' | 'preserved', exitCode: number, reason: string): Promise<VmRecord> {
    const done = await this.store.save({ ...r, state, exitCode, reason, stoppedAt: Date.now() });
    this.log.info({ vm: r.name, state, exitCode, reason }, `vm ${state}`);
    const kind = state === 'stopped' ? 'LIFECYCLE_STOPPED' : state === 'failed' ? 'LIFECYCLE_FAILED' : 'LIFECYCLE_PRESERVED';
    await this.store.emit(r.name, kind, reason, exitCode);
    return done;
  }
}
