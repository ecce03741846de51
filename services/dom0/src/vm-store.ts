// dom0's view of the VMs and where it lives: every record and config in JetStream KV
// (vm.<id>.state, vm.<id>.config, as xenstore's vm/<id>/...), so a restarted dom0 reads
// back what it knew; every change announced on the VM's lifecycle subject.
import type { KV } from '@nats-io/kv';
import { LifecycleEventCodec, type EventsV1 } from '@splitvisor/proto';
import { notFound } from '@splitvisor/rpc';
import { kvKeys, streams, subjects, type Bus } from '@splitvisor/bus';
import type { Logger } from '@splitvisor/log';
import { DEFAULT_POLICIES, type VmConfig } from './vm-config.js';
import type { VmRecord } from './vm-state.js';

/** The VM records and configs as the controller uses them: the KV-backed VmStore in the
 *  service, a map in the controller's spec. */
export type VmRecords = Pick<VmStore, 'list' | 'find' | 'get' | 'save' | 'remove' | 'putConfig' | 'config' | 'emit' | 'purgeConsole'>;

export class VmStore {
  private readonly vms = new Map<string, VmRecord>();

  constructor(
    private readonly bus: Bus,
    private readonly kv: KV,
    private readonly log: Logger,
  ) {}

  /** Reads every VM record in KV (after a dom0 restart). */
  async load(): Promise<VmRecord[]> {
    const keys = await this.kv.keys(kvKeys.allVms);
    for await (const k of keys) {
      if (!/^vm\.[^.]+\.state$/.test(k)) continue;
      const e = await this.kv.get(k);
      if (!e || e.length === 0) continue;
      try {
        const r = e.json<VmRecord>();
        this.vms.set(r.name, r);
      } catch {
        this.log.warn({ key: k }, 'ignoring unreadable VM state in KV');
      }
    }
    return this.list();
  }

  list(): VmRecord[] {
    return [...this.vms.values()].sort((a, b) => a.createdAt - b.createdAt);
  }

  find(name: string): VmRecord | undefined {
    return this.vms.get(name);
  }

  get(name: string): VmRecord {
    const r = this.vms.get(name);
    if (!r) throw notFound(`no vm named "${name}"`);
    return r;
  }

  async save(r: VmRecord): Promise<VmRecord> {
    this.vms.set(r.name, r);
    await this.kv.put(kvKeys.vmState(r.name), JSON.stringify(r));
    return r;
  }

  async remove(name: string): Promise<void> {
    this.vms.delete(name);
    await this.kv.delete(kvKeys.vmState(name));
    await this.kv.delete(kvKeys.vmConfig(name));
  }

  async putConfig(cfg: VmConfig): Promise<void> {
    await this.kv.put(kvKeys.vmConfig(cfg.name), JSON.stringify(cfg));
  }

  /** The validated config the VM was created from (policies filled in for old records). */
  async config(name: string): Promise<VmConfig> {
    const e = await this.kv.get(kvKeys.vmConfig(name));
    if (!e || e.length === 0) throw notFound(`vm "${name}" has no config in KV`);
    return { ...DEFAULT_POLICIES, ...e.json<VmConfig>() };
  }

  async emit(vmId: string, kind: EventsV1.LifecycleKind, reason = '', exitCode = 0): Promise<void> {
    await this.bus.publishDurable(subjects.lifecycle(vmId, 'dom0'), LifecycleEventCodec, {
      vmId,
      kind,
      reason,
      exitCode,
      source: 'dom0',
      at: Date.now(),
    });
  }

  /** A new VM of an old name starts with an empty console history. */
  async purgeConsole(vmId: string): Promise<void> {
    await this.bus.purge(streams.console, subjects.consoleOut(vmId));
  }
}
