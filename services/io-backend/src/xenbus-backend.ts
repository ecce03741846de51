// io-backend's end of the xenbus handshake (libs/bus xenbus.ts): it watches every device
// entry in KV and answers for the backend side. A backend key that dom0 creates
// (Initialising) is a probe: the VM's devices are attached if they are not yet, and the
// backend says InitWait, or Closed with an error for a device it does not have. The
// frontend's Initialised connects it, Closing flushes and closes it, Closed detaches the
// VM once none of its devices is open any more.
//
// A restarted io-backend (kill -9, then the supervisor) finds device entries whose backend
// end says InitWait or Connected and holds none of them: before it watches, it takes each
// such VM over (restoreAll): attached as a probe would, its virtio devices made again from
// the entries' params, each device's saved state (saved-state.ts) restored, its IRQ lines
// re-synced. The guest's accesses wait meanwhile (IoBackend.restoring, the VM's gate).
//
// The watch follows the tree across NATS restarts and a cluster node's loss (followKv): it
// opens again after the last revision it handled, so no step runs twice.
import {
  decodeDeviceEnd,
  encodeDeviceEnd,
  followKv,
  kvKeys,
  parseDeviceKey,
  type Bus,
  type DeviceEndState,
  type KV,
  type KvWatchEntry,
  type Unsubscribe,
  type XenbusState,
} from '@splitvisor/bus';
import type { Logger } from '@splitvisor/log';
import { RpcError } from '@splitvisor/rpc';
import type { IoBackend } from './backend.js';
import { KvSavedStateStore } from './saved-state.js';

const BY = 'io-backend';

export class XenbusBackend {
  private unwatch: Unsubscribe | undefined;
  /** Per VM, the devices whose backend has answered and is not Closed yet. */
  private readonly open = new Map<string, Set<string>>();
  /** One change at a time per VM (two devices probing must not attach twice). */
  private readonly queues = new Map<string, Promise<void>>();

  constructor(
    private readonly bus: Bus,
    private readonly kv: KV,
    private readonly backend: IoBackend,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.backend.useSavedState(new KvSavedStateStore(this.kv));
    const restoring = this.restoreAll().catch((err: unknown) =>
      this.log.error({ err: (err as Error).message }, 'xenbus: taking over the VMs in the tree failed'),
    );
    this.backend.restoring = restoring;
    try {
      await restoring;
    } finally {
      this.backend.restoring = undefined;
    }
    // The watch replays every entry's last value first: what changed while we restored is seen.
    this.unwatch = await followKv(this.bus, this.kv, { key: kvKeys.allDevices, ignoreDeletes: true, what: 'xenbus' }, (e) => this.onEntry(e), this.log);
  }

  stop(): void {
    this.unwatch?.();
  }

  /**
   * Every VM whose device entries say a backend holds them (InitWait, Connected) and that
   * this process does not hold: taken over. Saved records of devices no backend entry
   * names any more (the VM went while io-backend was down) are deleted.
   */
  private async restoreAll(): Promise<void> {
    const byVm = new Map<string, Map<string, DeviceEndState>>();
    const saved: { vm: string; dev: string }[] = [];
    const keys: string[] = [];
    for await (const key of await this.kv.keys(kvKeys.allDevices)) keys.push(key);
    for (const key of keys) {
      const m = /^vm\.([^.]+)\.device\.([^.]+)\.saved$/.exec(key);
      if (m) {
        saved.push({ vm: m[1]!, dev: m[2]! });
        continue;
      }
      const k = parseDeviceKey(key);
      if (!k || k.end !== 'backend' || this.backend.attached.includes(k.vm)) continue;
      const e = await this.kv.get(key);
      const v = e && e.operation === 'PUT' ? decodeDeviceEnd(e.value) : undefined;
      if (!v || (v.state !== 'InitWait' && v.state !== 'Connected')) continue;
      let devs = byVm.get(k.vm);
      if (!devs) byVm.set(k.vm, (devs = new Map()));
      devs.set(k.dev, v);
    }
    for (const [vm, devs] of byVm) await this.restoreVm(vm, devs);
    for (const s of saved) {
      if (!byVm.get(s.vm)?.has(s.dev) && !this.open.get(s.vm)?.has(s.dev)) await this.backend.forgetSaved(s.vm, s.dev);
    }
  }

  private async restoreVm(vm: string, devs: Map<string, DeviceEndState>): Promise<void> {
    const started = Date.now();
    try {
      await this.backend.attach(vm, { restoring: true });
    } catch (err) {
      this.log.error({ vm, err: (err as Error).message }, 'xenbus: cannot attach a vm to take it over');
      return;
    }
    const open = new Set<string>();
    this.open.set(vm, open);
    const problems: Record<string, string> = {};
    try {
      for (const [dev, v] of devs) {
        if (v.params?.['kind'] !== undefined) {
          try {
            await this.backend.plugVirtio(vm, dev, v.params);
          } catch (err) {
            // Its image or its network is gone: the device cannot be made again.
            problems[dev] = (err as Error).message;
            await this.put(vm, dev, 'Closed', `io-backend restarted and could not make the device again: ${problems[dev]}`);
            continue;
          }
        }
        open.add(dev);
      }
      for (const dev of open) {
        let text: string | undefined;
        try {
          text = await this.backend.savedState?.get(vm, dev);
        } catch (err) {
          problems[dev] = `saved state could not be read: ${(err as Error).message}`;
        }
        const why = await this.backend.restoreDevice(vm, dev, text);
        if (why !== undefined) problems[dev] = why;
      }
    } finally {
      this.backend.finishRestore(vm);
    }
    this.log.info({ vm, devices: [...open], problems, ms: Date.now() - started }, 'xenbus: vm taken over from the tree after a restart');
  }

  private onEntry(e: KvWatchEntry): void {
    const k = parseDeviceKey(e.key);
    const v = decodeDeviceEnd(e.value);
    if (!k || !v) return;
    const prev = this.queues.get(k.vm) ?? Promise.resolve();
    const next = prev
      .then(() => this.step(k.vm, k.dev, k.end, v))
      .catch((err: unknown) => this.log.warn({ vm: k.vm, device: k.dev, err: (err as Error).message }, 'xenbus step failed'));
    this.queues.set(k.vm, next);
  }

  private async step(vm: string, dev: string, end: 'frontend' | 'backend', v: DeviceEndState): Promise<void> {
    if (end === 'backend') {
      if (v.state === 'Initialising') await this.probe(vm, dev, v.params);
      return;
    }
    const entry = await this.backendEntry(vm, dev);
    const mine = entry?.state;
    if (v.state === 'Initialised' && mine === 'InitWait') {
      await this.put(vm, dev, 'Connected', undefined, entry?.params);
    } else if (v.state === 'Closing' && (mine === 'Connected' || mine === 'InitWait')) {
      await this.backend.flushConsole(vm);
      await this.put(vm, dev, 'Closing', undefined, entry?.params);
    } else if (v.state === 'Closed' && mine !== undefined && mine !== 'Closed') {
      const open = this.open.get(vm);
      open?.delete(dev);
      await this.backend.unplugVirtio(vm, dev);
      await this.backend.forgetSaved(vm, dev);
      if (!open || open.size === 0) {
        this.open.delete(vm);
        await this.backend.detach(vm).catch((err: unknown) => {
          if (!(err instanceof RpcError && err.code === 'NOT_FOUND')) throw err;
        });
        this.log.info({ vm }, 'xenbus: every device closed; vm detached');
      }
      await this.put(vm, dev, 'Closed');
    }
  }

  private async probe(vm: string, dev: string, params: Record<string, string> | undefined): Promise<void> {
    if (!this.backend.attached.includes(vm)) {
      try {
        await this.backend.attach(vm);
      } catch (err) {
        await this.put(vm, dev, 'Closed', `cannot attach vm "${vm}": ${(err as Error).message}`);
        return;
      }
    }
    // A device that comes with a kind is made here from its params (a virtio device into
    // its slot); the machine's own devices already exist with the VM.
    if (params?.['kind'] !== undefined && !(this.backend.deviceNames(vm) ?? []).includes(dev)) {
      try {
        await this.backend.plugVirtio(vm, dev, params);
      } catch (err) {
        await this.put(vm, dev, 'Closed', (err as Error).message);
        if (!this.open.get(vm)?.size) await this.backend.detach(vm).catch(() => undefined);
        return;
      }
    }
    const names = this.backend.deviceNames(vm) ?? [];
    if (!names.includes(dev)) {
      await this.put(vm, dev, 'Closed', `io-backend has no device "${dev}" (it has ${names.join(', ')})`);
      if (!this.open.get(vm)?.size) await this.backend.detach(vm).catch(() => undefined);
      return;
    }
    let open = this.open.get(vm);
    if (!open) this.open.set(vm, (open = new Set()));
    open.add(dev);
    // A new device starts afresh: a record left by a VM of the same name is not its state.
    await this.backend.forgetSaved(vm, dev);
    // The params stay in the backend's entry while the device is open (as Xen's backend
    // directory keeps them): a restarted io-backend makes the device again from them.
    await this.put(vm, dev, 'InitWait', undefined, params);
  }

  private async backendEntry(vm: string, dev: string): Promise<DeviceEndState | undefined> {
    const e = await this.kv.get(kvKeys.vmDevice(vm, dev, 'backend'));
    return e && e.operation === 'PUT' ? decodeDeviceEnd(e.value) : undefined;
  }

  private async put(vm: string, dev: string, state: XenbusState, error?: string, params?: Record<string, string>): Promise<void> {
    await this.kv.put(
      kvKeys.vmDevice(vm, dev, 'backend'),
      encodeDeviceEnd({ state, by: BY, at: Date.now(), ...(error !== undefined && { error }), ...(params !== undefined && { params }) }),
    );
    this.log.debug({ vm, device: dev, state, ...(error !== undefined && { error }) }, 'xenbus backend');
  }
}
