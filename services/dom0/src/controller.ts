// dom0's lifecycle logic: turns validated commands into calls on mmu, io-backend and cpu,
// and reacts to what the data plane reports (poweroff, vCPU exit). State lives in KV as a
// xenstore-like tree, so a restarted dom0 rebuilds its view.
import { randomBytes } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import { DRAM_BASE, hex } from '@splitvisor/platform';
import { LifecycleEventCodec, type EventsV1 } from '@splitvisor/proto';
import { alreadyExists, invalidArgument, notFound, RpcError } from '@splitvisor/rpc';
import { kvKeys, streams, subjects, type Bus } from '@splitvisor/bus';
import type { Logger } from '@splitvisor/log';
import { loadImage, type Backends } from './backends.js';
import { ConfigError, parseVmConfig } from './vm-config.js';
import { ImageError, readGuestImage, readKernelImage } from './guest-image.js';
import { BootLayoutError, computeBootLayout, type BootLayout } from './boot-layout.js';
import { canDo, isFinal, requireState, type VmRecord, type VmState } from './vm-state.js';

export class Controller {
  private readonly vms = new Map<string, VmRecord>();
  /** One operation at a time per VM: lifecycle events and API calls are serialized. */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly backends: Backends,
    private readonly bus: Bus,
    private readonly kv: KV,
    private readonly log: Logger,
  ) {}

  private serial<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(name) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    this.queues.set(
      name,
      next.catch(() => undefined),
    );
    return next;
  }

  /** Rebuilds the view from KV (after a dom0 restart). */
  async restore(): Promise<void> {
    const keys = await this.kv.keys(kvKeys.allVms);
    for await (const k of keys) {
      if (!k.endsWith('.state')) continue;
      const e = await this.kv.get(k);
      if (!e || e.length === 0) continue;
      try {
        const r = e.json<VmRecord>();
        this.vms.set(r.name, r);
      } catch {
        this.log.warn({ key: k }, 'ignoring unreadable VM state in KV');
      }
    }
    if (this.vms.size) this.log.info({ vms: [...this.vms.keys()] }, 'restored VM records from KV');
  }

  list(): VmRecord[] {
    return [...this.vms.values()].sort((a, b) => a.createdAt - b.createdAt);
  }

  get(name: string): VmRecord {
    const r = this.vms.get(name);
    if (!r) throw notFound(`no vm named "${name}"`);
    return r;
  }

  private async save(r: VmRecord): Promise<void> {
    this.vms.set(r.name, r);
    await this.kv.put(kvKeys.vmState(r.name), JSON.stringify(r));
  }

  private async emit(vmId: string, kind: EventsV1.LifecycleKind, reason = '', exitCode = 0): Promise<void> {
    await this.bus.publishDurable(subjects.lifecycle(vmId), LifecycleEventCodec, {
      vmId,
      kind,
      reason,
      exitCode,
      source: 'dom0',
      at: Date.now(),
    });
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
      const existing = this.vms.get(cfg.name);
      if (existing && !canDo(existing.state, 'replace')) {
        throw alreadyExists(`a vm named "${cfg.name}" already exists and is ${existing.state}`);
      }
      let layout: BootLayout;
      try {
        layout = computeBootLayout({
          memoryBytes: cfg.memoryBytes,
          harts: cfg.vcpus,
          ...(cfg.bootargs !== undefined && { bootargs: cfg.bootargs }),
          // As QEMU 7.2 does on every boot: entropy for the kernel's RNG in /chosen/rng-seed.
          rngSeed: randomBytes(32),
          ...(cfg.image !== undefined && { image: await readGuestImage(cfg.image) }),
          ...(cfg.firmware !== undefined && { firmware: await readGuestImage(cfg.firmware, 'firmware') }),
          ...(cfg.kernel !== undefined && { kernel: await readKernelImage(cfg.kernel) }),
        });
      } catch (e) {
        if (e instanceof ImageError) throw invalidArgument(e.message);
        if (e instanceof BootLayoutError) throw invalidArgument(`${where}: ${e.message}`);
        throw e;
      }
      const { mmu, io } = this.backends;
      const undo: (() => Promise<unknown>)[] = [];
      try {
        await mmu.call('CreateVm', { vmId: cfg.name, ramBase: DRAM_BASE, ramSize: cfg.memoryBytes });
        undo.push(() => mmu.call('ReleaseVm', { vmId: cfg.name }));
        const loaded = await loadImage(mmu, cfg.name, [...layout.segments]);
        this.log.info(
          {
            vm: cfg.name,
            boot: layout.kind,
            ...(cfg.image !== undefined && { image: cfg.image }),
            ...(cfg.firmware !== undefined && { firmware: cfg.firmware }),
            ...(cfg.kernel !== undefined && { kernel: cfg.kernel }),
            segments: layout.segments.map((s) => `${s.role} ${hex(s.addr)}+${hex(s.data.length)}`),
            bytes: loaded,
            entry: hex(layout.entry),
            ...(layout.kind === 'firmware' && { next: hex(layout.nextAddr) }),
            dtb: hex(layout.dtbAddr),
          },
          'image loaded',
        );
        for (const note of layout.notes) this.log.warn({ vm: cfg.name }, note);
        await io.call('AttachVm', { vmId: cfg.name });
        undo.push(() => io.call('DetachVm', { vmId: cfg.name }));
        await this.purgeConsole(cfg.name);
      } catch (e) {
        for (const u of undo.reverse()) await u().catch(() => undefined);
        if (e instanceof RpcError) throw new RpcError(e.code, `creating vm "${cfg.name}": ${e.message}`);
        throw e;
      }
      const rec: VmRecord = {
        name: cfg.name,
        state: 'created',
        memoryBytes: cfg.memoryBytes,
        // What the hart enters first: the image, or the firmware.
        image: cfg.image ?? cfg.firmware ?? '',
        ...(cfg.firmware !== undefined && { firmware: cfg.firmware }),
        ...(cfg.kernel !== undefined && { kernel: cfg.kernel }),
        entry: layout.entry,
        // For the boot ROM's fw_dynamic_info.next_addr; StartVm has no field for it yet.
        nextAddr: layout.nextAddr,
        dtbAddr: layout.dtbAddr,
        ramBase: DRAM_BASE,
        reason: '',
        exitCode: 0,
        createdAt: Date.now(),
        startedAt: 0,
        stoppedAt: 0,
      };
      await this.kv.put(kvKeys.vmConfig(cfg.name), JSON.stringify(cfg));
      await this.save(rec);
      await this.emit(cfg.name, 'LIFECYCLE_CREATED');
      return rec;
    });
  }

  /** A new VM of an old name starts with an empty console history. */
  private async purgeConsole(vmId: string): Promise<void> {
    await this.bus.purge(streams.console, subjects.consoleOut(vmId));
  }

  start(name: string): Promise<VmRecord> {
    return this.serial(name, async () => {
      const r = this.get(name);
      requireState(name, r.state, 'start');
      await this.backends.cpu.call('StartVm', {
        vmId: name,
        ramBase: r.ramBase,
        ramSize: r.memoryBytes,
        entry: r.entry,
        // a1 at reset. Records written before there was a device tree have none: 0.
        dtbAddr: r.dtbAddr ?? 0,
        vcpus: 1,
      });
      const next = { ...r, state: 'running' as VmState, startedAt: Date.now() };
      await this.save(next);
      await this.emit(name, 'LIFECYCLE_STARTED');
      return next;
    });
  }

  /** What the data plane reports: the guest powered off, or its vCPU stopped. */
  onLifecycle(ev: EventsV1.LifecycleEvent__Output): void {
    if (ev.source === 'dom0') return;
    const r = this.vms.get(ev.vmId);
    if (!r || isFinal(r.state)) return;
    if (ev.kind === 'LIFECYCLE_POWEROFF') {
      void this.finish(ev.vmId, 'stopped', ev.exitCode, ev.reason);
    } else if (ev.kind === 'LIFECYCLE_RESET') {
      void this.finish(ev.vmId, 'stopped', 0, `${ev.reason} (reboot is not supported yet: the vm was stopped)`);
    } else if (ev.kind === 'LIFECYCLE_VCPU_EXITED') {
      if (ev.reason.startsWith('poweroff')) void this.finish(ev.vmId, 'stopped', ev.exitCode, ev.reason);
      else if (ev.reason.startsWith('reset')) void this.finish(ev.vmId, 'stopped', 0, ev.reason);
      else void this.finish(ev.vmId, 'failed', 0, ev.reason);
    }
  }

  /** Stops the vCPUs, frees memory and devices, records the final state, tells everyone. */
  private finish(name: string, state: 'stopped' | 'failed', exitCode: number, reason: string): Promise<void> {
    return this.serial(name, async () => {
      const r = this.vms.get(name);
      if (!r || isFinal(r.state)) return;
      await this.save({ ...r, state: 'stopping' });
      await this.release(name, r.state);
      const done = { ...r, state, exitCode, reason, stoppedAt: Date.now() };
      await this.save(done);
      this.log.info({ vm: name, state, exitCode, reason }, `vm ${state}`);
      await this.emit(name, state === 'stopped' ? 'LIFECYCLE_STOPPED' : 'LIFECYCLE_FAILED', reason, exitCode);
    });
  }

  private async release(name: string, from: VmState): Promise<void> {
    const { cpu, mmu, io } = this.backends;
    const quiet = (what: string) => (e: unknown) => {
      if (e instanceof RpcError && e.code === 'NOT_FOUND') return;
      this.log.warn({ vm: name, err: (e as Error).message }, `${what} failed while releasing the vm`);
    };
    // vCPUs first (their write-back needs mmu), then memory, then devices.
    if (from === 'running' || from === 'stopping') await cpu.call('StopVm', { vmId: name, reason: 'released by dom0' }, { deadlineMs: 10_000 }).catch(quiet('cpu StopVm'));
    await mmu.call('ReleaseVm', { vmId: name }).catch(quiet('mmu ReleaseVm'));
    await io.call('DetachVm', { vmId: name }).catch(quiet('io-backend DetachVm'));
  }

  destroy(name: string): Promise<VmRecord> {
    return this.serial(name, async () => {
      const r = this.get(name);
      requireState(name, r.state, 'destroy');
      if (!isFinal(r.state)) await this.release(name, r.state);
      const done: VmRecord = { ...r, state: 'destroyed', stoppedAt: r.stoppedAt || Date.now(), reason: r.reason || 'destroyed' };
      this.vms.delete(name);
      await this.kv.delete(kvKeys.vmState(name));
      await this.kv.delete(kvKeys.vmConfig(name));
      await this.emit(name, 'LIFECYCLE_DESTROYED', 'destroyed by request');
      return done;
    });
  }
}
