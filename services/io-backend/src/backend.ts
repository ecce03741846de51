// The io-backend's state: which VMs are attached, their devices, and the NATS side of each
// (console out to JetStream, console in from core NATS, lifecycle events). The gRPC layer
// (handlers.ts) only translates; everything a guest can trigger comes back as a value.
import { randomBytes } from 'node:crypto';
import type { Logger } from '@splitvisor/log';
import { vmLogger } from '@splitvisor/log';
import { subjects, type Bus, type Unsubscribe } from '@splitvisor/bus';
import {
  ConsoleInputCodec,
  ConsoleOutputCodec,
  IrqLevelsCodec,
  IrqLineCodec,
  IrqQueryCodec,
  LifecycleEventCodec,
  ShadowRevokeAckCodec,
  ShadowRevokeCodec,
  type EventsV1,
  type IoV1,
} from '@splitvisor/proto';
import { alreadyExists, failedPrecondition, invalidArgument, notFound, unavailable, vmIdArg } from '@splitvisor/rpc';
import { GOLDFISH_RTC, UART0, gpa, hex, virtioMmioSlot } from '@splitvisor/platform';
import { decodeUartState, type SystemEvent, type UartSavedState } from '@splitvisor/devices';
import { ConsoleOut, type ConsoleOutOptions, type ConsoleOutStats } from './console.js';
import { VmDevices, type VmDeviceStats } from './vm-devices.js';
import { PostedWrites, type PostedWriteStats } from './posted-writes.js';
import type { DmaCounters } from './virtio/guest-memory.js';
import type { GuestMemory } from '@splitvisor/virtio';
import { NetworkHub } from './virtio/network-hub.js';
import { createVirtioDevice, parseVirtioParams } from './virtio/plug.js';
import type { PluggedStats } from './virtio/virtio-socket.js';
import { SETTLE_MS, StatePersister, type SavedStateStore } from './saved-state.js';
import { UartShadowGrants } from './read-shadow.js';

/** Console chunk ids: this process's, so a restarted io-backend's never collide with its
 *  predecessor's inside the stream's duplicate window. */
const CONSOLE_EPOCH = randomBytes(4).toString('hex');
/** Attaches made by this process (part of each console chunk's id). */
let attachCount = 0;
/** How long a console chunk is sent again while NATS is away (a restart takes ~1 s); the
 *  output behind it waits, up to ConsoleOut's bound, so order is kept. */
const CONSOLE_RETRY_MS = 30_000;

/** The identity this service calls mmu's DMA under (dom0 grants it with AttachDevice). */
export const DMA_CALLER = 'io-backend';

export const SOURCE = 'io-backend';

/** A VM's RAM as its devices see it (virtio/guest-memory.ts: DMA through mmu), with counters. */
export type DeviceMemory = GuestMemory & { readonly stats: DmaCounters; close?(): void };

export interface IoBackendOptions {
  /** A VM's RAM for its devices (virtio devices need it); none: no virtio devices. */
  deviceMemory?: (vmId: string) => DeviceMemory;
  /** How long the cpu may serve a UART read shadow grant (default SHADOW_LEASE_MS). */
  shadowLeaseMs?: number;
  /** Console coalescing, for tests (defaults: 512 bytes, 10 ms). */
  console?: Pick<ConsoleOutOptions, 'maxBytes' | 'delayMs' | 'maxBufferedBytes' | 'maxChunkBytes'>;
}

export interface VmStats extends VmDeviceStats, PostedWriteStats {
  console: ConsoleOutStats;
  /** Level of each PLIC source this VM's devices drive, last reported. */
  irqLines: Record<number, boolean>;
  /** Line changes from low to high since attach. */
  irqsRaised: number;
  /** Each plugged virtio device: where it sits, its transport's and its own counters. */
  virtio: ({ id: string; kind: string; slot: number } & PluggedStats)[];
  /** DMA through mmu on behalf of this VM's devices. */
  dma?: DmaCounters;
}

interface AttachedVm {
  readonly id: string;
  readonly devices: VmDevices;
  readonly console: ConsoleOut;
  readonly irqLines: Record<number, boolean>;
  readonly irqCount: { raised: number };
  readonly log: Logger;
  /** Writes its vCPU did not wait for: coalesced MMIO and doorbells (posted-writes.ts). */
  readonly posted: PostedWrites;
  /** Drives one PLIC source of this VM (the level goes out as an event). */
  readonly irq: (source: number, level: boolean) => void;
  /** While one MMIO access is served: the line changes it causes, for its reply. */
  readonly lineChanges: { during?: EventsV1.IrqLine[] };
  /** Guest RAM through mmu, made when the first virtio device is plugged. */
  mem: DeviceMemory | undefined;
  unsubscribe: Unsubscribe;
  /** The devices' saved state (saved-state.ts): written when the guest changes a setup. */
  readonly persist: StatePersister;
  /** While the VM's devices are being taken over (restore): the guest's accesses, posted
   *  writes, doorbells and console input wait for it. Undefined once open. */
  gate: Promise<void> | undefined;
  openGate: () => void;
  /** Publishes a line's level whether or not it changed (the re-sync after a restore). */
  readonly publishLine: (source: number, level: boolean) => void;
  /** The UART registers the vCPU may read without an exit, granted and revoked (read-shadow.ts). */
  readonly shadow: UartShadowGrants;
}

export class IoBackend {
  private readonly vms = new Map<string, AttachedVm>();
  private stopping = false;
  private savedStore: SavedStateStore | undefined;
  /** While the xenbus tree is read at start (xenbus-backend.ts restoreAll): an exit for a
   *  VM not attached yet waits for it, since it may be one being taken over. */
  restoring: Promise<void> | undefined;
  /** The virtual switches the VMs' NICs are ports on. */
  readonly networks: NetworkHub;

  constructor(
    private readonly bus: Bus,
    private readonly log: Logger,
    readonly opts: IoBackendOptions = {},
  ) {
    this.networks = new NetworkHub(bus, log);
  }

  get attached(): readonly string[] {
    return [...this.vms.keys()];
  }

  /** Where the devices' saved state goes (the KV tree, once the bucket is there). */
  useSavedState(store: SavedStateStore): void {
    this.savedStore = store;
  }

  get savedState(): SavedStateStore | undefined {
    return this.savedStore;
  }

  /**
   * Attaches a VM's machine devices. With `restoring`, the VM is being taken over from a
   * previous io-backend (restoreDevice, then finishRestore): until finishRestore, whatever
   * the guest does to its devices waits.
   */
  async attach(vmId: string, opts: { restoring?: boolean } = {}): Promise<void> {
    if (this.stopping) throw unavailable('io-backend is stopping');
    vmIdArg(vmId, 'vm_id');
    if (this.vms.has(vmId)) throw alreadyExists(`vm "${vmId}" is already attached`);
    const log = vmLogger(this.log, vmId);
    const outSubject = subjects.consoleOut(vmId);
    let consoleSeq = 0;
    // Per attach, not per process: a VM attached again (a reboot, a start after shutdown)
    // counts its chunks from 1 again, and ids already in the stream's duplicate window
    // would have its new console dropped as duplicates.
    const consoleEpoch = `${CONSOLE_EPOCH}.${++attachCount}`;
    const console = new ConsoleOut({
      ...this.opts.console,
      // Each chunk has an id, so one sent again across a NATS restart is stored once.
      publish: (data) =>
        this.bus.publishDurable(
          outSubject,
          ConsoleOutputCodec,
          { vmId, data },
          { msgId: `${vmId}.${consoleEpoch}.${++consoleSeq}`, retryForMs: CONSOLE_RETRY_MS },
        ),
      onError: (err, bytes) => log.warn({ err: err.message, bytes }, 'console output lost'),
    });
    const irqLines: Record<number, boolean> = {};
    const irqCount = { raised: 0 };
    // The cpu keeps, per line, the newest change it heard and drops older ones (its
    // irq-lines.ts). A restarted io-backend must not start again below its predecessor,
    // or its changes would all look stale: the sequence starts at the clock (µs-scale
    // units; a VM makes far fewer than 1000 line changes a millisecond).
    let irqSeq = Date.now() * 1000;
    const irqSubject = subjects.irq(vmId);
    const lineChanges: { during?: EventsV1.IrqLine[] } = {};
    const publishLine = (source: number, level: boolean) => {
      irqLines[source] = level;
      const line = { vmId, irq: source, level, seq: ++irqSeq };
      lineChanges.during?.push(line);
      this.bus.publish(irqSubject, IrqLineCodec, line);
    };
    const irq = (source: number, level: boolean) => {
      // irqfd-like: the line's new level goes out as an event; the cpu's PLIC follows it.
      if (irqLines[source] === level) return;
      irqLines[source] = level;
      if (level) irqCount.raised++;
      const line = { vmId, irq: source, level, seq: ++irqSeq };
      lineChanges.during?.push(line);
      this.bus.publish(irqSubject, IrqLineCodec, line);
      log.trace({ irq: source, level }, 'irq line');
    };
    const persist = new StatePersister({ vm: vmId, snapshot: (dev) => this.snapshotDevice(vmId, dev), store: () => this.savedStore, log });
    const devices = new VmDevices({ consoleByte: (b) => console.push(b), irq, setupChanged: (dev) => persist.mark(dev) });
    // In the map before the first await, so a concurrent attach of the same id is refused.
    let openGate = () => undefined as void;
    const gate = opts.restoring ? new Promise<void>((resolve) => (openGate = resolve)) : undefined;
    const vm: AttachedVm = {
      id: vmId,
      devices,
      console,
      irqLines,
      irqCount,
      log,
      posted: new PostedWrites(vmId, devices, log),
      irq,
      lineChanges,
      mem: undefined,
      unsubscribe: () => undefined,
      persist,
      gate,
      openGate: () => undefined,
      publishLine,
      shadow: new UartShadowGrants(
        devices.uart,
        UART0.base,
        async (epoch) => {
          await this.bus.request(
            subjects.shadowRevoke(vmId),
            ShadowRevokeCodec,
            { vmId, base: UART0.base, epoch },
            ShadowRevokeAckCodec,
            vm.shadow.revokeTimeoutMs,
          );
        },
        log,
        this.opts.shadowLeaseMs,
      ),
    };
    vm.openGate = () => {
      vm.gate = undefined;
      openGate();
    };
    this.vms.set(vmId, vm);
    // A cpu that (re)subscribes asks for the current levels: lines are state, not pulses.
    const stopQuery = this.bus.serve(subjects.irqQuery(vmId), IrqQueryCodec, IrqLevelsCodec, () => ({
      vmId,
      lines: Object.entries(irqLines).map(([irq, level]) => ({ vmId, irq: Number(irq), level, seq: irqSeq })),
    }));
    const stopInput = this.bus.subscribe(subjects.consoleIn(vmId), ConsoleInputCodec, (msg) => {
      if (msg.vmId !== '' && msg.vmId !== vmId) {
        log.warn({ from: msg.vmId }, "console input for another vm on this vm's subject; dropped");
        return;
      }
      // Input changes RBR and LSR: the vCPU's read shadow of them goes first.
      const take = () =>
        void vm.shadow.change(() => {
          const queued = devices.consoleInput(msg.data);
          if (queued < msg.data.length) log.debug({ dropped: msg.data.length - queued }, 'uart receive queue full; input dropped');
        });
      if (vm.gate) void vm.gate.then(take);
      else take();
    });
    const stopDoorbells = vm.posted.follow(this.bus, () => vm.gate);
    vm.unsubscribe = () => {
      stopDoorbells();
      stopInput();
      stopQuery();
    };
    // The subscription is live at the server before AttachVm answers: input typed right
    // after attach is not lost. Without NATS the VM would have no console: undo the attach.
    try {
      await this.bus.nc.flush();
    } catch (e) {
      if (this.vms.get(vmId) === vm) this.vms.delete(vmId);
      vm.unsubscribe();
      throw unavailable(`vm "${vmId}": NATS did not confirm the console input subscription: ${(e as Error).message}`);
    }
    log.info({ devices: devices.bus.mappings().map((m) => `${m.device.name}@${hex(m.base)}`) }, 'vm attached');
  }

  async detach(vmId: string): Promise<VmStats> {
    const vm = this.vms.get(vmId);
    if (!vm) throw notFound(`vm "${vmId}" is not attached`);
    this.vms.delete(vmId);
    const stats = await this.release(vm);
    vm.log.info('vm detached');
    return stats;
  }

  /** One MMIO exit. Every guest-caused outcome is a reply; only an unknown VM is an error. */
  async mmio(req: IoV1.MmioRequest__Output): Promise<IoV1.MmioReply> {
    if (this.stopping) throw unavailable('io-backend is stopping');
    // The common case costs a map lookup, as before: no extra await on the exit path.
    const found = this.vms.get(req.vmId);
    const vm = found && !found.gate ? found : await this.ready(req.vmId);
    // What the vCPU posted before this exit goes first, as KVM drains its coalesced ring.
    // Line changes of the posted writes and of the access go back with the reply: the vCPU
    // must not run on with a line the access already lowered (or raised).
    const irqLines: EventsV1.IrqLine[] = [];
    vm.lineChanges.during = irqLines;
    let r;
    try {
      vm.posted.apply(req.posted);
      if (req.postedOnly) return { status: 'MMIO_OK', irqLines };
      r = vm.devices.access(gpa(req.addr), req.size, req.write, req.valueLo, req.valueHi);
    } finally {
      vm.lineChanges.during = undefined;
    }
    // A setup register changed: its saved record is stored before the guest hears back
    // (bounded: see saved-state.ts). Nothing is due after a data access.
    if (vm.persist.pending) await vm.persist.settle(SETTLE_MS);
    if (!r.ok) return { status: r.kind === 'unmapped' ? 'MMIO_UNMAPPED' : 'MMIO_BAD_ACCESS', detail: r.reason, irqLines };
    if (r.event) return { ...(await this.systemEvent(vm, r.event, r.device, req.addr)), irqLines };
    // An access of the UART: the reply grants its side-effect-free registers as they are now.
    const shadow = r.device === vm.devices.uart.name ? vm.shadow.grant() : undefined;
    return { status: 'MMIO_OK', valueLo: r.lo, valueHi: r.hi, irqLines, ...(shadow && { shadow }) };
  }

  /** A vCPU's posted writes on their own (coalesced MMIO it did not exit for), in order. */
  async postWrites(req: IoV1.PostWritesRequest__Output): Promise<void> {
    if (this.stopping) throw unavailable('io-backend is stopping');
    const found = this.vms.get(req.vmId);
    const vm = found && !found.gate ? found : await this.ready(req.vmId);
    vm.posted.apply(req.writes);
  }

  /** The attached VM, once its devices are taken over if they are being (restore). */
  private async ready(vmId: string): Promise<AttachedVm> {
    let vm = this.vms.get(vmId);
    if (!vm && this.restoring) {
      await this.restoring;
      vm = this.vms.get(vmId);
    }
    if (!vm) throw notFound(`vm "${vmId}" is not attached`);
    if (vm.gate) await vm.gate;
    if (this.stopping) throw unavailable('io-backend is stopping');
    return vm;
  }

  /** A device's saved-state record now (saved-state.ts), or undefined when it has none. */
  private snapshotDevice(vmId: string, dev: string): string | undefined {
    const vm = this.vms.get(vmId);
    if (!vm) return undefined;
    if (dev === vm.devices.uart.name) return JSON.stringify(vm.devices.uart.saveState());
    return vm.devices.virtio.find((s) => s.plugged?.id === dev)?.plugged?.save();
  }

  /**
   * Takes one device of a VM attached with `restoring` over from the record a previous
   * io-backend saved (`text`; undefined when there is none: the device stays as at power
   * on). Returns why it could not be, or undefined. Never throws for what the record says:
   * a record that is refused leaves a virtio device in DEVICE_NEEDS_RESET and the UART at
   * power-on, and the reason is logged.
   */
  async restoreDevice(vmId: string, dev: string, text: string | undefined): Promise<string | undefined> {
    const vm = this.vms.get(vmId);
    if (!vm) throw notFound(`vm "${vmId}" is not attached`);
    let problem: string | undefined;
    if (dev === vm.devices.uart.name) {
      let state: UartSavedState | undefined;
      if (text !== undefined) {
        try {
          state = decodeUartState(text);
        } catch (e) {
          problem = `${dev}: ${(e as Error).message}; the UART is left as at power-on`;
        }
      }
      // A read shadow the predecessor granted shows its UART, not this one: revoked first.
      await vm.shadow.change(() => state && vm.devices.uart.restoreState(state), true);
    } else {
      const plugged = vm.devices.virtio.find((s) => s.plugged?.id === dev)?.plugged;
      if (!plugged) return undefined; // sifive_test, rtc: nothing a guest sets up survives
      problem = await plugged.restore(text);
    }
    vm.persist.known(dev, problem === undefined ? text : undefined);
    if (problem !== undefined) {
      vm.log.warn({ device: dev, reason: problem }, 'device state not restored');
      vm.persist.mark(dev);
    } else vm.log.info({ device: dev, saved: text !== undefined }, text !== undefined ? 'device state restored' : 'no saved state: device as at power-on');
    return problem;
  }

  /**
   * The VM's devices are taken over: every line this VM's devices drive is published at
   * its level now (a newer sequence than the cpu holds, so it is believed), then the
   * guest's accesses that waited go on.
   */
  finishRestore(vmId: string): void {
    const vm = this.vms.get(vmId);
    if (!vm) return;
    const d = vm.devices;
    vm.publishLine(UART0.irq!, d.uart.irq);
    vm.publishLine(GOLDFISH_RTC.irq!, false);
    d.virtio.forEach((s, i) => {
      const t = s.plugged?.transport as { irq?: boolean } | undefined;
      vm.publishLine(virtioMmioSlot(i).irq!, t?.irq === true);
    });
    vm.openGate();
    vm.log.info({ high: Object.entries(vm.irqLines).flatMap(([l, v]) => (v ? [Number(l)] : [])) }, 'vm devices taken over; IRQ lines re-synced');
  }

  /** Forgets a device's saved record (the device closed, or a new one is set up). */
  async forgetSaved(vmId: string, dev: string): Promise<void> {
    this.vms.get(vmId)?.persist.known(dev, undefined);
    await this.savedStore
      ?.delete(vmId, dev)
      .catch((e: unknown) => this.log.warn({ vm: vmId, device: dev, err: (e as Error).message }, 'saved device state not deleted'));
  }

  /** The names of an attached VM's devices (what its xenbus device entries may name). */
  deviceNames(vmId: string): string[] | undefined {
    const vm = this.vms.get(vmId);
    if (!vm) return undefined;
    const plugged = vm.devices.virtio.flatMap((s) => (s.plugged ? [s.plugged.id] : []));
    return [...vm.devices.bus.mappings().map((m) => m.device.name), ...plugged];
  }

  /**
   * Plugs a virtio device into one of an attached VM's slots, from the parameters dom0
   * wrote (xenbus backend params): its image file opened, its switch port joined, its
   * transport answering at the slot. The guest finds it when it probes; dom0 plugs every
   * device before the vCPU starts.
   */
  async plugVirtio(vmId: string, id: string, params: Readonly<Record<string, string>>): Promise<void> {
    const vm = this.vms.get(vmId);
    if (!vm) throw notFound(`vm "${vmId}" is not attached`);
    let p;
    try {
      p = parseVirtioParams(id, params);
    } catch (e) {
      throw invalidArgument((e as Error).message);
    }
    const socket = vm.devices.virtio[p.slot]!;
    if (socket.plugged) throw alreadyExists(`vm "${vmId}": ${socket.name} (slot ${p.slot}) already holds ${socket.plugged.id}; cannot plug ${id}`);
    if (!this.opts.deviceMemory) throw failedPrecondition(`vm "${vmId}": ${id} needs DMA, and this io-backend was started without an mmu address (--mmu)`);
    vm.mem ??= this.opts.deviceMemory(vmId);
    const source = virtioMmioSlot(p.slot).irq!;
    let plugged;
    try {
      plugged = await createVirtioDevice(id, p, {
        mem: vm.mem,
        hub: this.networks,
        irq: (level) => vm.irq(source, level),
        setupChanged: () => vm.persist.mark(id),
        log: vm.log,
      });
    } catch (e) {
      throw failedPrecondition(`vm "${vmId}": ${id}: ${(e as Error).message}`);
    }
    // The VM may have been detached while the file opened.
    if (this.vms.get(vmId) !== vm || socket.plugged) {
      await plugged.close();
      throw failedPrecondition(`vm "${vmId}": ${id}: the vm was detached, or the slot taken, while the device opened`);
    }
    socket.plug(plugged);
    vm.log.info({ device: id, kind: p.kind, slot: p.slot, at: hex(virtioMmioSlot(p.slot).base), irq: source }, 'virtio device plugged');
  }

  /** Takes a virtio device out of its slot and closes it (file closed, port left). */
  async unplugVirtio(vmId: string, id: string): Promise<boolean> {
    const vm = this.vms.get(vmId);
    const socket = vm?.devices.virtio.find((s) => s.plugged?.id === id);
    const d = socket?.unplug();
    if (!d) return false;
    await d.close();
    vm!.log.info({ device: id, stats: d.stats() }, 'virtio device unplugged');
    return true;
  }

  /** Stores whatever console output is still coalescing (a device closing). */
  async flushConsole(vmId: string): Promise<void> {
    await this.vms.get(vmId)?.console.flush();
  }

  stats(vmId: string): VmStats | undefined {
    const vm = this.vms.get(vmId);
    return vm && snapshot(vm);
  }

  /** SIGTERM: refuse new work, flush every console, drop the subscriptions. */
  async stop(): Promise<void> {
    this.stopping = true;
    const vms = [...this.vms.values()];
    this.vms.clear();
    await Promise.all(vms.map((vm) => this.release(vm)));
    this.networks.stop();
  }

  /**
   * Poweroff or reset. Order matters: the console is flushed (stored in JetStream) before
   * the lifecycle event is, so whoever sees the event can already read all the output that
   * led to it. Only then does the vCPU hear of it.
   */
  private async systemEvent(vm: AttachedVm, event: SystemEvent, device: string, addr: number): Promise<IoV1.MmioReply> {
    await vm.console.flush();
    const reason = `guest wrote ${hex(event.value)} to ${device} at ${hex(addr)}`;
    const poweroff = event.kind === 'poweroff';
    const exitCode = poweroff ? event.exitCode : 0;
    try {
      await this.bus.publishDurable(subjects.lifecycle(vm.id, 'io-backend'), LifecycleEventCodec, {
        vmId: vm.id,
        kind: poweroff ? 'LIFECYCLE_POWEROFF' : 'LIFECYCLE_RESET',
        exitCode,
        reason,
        source: SOURCE,
        at: Date.now(),
      });
    } catch (e) {
      // The vCPU must stop either way; the cpu reports its own exit to dom0.
      vm.log.error({ err: (e as Error).message, event: event.kind }, 'lifecycle event not stored');
    }
    vm.log.info({ event: event.kind, exitCode, reason }, 'system event');
    if (!poweroff) vm.devices.reset(); // a system reset resets every device, as QEMU's does
    return { status: 'MMIO_OK', event: poweroff ? 'SYSTEM_EVENT_POWEROFF' : 'SYSTEM_EVENT_RESET', exitCode };
  }

  private async release(vm: AttachedVm): Promise<VmStats> {
    // What the store holds stays: after a stop, the next io-backend takes the devices over.
    vm.persist.stop();
    vm.openGate();
    vm.unsubscribe();
    await vm.console.flush();
    const stats = snapshot(vm);
    for (const socket of vm.devices.virtio) {
      const d = socket.unplug();
      if (d) await d.close().catch((e: unknown) => vm.log.warn({ device: d.id, err: (e as Error).message }, 'virtio device did not close cleanly'));
    }
    vm.mem?.close?.();
    vm.log.debug({ stats }, 'vm device stats');
    return stats;
  }
}

function snapshot(vm: AttachedVm): VmStats {
  const s = vm.devices.stats;
  return {
    ...s,
    mmio: Object.fromEntries(Object.entries(s.mmio).map(([k, v]) => [k, { ...v }])),
    console: { ...vm.console.stats },
    irqLines: { ...vm.irqLines },
    irqsRaised: vm.irqCount.raised,
    ...vm.posted.stats,
    virtio: vm.devices.virtio.flatMap((s, slot) => (s.plugged ? [{ id: s.plugged.id, kind: s.plugged.kind, slot, ...s.plugged.stats() }] : [])),
    ...(vm.mem && { dma: { ...vm.mem.stats } }),
  };
}
