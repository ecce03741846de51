// dom0's end of the xenbus handshake (libs/bus xenbus.ts): as the toolstack it creates
// both ends of each device in KV, then plays the guest's side (the frontend) while
// io-backend answers for the backend through its watch. Each step waits for the other
// end's state, so a device is Connected on both sides before the VM may start, and Closed
// on both before its memory is freed.
import {
  decodeDeviceEnd,
  encodeDeviceEnd,
  followKv,
  kvKeys,
  parseDeviceKey,
  type Bus,
  type DeviceEnd,
  type DeviceEndState,
  type KV,
  type KvWatchEntry,
  type XenbusState,
} from '@splitvisor/bus';
import type { Logger } from '@splitvisor/log';
import { failedPrecondition, RpcError, unavailable } from '@splitvisor/rpc';

/** The devices every VM gets: the virt machine's UART0 (console) and sifive_test finisher,
 *  by the names io-backend gives them. */
export const VM_DEVICES = ['uart0', 'sifive_test'] as const;

const BY = 'dom0';

/** A device and what its backend is told about it. */
export interface DeviceSpec {
  id: string;
  params: Record<string, string>;
}

interface Seen {
  state: DeviceEndState;
  revision: number;
}

/** Follows the backend ends of one VM's devices; `until` waits for one of some states. */
class BackendWatch {
  private readonly latest = new Map<string, Seen>();
  private readonly waiters = new Set<() => void>();

  private stopWatch: () => void = () => undefined;

  private onEntry(e: KvWatchEntry): void {
    const k = parseDeviceKey(e.key);
    const v = e.operation === 'PUT' ? decodeDeviceEnd(e.value) : undefined;
    if (!k || k.end !== 'backend') return;
    if (v) this.latest.set(k.dev, { state: v, revision: e.revision });
    else this.latest.delete(k.dev);
    for (const w of [...this.waiters]) w();
  }

  /** With `bus`, the watch is opened again after a reconnect or a cluster node's loss
   *  (followKv), so a handshake under way when a NATS node goes still completes. */
  static async open(kv: KV, vm: string, log: Logger, bus?: Bus): Promise<BackendWatch> {
    const w = new BackendWatch();
    const key = `vm.${vm}.device.*.backend`;
    if (bus) {
      w.stopWatch = await followKv(bus, kv, { key, what: `xenbus handshake of ${vm}` }, (e) => w.onEntry(e), log);
      return w;
    }
    const it = await kv.watch({ key });
    w.stopWatch = () => it.stop();
    void (async () => {
      for await (const e of it) w.onEntry(e);
    })().catch(() => undefined);
    return w;
  }

  /** The backend's state once it is one of `states`, written at `afterRevision` or later. */
  until(vm: string, dev: string, states: readonly XenbusState[], afterRevision: number, timeoutMs: number): Promise<DeviceEndState> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const s = this.latest.get(dev);
        if (s && s.revision >= afterRevision && states.includes(s.state.state)) {
          done();
          resolve(s.state);
        }
      };
      const timer = setTimeout(() => {
        done();
        const now = this.latest.get(dev);
        reject(
          unavailable(
            `device ${dev} of vm "${vm}": io-backend did not answer the xenbus handshake within ${timeoutMs} ms (backend ${now ? now.state.state : 'absent'}, waiting for ${states.join(' or ')})`,
          ),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  stop(): void {
    this.stopWatch();
  }
}

export interface HandshakeOptions {
  /** How long io-backend may take for one step. */
  timeoutMs?: number;
  /** Whether io-backend answers at all: a teardown does not wait for a dead backend. */
  backendAlive?: () => Promise<boolean>;
  /** The bus the KV is on: watches then survive reconnects and a cluster node's loss. */
  bus?: Bus;
}

export class DeviceHandshake {
  constructor(
    private readonly kv: KV,
    private readonly log: Logger,
    private readonly opts: HandshakeOptions = {},
  ) {}

  private async put(vm: string, dev: string, end: DeviceEnd, state: XenbusState, params?: Record<string, string>): Promise<number> {
    return this.kv.put(kvKeys.vmDevice(vm, dev, end), encodeDeviceEnd({ state, by: BY, at: Date.now(), ...(params && { params }) }));
  }

  /**
   * Every device up on both ends; all or nothing is the caller's (disconnect undoes). A
   * device given with params hands them to its backend with the backend's first state, as
   * Xen's toolstack writes backend/<type>/<dom>/<dev>/params before the backend probes.
   */
  async connect(vm: string, devs: readonly (string | DeviceSpec)[]): Promise<void> {
    const timeoutMs = this.opts.timeoutMs ?? 5000;
    const w = await BackendWatch.open(this.kv, vm, this.log, this.opts.bus);
    try {
      await Promise.all(
        devs.map(async (d) => {
          const dev = typeof d === 'string' ? d : d.id;
          // Frontend first: the backend's watch reacts to its own key, and finds both.
          await this.put(vm, dev, 'frontend', 'Initialising');
          const rev = await this.put(vm, dev, 'backend', 'Initialising', typeof d === 'string' ? undefined : d.params);
          const probed = await w.until(vm, dev, ['InitWait', 'Closed'], rev, timeoutMs);
          if (probed.state === 'Closed') throw failedPrecondition(`device ${dev} of vm "${vm}": ${probed.error ?? 'the backend closed it'}`);
          const rev2 = await this.put(vm, dev, 'frontend', 'Initialised');
          const connected = await w.until(vm, dev, ['Connected', 'Closed'], rev2, timeoutMs);
          if (connected.state === 'Closed') throw failedPrecondition(`device ${dev} of vm "${vm}": ${connected.error ?? 'the backend closed it'}`);
          await this.put(vm, dev, 'frontend', 'Connected');
        }),
      );
    } finally {
      w.stop();
    }
    this.log.debug({ vm, devices: devs.map((d) => (typeof d === 'string' ? d : d.id)) }, 'xenbus: devices connected');
  }

  /** The ids of every device of `vm` that has a key in the store (either end). */
  async devicesOf(vm: string): Promise<string[]> {
    const ids = new Set<string>();
    for await (const key of await this.kv.keys(kvKeys.vmDevices(vm))) {
      const k = parseDeviceKey(key);
      if (k) ids.add(k.dev);
    }
    return [...ids];
  }

  /**
   * Every device down on both ends (the backend flushes at Closing and detaches at the last
   * Closed), then both keys deleted. Returns false when io-backend did not take part (it is
   * gone, or timed out): the caller then detaches by other means.
   */
  async disconnect(vm: string, devices?: readonly string[]): Promise<boolean> {
    const timeoutMs = this.opts.timeoutMs ?? 5000;
    const devs = devices ?? (await this.devicesOf(vm));
    let clean = true;
    const open: string[] = [];
    for (const dev of devs) {
      const e = await this.kv.get(kvKeys.vmDevice(vm, dev, 'backend'));
      const s = e && e.operation === 'PUT' ? decodeDeviceEnd(e.value)?.state : undefined;
      if (s !== undefined && s !== 'Closed') open.push(dev);
    }
    if (open.length && this.opts.backendAlive && !(await this.opts.backendAlive())) {
      this.log.warn({ vm, devices: open }, 'xenbus: io-backend does not answer; devices not closed by handshake');
      clean = false;
    } else if (open.length) {
      const w = await BackendWatch.open(this.kv, vm, this.log, this.opts.bus);
      try {
        await Promise.all(
          open.map(async (dev) => {
            const rev = await this.put(vm, dev, 'frontend', 'Closing');
            await w.until(vm, dev, ['Closing', 'Closed'], rev, timeoutMs);
            const rev2 = await this.put(vm, dev, 'frontend', 'Closed');
            await w.until(vm, dev, ['Closed'], rev2, timeoutMs);
          }),
        );
      } catch (e) {
        clean = false;
        this.log.warn({ vm, err: e instanceof RpcError ? e.message : String(e) }, 'xenbus: teardown incomplete');
      } finally {
        w.stop();
      }
    }
    for (const dev of devs) {
      for (const end of ['frontend', 'backend'] as const) await this.kv.delete(kvKeys.vmDevice(vm, dev, end)).catch(() => undefined);
    }
    return clean;
  }
}
