// Device state that must outlive io-backend (issue 15): what a guest set up in its devices
// and cannot be read back from guest RAM (the virtio-mmio transport's Status, features and
// queue addresses; the UART's registers). It lives in the xenbus tree, one key per VM
// device (kvKeys.vmDeviceSaved), so a restarted io-backend takes every VM's devices over
// where the guest left them, as vhost-user-blk's backend does after a reconnect.
//
// Written when the guest changes a setup register, never per request: the devices report
// setup changes (onSetupChange), this marks the device and writes its record, skipping a
// record equal to the last one written. The MMIO exit that caused the change waits for the
// write for up to SETTLE_MS (so a guest is never told of a setup its backend could lose),
// then lets the write finish in the background: a NATS outage stalls no vCPU past that.
import type { KV } from '@splitvisor/bus';
import { kvKeys } from '@splitvisor/bus';
import type { Logger } from '@splitvisor/log';

/** Where saved records live (the KV tree; a map in tests). */
export interface SavedStateStore {
  get(vm: string, dev: string): Promise<string | undefined>;
  put(vm: string, dev: string, text: string): Promise<void>;
  delete(vm: string, dev: string): Promise<void>;
}

export class KvSavedStateStore implements SavedStateStore {
  constructor(private readonly kv: KV) {}

  async get(vm: string, dev: string): Promise<string | undefined> {
    const e = await this.kv.get(kvKeys.vmDeviceSaved(vm, dev));
    return e && e.operation === 'PUT' && e.length > 0 ? e.string() : undefined;
  }

  async put(vm: string, dev: string, text: string): Promise<void> {
    await this.kv.put(kvKeys.vmDeviceSaved(vm, dev), text);
  }

  async delete(vm: string, dev: string): Promise<void> {
    await this.kv.delete(kvKeys.vmDeviceSaved(vm, dev));
  }
}

/** How long an MMIO exit that changed a device's setup waits for its record to be stored. */
export const SETTLE_MS = 250;

export interface StatePersisterOptions {
  vm: string;
  /** A device's record now, or undefined when it has nothing to save (not plugged). */
  snapshot(dev: string): string | undefined;
  /** The store, once there is one (the KV bucket may come after the process starts). */
  store(): SavedStateStore | undefined;
  log: Logger;
  /** Pause after a failed write before the next attempt (default 200 ms). */
  retryMs?: number;
}

/** One VM's saved device records: marked on setup changes, written in the background. */
export class StatePersister {
  private readonly dirty = new Set<string>();
  /** Per device, the record the store holds (as far as this process knows). */
  private readonly written = new Map<string, string>();
  private running: Promise<void> | undefined;
  private stopped = false;
  private failuresLogged = 0;
  readonly stats = { writes: 0, skipped: 0, failures: 0 };

  constructor(private readonly o: StatePersisterOptions) {}

  /** A write is due or under way. The one check the MMIO path makes. */
  get pending(): boolean {
    return this.running !== undefined;
  }

  /** `dev`'s setup may have changed: its record is written (if it did) soon. */
  mark(dev: string): void {
    if (this.stopped) return;
    this.dirty.add(dev);
    this.running ??= this.loop().finally(() => {
      this.running = undefined;
      // Marked while the last write finished: go again.
      if (this.dirty.size > 0 && !this.stopped) this.mark([...this.dirty][0]!);
    });
  }

  /** What the store holds for `dev` now (a record it was restored from). */
  known(dev: string, text: string | undefined): void {
    if (text === undefined) this.written.delete(dev);
    else this.written.set(dev, text);
  }

  /** Resolves once every marked record is written, or after `ms`, whichever comes first. */
  async settle(ms = SETTLE_MS): Promise<void> {
    const r = this.running;
    if (!r) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([r, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  }

  /** No more writes (the VM is detached, or the process stops). */
  stop(): void {
    this.stopped = true;
    this.dirty.clear();
  }

  private async loop(): Promise<void> {
    while (this.dirty.size > 0 && !this.stopped) {
      const store = this.o.store();
      if (!store) {
        this.dirty.clear();
        return;
      }
      const devs = [...this.dirty];
      this.dirty.clear();
      for (const dev of devs) {
        if (this.stopped) return;
        const text = this.o.snapshot(dev);
        if (text === undefined || this.written.get(dev) === text) {
          this.o.log.trace({ device: dev }, 'saved state unchanged');
          this.stats.skipped++;
          continue;
        }
        try {
          await store.put(this.o.vm, dev, text);
          this.written.set(dev, text);
          this.stats.writes++;
        } catch (e) {
          this.stats.failures++;
          if (this.failuresLogged++ < 10)
            this.o.log.warn(
              { device: dev, err: (e as Error).message },
              'device state not saved; trying again (a restarted io-backend would take over an older setup)',
            );
          this.dirty.add(dev);
          await new Promise((r) => setTimeout(r, this.o.retryMs ?? 200));
        }
      }
    }
  }
}
