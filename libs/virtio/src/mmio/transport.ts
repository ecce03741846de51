// The virtio-mmio version 2 transport (virtio 1.2 §4.2.2), written once for every device
// (STYLE.md 3; Firecracker transport/mmio.rs). It decodes registers, negotiates features,
// sets up split queues, and drives the level interrupt line; what a queue means is the
// device's business (device.ts).
//
// Every register write from the guest is input, not a command: garbage (a queue size that
// is not a power of two, QueueReady with no ring addresses, a write to a read-only register,
// a queue index out of range) is ignored as the spec allows, counted, and described in
// stats().lastError. Nothing here throws because of what a guest wrote.
import { hex, type MmioOffset } from '@splitvisor/platform';
import { describeAccess, done, refused, type DeviceAccessSize, type DeviceResult, type MmioDevice } from '@splitvisor/devices';
import { INTERRUPT, STATUS, VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC, featureBit, hasFeature } from '../constants.js';
import type { VirtioContext, VirtioDevice } from '../device.js';
import type { GuestMemory } from '../memory.js';
import { SplitQueue, layoutProblem } from '../queue/split-queue.js';
import { REG, registerName } from './registers.js';
import { SAVED_STATE_VERSION, type TransportSavedState } from './saved-state.js';

/** "virt" in little-endian ASCII. */
export const MMIO_MAGIC = 0x74726976;
/** "QEMU", as QEMU's transport (and our empty slot) reports. */
export const MMIO_VENDOR_ID = 0x554d4551;

/** Feature bits the transport itself offers on top of the device's. */
export const TRANSPORT_FEATURES = featureBit(VIRTIO_F_VERSION_1) | featureBit(VIRTIO_RING_F_INDIRECT_DESC) | featureBit(VIRTIO_RING_F_EVENT_IDX);

export interface VirtioMmioTransportOptions {
  name: string;
  device: VirtioDevice;
  mem: GuestMemory;
  /** The interrupt line, called only when its level changes. */
  onIrq(level: boolean): void;
  log?: (msg: string, fields: Record<string, unknown>) => void;
  /**
   * The state saveState() returns may have changed: the driver wrote a setup register
   * (Status, a feature word or selector, QueueSel, a queue's size, addresses or QueueReady)
   * or the device set DEVICE_NEEDS_RESET. Never called for what a request does
   * (QueueNotify, InterruptACK, config space), so saving it stays off the I/O path.
   */
  onSetupChange?: () => void;
}

/** Registers whose writes change what saveState() holds. */
const SETUP_REGISTERS: ReadonlySet<number> = new Set([
  REG.DEVICE_FEATURES_SEL,
  REG.DRIVER_FEATURES,
  REG.DRIVER_FEATURES_SEL,
  REG.QUEUE_SEL,
  REG.QUEUE_NUM,
  REG.QUEUE_READY,
  REG.STATUS,
  REG.QUEUE_DESC_LOW,
  REG.QUEUE_DESC_HIGH,
  REG.QUEUE_DRIVER_LOW,
  REG.QUEUE_DRIVER_HIGH,
  REG.QUEUE_DEVICE_LOW,
  REG.QUEUE_DEVICE_HIGH,
]);

export interface TransportStats {
  /** QueueNotify writes passed to the device. */
  notifies: number;
  /** QueueNotify writes ignored (queue not ready, not DRIVER_OK, out of range, needs reset). */
  ignoredNotifies: number;
  /** Interrupt causes raised (used buffer or config change). */
  interrupts: number;
  /** Times the device went DEVICE_NEEDS_RESET. */
  needsReset: number;
  /** Device resets (Status 0 or a system reset). */
  resets: number;
  /** Register writes ignored as invalid. */
  ignoredWrites: number;
  /** FEATURES_OK accepted from a driver without VIRTIO_F_VERSION_1 (QEMU's leniency). */
  withoutVersion1: number;
  /** The last thing the guest did wrong, in words ("" when nothing). */
  lastError: string;
}

interface QueueState {
  num: number;
  ready: boolean;
  descLo: number;
  descHi: number;
  driverLo: number;
  driverHi: number;
  deviceLo: number;
  deviceHi: number;
  queue: SplitQueue | undefined;
}

const ALL_ONES = 0xffff_ffff;

export class VirtioMmioTransport implements MmioDevice {
  readonly name: string;
  readonly device: VirtioDevice;
  private readonly mem: GuestMemory;
  private readonly onIrq: (level: boolean) => void;
  private readonly log: (msg: string, fields: Record<string, unknown>) => void;
  private readonly onSetupChange: () => void;
  private readonly offered: bigint;
  private readonly counters: TransportStats = {
    notifies: 0,
    ignoredNotifies: 0,
    interrupts: 0,
    needsReset: 0,
    resets: 0,
    ignoredWrites: 0,
    withoutVersion1: 0,
    lastError: '',
  };

  private status = 0;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  private driverFeatures = 0n;
  /** A non-zero DriverFeatures word past the 64 bits anyone offers (kept apart: a bigint shift by a guest's index could be huge). */
  private driverFeaturesBeyond: string | undefined;
  private negotiated = 0n;
  /** The leniency for a driver without VERSION_1 was logged (once per device). */
  private withoutVersion1Logged = false;
  private queueSel = 0;
  private interruptStatus = 0;
  private irqLevel = false;
  private configGeneration = 0;
  private activated = false;
  /** Bumped by every reset: a VirtioContext from before it goes quiet. */
  private epoch = 0;
  private queues: QueueState[];
  private live: (SplitQueue | undefined)[];

  constructor(opts: VirtioMmioTransportOptions) {
    this.name = opts.name;
    this.device = opts.device;
    this.mem = opts.mem;
    this.onIrq = opts.onIrq;
    this.log = opts.log ?? (() => undefined);
    this.onSetupChange = opts.onSetupChange ?? (() => undefined);
    this.offered = opts.device.features | TRANSPORT_FEATURES;
    this.queues = this.freshQueues();
    this.live = this.queues.map(() => undefined);
  }

  /** Level of the interrupt line (InterruptStatus != 0). */
  get irq(): boolean {
    return this.irqLevel;
  }

  /** The device status register as the driver would read it. */
  get deviceStatus(): number {
    return this.status;
  }

  /** Feature bits both sides agreed on at FEATURES_OK (0 before). */
  get features(): bigint {
    return this.negotiated;
  }

  stats(): TransportStats {
    return { ...this.counters };
  }

  deviceStats(): Record<string, number> {
    return this.device.stats?.() ?? {};
  }

  read(offset: MmioOffset, size: DeviceAccessSize): DeviceResult {
    if (offset >= REG.CONFIG) return this.readConfig(offset - REG.CONFIG, size);
    // §4.2.2.2: the register block is accessed 32 bits at a time.
    if (size !== 4 || offset % 4 !== 0)
      return refused(`${this.name}: ${describeAccess('read', offset, size)} (${registerName(offset & ~3)}): virtio-mmio registers are 32-bit`);
    return done(this.readRegister(offset) >>> 0);
  }

  write(offset: MmioOffset, size: DeviceAccessSize, value: number): DeviceResult {
    if (offset >= REG.CONFIG) return this.writeConfig(offset - REG.CONFIG, size, value);
    if (size !== 4 || offset % 4 !== 0)
      return refused(`${this.name}: ${describeAccess('write', offset, size, value)} (${registerName(offset & ~3)}): virtio-mmio registers are 32-bit`);
    this.writeRegister(offset, value >>> 0);
    if (SETUP_REGISTERS.has(offset)) this.onSetupChange();
    return done();
  }

  /** A system reset: as the driver writing 0 to Status. */
  reset(): void {
    this.resetDevice('system reset');
    this.onSetupChange();
  }

  /** What a device backend that takes over must know and cannot read from guest RAM. */
  saveState(): TransportSavedState {
    return {
      v: SAVED_STATE_VERSION,
      kind: 'virtio-mmio',
      deviceId: this.device.deviceId,
      status: this.status,
      deviceFeaturesSel: this.deviceFeaturesSel,
      driverFeaturesSel: this.driverFeaturesSel,
      driverFeatures: `0x${this.driverFeatures.toString(16)}`,
      negotiated: `0x${this.negotiated.toString(16)}`,
      queueSel: this.queueSel,
      interruptStatus: this.interruptStatus,
      configGeneration: this.configGeneration,
      queues: this.queues.map((q) => ({
        num: q.num,
        ready: q.ready,
        descLo: q.descLo,
        descHi: q.descHi,
        driverLo: q.driverLo,
        driverHi: q.driverHi,
        deviceLo: q.deviceLo,
        deviceHi: q.deviceHi,
      })),
    };
  }

  /**
   * Takes over a device another backend ran (io-backend restarted), from its saved state,
   * on a transport the guest has not touched yet (the caller keeps the guest out until
   * this resolves). Each ready queue resumes at used.idx read from guest RAM
   * (SplitQueue.resume): chains made available and not completed are served again. A
   * device that had DRIVER_OK is activated and every ready queue kicked, as if the driver
   * had notified it. Its interrupt line is raised: InterruptStatus is saved at setup time,
   * not per request (that would put a store write on the I/O path), so whether an
   * interrupt was owed when the old backend died is not known, and a spurious
   * used-buffer interrupt is harmless (the driver finds nothing new in its used rings)
   * where a lost one hangs it. Whatever cannot be restored ends in DEVICE_NEEDS_RESET with
   * a configuration change interrupt (virtio 1.2 §2.1.2); the reason is returned and logged.
   */
  async restoreState(s: TransportSavedState): Promise<string | undefined> {
    const problem = this.restoreProblem(s);
    if (problem) return this.failRestore(problem, s.status);
    this.status = s.status;
    this.deviceFeaturesSel = s.deviceFeaturesSel;
    this.driverFeaturesSel = s.driverFeaturesSel;
    this.driverFeatures = BigInt(s.driverFeatures);
    this.negotiated = BigInt(s.negotiated);
    this.queueSel = s.queueSel;
    this.configGeneration = s.configGeneration;
    this.queues = s.queues.map((q) => ({ ...q, ready: false, queue: undefined }));
    this.live = this.queues.map(() => undefined);
    this.interruptStatus = s.interruptStatus;
    if (!(this.status & STATUS.DEVICE_NEEDS_RESET)) {
      for (const [i, q] of this.queues.entries()) {
        if (!s.queues[i]!.ready) continue;
        const layout = { size: q.num, desc: join(q.descLo, q.descHi), avail: join(q.driverLo, q.driverHi), used: join(q.deviceLo, q.deviceHi) };
        const bad = layoutProblem(layout, this.device.queueMaxSizes[i]);
        if (bad) return this.failRestore(`queue ${i}: ${bad}`, s.status);
        const queue = new SplitQueue(this.mem, layout, {
          eventIdx: hasFeature(this.negotiated, VIRTIO_RING_F_EVENT_IDX),
          indirect: hasFeature(this.negotiated, VIRTIO_RING_F_INDIRECT_DESC),
          name: `${this.name} queue ${i}`,
        });
        let usedIdx: number;
        try {
          const b = await this.mem.read(layout.used + 2, 2);
          usedIdx = b[0]! | (b[1]! << 8);
        } catch (e) {
          return this.failRestore(`queue ${i}: used.idx at ${hex(layout.used + 2)} could not be read: ${e instanceof Error ? e.message : String(e)}`, s.status);
        }
        queue.resume(usedIdx);
        q.queue = queue;
        q.ready = true;
        this.live[i] = queue;
      }
      if (this.status & STATUS.DRIVER_OK) {
        this.activated = true;
        try {
          this.device.activate(this.context());
          for (const [i, q] of this.queues.entries()) if (q.ready) this.device.notify(i);
        } catch (e) {
          this.setNeedsReset(`${this.device.name}: activate after restore threw: ${e instanceof Error ? e.message : String(e)}`);
        }
        this.interruptStatus |= INTERRUPT.USED_BUFFER;
      }
    }
    this.updateIrq();
    return undefined;
  }

  /**
   * The device could not be taken over (its saved state refused or unusable): it is left
   * in DEVICE_NEEDS_RESET, with the Status bits the record had when they are known, and a
   * configuration change interrupt tells the driver (virtio 1.2 §2.1.2). A driver that
   * resets the device (Status 0) gets a fresh one. Returns the reason.
   */
  failRestore(reason: string, savedStatus = 0): string {
    const why = `${this.name}: state not restored: ${reason}`;
    this.status = (savedStatus & ~STATUS.DEVICE_NEEDS_RESET & 0xff) | STATUS.DEVICE_NEEDS_RESET;
    for (const q of this.queues) q.queue?.kill();
    this.queues = this.freshQueues();
    this.live = this.queues.map(() => undefined);
    this.counters.needsReset++;
    this.counters.lastError = why;
    this.configGeneration = (this.configGeneration + 1) >>> 0;
    this.log(why, { device: this.device.name, reason });
    this.raise(INTERRUPT.CONFIG_CHANGE);
    this.onSetupChange();
    return why;
  }

  /** Why `s` cannot be this transport's state, or undefined. */
  private restoreProblem(s: TransportSavedState): string | undefined {
    if (s.deviceId !== this.device.deviceId) return `deviceId=${s.deviceId}: the device here is ${this.device.deviceId} (${this.device.name})`;
    const n = this.device.queueMaxSizes.length;
    if (s.queues.length !== n) return `queues has ${s.queues.length} entries: ${this.device.name} has ${n} queues`;
    for (const [i, q] of s.queues.entries()) {
      const max = this.device.queueMaxSizes[i]!;
      if (q.num > max) return `queues[${i}].num=${q.num}: above the queue's maximum ${max}`;
    }
    const negotiated = BigInt(s.negotiated);
    const extra = negotiated & ~this.offered;
    if (extra !== 0n) return `negotiated=${s.negotiated}: includes ${hex(extra)}, not offered (offered ${hex(this.offered)})`;
    if (s.status & STATUS.DRIVER_OK && !(s.status & STATUS.FEATURES_OK)) return `status=${hex(s.status)}: DRIVER_OK without FEATURES_OK`;
    if (s.queues.some((q) => q.ready) && !(s.status & STATUS.FEATURES_OK)) return `status=${hex(s.status)}: a queue is ready without FEATURES_OK`;
    return undefined;
  }

  private readRegister(offset: number): number {
    const q = this.queues[this.queueSel];
    switch (offset) {
      case REG.MAGIC:
        return MMIO_MAGIC;
      case REG.VERSION:
        return 2;
      case REG.DEVICE_ID:
        return this.device.deviceId;
      case REG.VENDOR_ID:
        return MMIO_VENDOR_ID;
      case REG.DEVICE_FEATURES:
        return this.deviceFeaturesSel < 2 ? Number((this.offered >> BigInt(32 * this.deviceFeaturesSel)) & 0xffff_ffffn) : 0;
      case REG.QUEUE_NUM_MAX:
        return q ? this.device.queueMaxSizes[this.queueSel]! : 0;
      case REG.QUEUE_READY:
        return q?.ready ? 1 : 0;
      case REG.INTERRUPT_STATUS:
        return this.interruptStatus;
      case REG.STATUS:
        return this.status;
      case REG.QUEUE_DESC_LOW:
        return q?.descLo ?? 0;
      case REG.QUEUE_DESC_HIGH:
        return q?.descHi ?? 0;
      case REG.QUEUE_DRIVER_LOW:
        return q?.driverLo ?? 0;
      case REG.QUEUE_DRIVER_HIGH:
        return q?.driverHi ?? 0;
      case REG.QUEUE_DEVICE_LOW:
        return q?.deviceLo ?? 0;
      case REG.QUEUE_DEVICE_HIGH:
        return q?.deviceHi ?? 0;
      // No shared memory regions: a length (and base) of all ones says "no such region".
      case REG.SHM_LEN_LOW:
      case REG.SHM_LEN_HIGH:
      case REG.SHM_BASE_LOW:
      case REG.SHM_BASE_HIGH:
        return ALL_ONES;
      case REG.CONFIG_GENERATION:
        return this.configGeneration;
      default:
        // Write-only registers (the selectors, DriverFeatures, QueueNum, QueueNotify,
        // InterruptACK), QueueReset without VIRTIO_F_RING_RESET, and holes read as 0, as QEMU does.
        return 0;
    }
  }

  private writeRegister(offset: number, value: number): void {
    switch (offset) {
      case REG.DEVICE_FEATURES_SEL:
        this.deviceFeaturesSel = value;
        return;
      case REG.DRIVER_FEATURES:
        return this.writeDriverFeatures(value);
      case REG.DRIVER_FEATURES_SEL:
        this.driverFeaturesSel = value;
        return;
      case REG.QUEUE_SEL:
        this.queueSel = value;
        if (value >= this.queues.length)
          this.ignore(`QueueSel ${value}: the device has ${this.queues.length} queues; queue registers are ignored until a valid one is selected`, { value });
        return;
      case REG.QUEUE_NUM:
      case REG.QUEUE_DESC_LOW:
      case REG.QUEUE_DESC_HIGH:
      case REG.QUEUE_DRIVER_LOW:
      case REG.QUEUE_DRIVER_HIGH:
      case REG.QUEUE_DEVICE_LOW:
      case REG.QUEUE_DEVICE_HIGH:
        return this.writeQueueField(offset, value);
      case REG.QUEUE_READY:
        return this.writeQueueReady(value);
      case REG.QUEUE_NOTIFY:
        return this.notify(value);
      case REG.INTERRUPT_ACK:
        this.interruptStatus &= ~value;
        this.updateIrq();
        return;
      case REG.STATUS:
        return this.writeStatus(value);
      case REG.SHM_SEL:
        return; // every region id is absent, so which one is selected does not matter
      case REG.QUEUE_RESET:
        return this.ignore(`QueueReset write of ${hex(value)} on queue ${this.queueSel}: VIRTIO_F_RING_RESET is not offered`, { value });
      case REG.MAGIC:
      case REG.VERSION:
      case REG.DEVICE_ID:
      case REG.VENDOR_ID:
      case REG.DEVICE_FEATURES:
      case REG.QUEUE_NUM_MAX:
      case REG.INTERRUPT_STATUS:
      case REG.SHM_LEN_LOW:
      case REG.SHM_LEN_HIGH:
      case REG.SHM_BASE_LOW:
      case REG.SHM_BASE_HIGH:
      case REG.CONFIG_GENERATION:
        return this.ignore(`write of ${hex(value)} to read-only register ${registerName(offset)} ignored`, { value });
      default:
        return this.ignore(`write of ${hex(value)} to ${registerName(offset)}: no such register`, { value });
    }
  }

  private writeDriverFeatures(value: number): void {
    if (this.status & STATUS.FEATURES_OK) {
      return this.ignore(`DriverFeatures write of ${hex(value)} (word ${this.driverFeaturesSel}) after FEATURES_OK ignored`, { value });
    }
    const sel = this.driverFeaturesSel;
    if (sel >= 2) {
      if (value !== 0) this.driverFeaturesBeyond = `DriverFeatures word ${sel} = ${hex(value)}`;
      return;
    }
    const shift = BigInt(32 * sel);
    this.driverFeatures = (this.driverFeatures & ~(0xffff_ffffn << shift)) | (BigInt(value) << shift);
  }

  private selectedQueue(what: string, value: number): QueueState | undefined {
    const q = this.queues[this.queueSel];
    if (!q) {
      this.ignore(`${what} write of ${hex(value)}: QueueSel ${this.queueSel} is out of range (${this.queues.length} queues)`, { value, queue: this.queueSel });
      return undefined;
    }
    if (q.ready) {
      // §4.2.3.2: a queue is configured while QueueReady is 0.
      this.ignore(`${what} write of ${hex(value)} on queue ${this.queueSel} while QueueReady is 1 ignored`, { value, queue: this.queueSel });
      return undefined;
    }
    return q;
  }

  private writeQueueField(offset: number, value: number): void {
    const what = registerName(offset);
    const q = this.selectedQueue(what, value);
    if (!q) return;
    switch (offset) {
      case REG.QUEUE_NUM: {
        q.num = value;
        const max = this.device.queueMaxSizes[this.queueSel]!;
        const problem = layoutProblem({ size: value, desc: 16, avail: 16, used: 16 }, max);
        if (problem) this.ignore(`QueueNum ${value} on queue ${this.queueSel}: ${problem}; QueueReady will be refused`, { value, queue: this.queueSel });
        return;
      }
      case REG.QUEUE_DESC_LOW:
        q.descLo = value;
        return;
      case REG.QUEUE_DESC_HIGH:
        q.descHi = value;
        return;
      case REG.QUEUE_DRIVER_LOW:
        q.driverLo = value;
        return;
      case REG.QUEUE_DRIVER_HIGH:
        q.driverHi = value;
        return;
      case REG.QUEUE_DEVICE_LOW:
        q.deviceLo = value;
        return;
      default:
        q.deviceHi = value;
    }
  }

  private writeQueueReady(value: number): void {
    const sel = this.queueSel;
    const q = this.queues[sel];
    if (!q) return this.ignore(`QueueReady write of ${hex(value)}: QueueSel ${sel} is out of range (${this.queues.length} queues)`, { value, queue: sel });
    if ((value & 1) === 0) {
      if (q.ready) {
        q.ready = false;
        q.queue?.kill();
        q.queue = undefined;
        this.live[sel] = undefined;
      }
      return;
    }
    if (q.ready) return;
    const refuse = (why: string) => this.ignore(`QueueReady=1 on queue ${sel} refused: ${why}`, { value, queue: sel });
    // §3.1.1: feature negotiation comes before queue setup; the ring format depends on it.
    if (!(this.status & STATUS.FEATURES_OK)) return refuse('FEATURES_OK is not set');
    if (this.status & STATUS.DEVICE_NEEDS_RESET) return refuse('the device needs a reset');
    const layout = {
      size: q.num,
      desc: join(q.descLo, q.descHi),
      avail: join(q.driverLo, q.driverHi),
      used: join(q.deviceLo, q.deviceHi),
    };
    const problem = layoutProblem(layout, this.device.queueMaxSizes[sel]);
    if (problem) return refuse(problem);
    q.queue = new SplitQueue(this.mem, layout, {
      eventIdx: hasFeature(this.negotiated, VIRTIO_RING_F_EVENT_IDX),
      indirect: hasFeature(this.negotiated, VIRTIO_RING_F_INDIRECT_DESC),
      name: `${this.name} queue ${sel}`,
    });
    q.ready = true;
    this.live[sel] = q.queue;
  }

  private notify(value: number): void {
    // Without VIRTIO_F_NOTIFICATION_DATA the value is the queue index.
    const sel = value & 0xffff;
    const q = this.queues[sel];
    const why = !q
      ? `queue ${sel} does not exist (${this.queues.length} queues)`
      : !q.ready
        ? `queue ${sel} is not ready`
        : this.status & STATUS.DEVICE_NEEDS_RESET
          ? 'the device needs a reset'
          : !this.activated
            ? 'DRIVER_OK is not set'
            : undefined;
    if (why !== undefined) {
      this.counters.ignoredNotifies++;
      this.note(`QueueNotify ${hex(value)} ignored: ${why}`, { value, queue: sel });
      return;
    }
    this.counters.notifies++;
    try {
      this.device.notify(sel);
    } catch (e) {
      this.setNeedsReset(`${this.device.name}: notify(${sel}) threw: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private writeStatus(value: number): void {
    const v = value & 0xff;
    if (v === 0) return this.resetDevice('driver wrote 0 to Status');
    const old = this.status;
    // DEVICE_NEEDS_RESET is the device's bit: the driver cannot set or clear it.
    let next = (v & ~STATUS.DEVICE_NEEDS_RESET) | (old & STATUS.DEVICE_NEEDS_RESET);
    const rising = next & ~old;
    if (rising & STATUS.FEATURES_OK) {
      const problem = this.featureProblem();
      if (problem) {
        // §2.2.2 / §3.1.1: the driver reads Status back and finds FEATURES_OK clear.
        next &= ~STATUS.FEATURES_OK;
        this.ignore(`FEATURES_OK refused: ${problem}`, { value, driverFeatures: hex(this.driverFeatures) });
      } else {
        this.negotiated = this.driverFeatures;
        if (!hasFeature(this.driverFeatures, VIRTIO_F_VERSION_1)) this.acceptWithoutVersion1();
      }
    }
    if (next & STATUS.DRIVER_OK && !(next & STATUS.FEATURES_OK)) {
      next &= ~STATUS.DRIVER_OK;
      this.ignore(`DRIVER_OK refused: FEATURES_OK is not set (Status write ${hex(value)})`, { value });
    }
    this.status = next;
    if (next & STATUS.DRIVER_OK && !this.activated && !(next & STATUS.DEVICE_NEEDS_RESET)) {
      this.activated = true;
      try {
        this.device.activate(this.context());
      } catch (e) {
        this.setNeedsReset(`${this.device.name}: activate threw: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }

  private featureProblem(): string | undefined {
    if (this.driverFeaturesBeyond) return `${this.driverFeaturesBeyond}: no feature past bit 63 is offered`;
    const extra = this.driverFeatures & ~this.offered;
    if (extra !== 0n) return `driver features ${hex(this.driverFeatures)} include ${hex(extra)}, not offered (offered ${hex(this.offered)})`;
    // §6.1 has a non-transitional device refuse a driver without VERSION_1. QEMU 7.2's
    // modern virtio-mmio does not (virtio_set_status validates features only when VERSION_1
    // was accepted), and drivers written against it write only the low feature word. We
    // follow QEMU where the device works the same either way, and refuse where it would not.
    if (!hasFeature(this.driverFeatures, VIRTIO_F_VERSION_1) && this.device.servesDriverWithoutVersion1 !== true) {
      return `VIRTIO_F_VERSION_1 (bit 32) not accepted (driver features ${hex(this.driverFeatures)}), and ${this.device.name} serves only drivers that accept it`;
    }
    return undefined;
  }

  private acceptWithoutVersion1(): void {
    this.counters.withoutVersion1++;
    if (this.withoutVersion1Logged) return;
    this.withoutVersion1Logged = true;
    this.log(
      `${this.name}: FEATURES_OK accepted from a driver without VIRTIO_F_VERSION_1 (driver features ${hex(this.driverFeatures)}), as QEMU 7.2 does; ${this.device.name} works the same for it (logged once, counted in withoutVersion1)`,
      { device: this.device.name, driverFeatures: hex(this.driverFeatures) },
    );
  }

  private context(): VirtioContext {
    const epoch = this.epoch;
    return {
      mem: this.mem,
      queues: this.live,
      features: this.negotiated,
      signalUsed: (q) => (epoch === this.epoch ? this.signalUsed(q) : Promise.resolve()),
      needsReset: (reason) => {
        if (epoch === this.epoch) this.setNeedsReset(reason);
      },
    };
  }

  private async signalUsed(sel: number): Promise<void> {
    const queue = this.live[sel];
    if (!queue || queue.isKilled) return;
    const epoch = this.epoch;
    try {
      const want = await queue.needsInterrupt();
      if (want && epoch === this.epoch) this.raise(INTERRUPT.USED_BUFFER);
    } catch (e) {
      if (epoch === this.epoch) this.setNeedsReset(e instanceof Error ? e.message : String(e));
    }
  }

  /** §2.1.2: DEVICE_NEEDS_RESET, then a configuration change notification if DRIVER_OK. */
  private setNeedsReset(reason: string): void {
    if (this.status & STATUS.DEVICE_NEEDS_RESET) return;
    this.status |= STATUS.DEVICE_NEEDS_RESET;
    this.counters.needsReset++;
    this.counters.lastError = reason;
    this.log(`${this.name}: device needs reset: ${reason}`, { device: this.device.name, reason });
    for (const q of this.queues) q.queue?.kill();
    this.configGeneration = (this.configGeneration + 1) >>> 0;
    if (this.status & STATUS.DRIVER_OK) this.raise(INTERRUPT.CONFIG_CHANGE);
    this.onSetupChange();
  }

  private resetDevice(why: string): void {
    this.counters.resets++;
    this.epoch++;
    for (const q of this.queues) q.queue?.kill();
    try {
      this.device.reset();
    } catch (e) {
      this.note(`${this.device.name}: reset threw: ${e instanceof Error ? e.message : String(e)}`, {});
    }
    this.queues = this.freshQueues();
    this.live = this.queues.map(() => undefined);
    this.status = 0;
    this.activated = false;
    this.deviceFeaturesSel = 0;
    this.driverFeaturesSel = 0;
    this.driverFeatures = 0n;
    this.driverFeaturesBeyond = undefined;
    this.negotiated = 0n;
    this.queueSel = 0;
    this.interruptStatus = 0;
    this.updateIrq();
    this.log(`${this.name}: reset (${why})`, { device: this.device.name });
  }

  private freshQueues(): QueueState[] {
    return this.device.queueMaxSizes.map((max) => ({
      // As QEMU: QueueNum starts at the maximum, so a driver that never writes it gets that.
      num: max,
      ready: false,
      descLo: 0,
      descHi: 0,
      driverLo: 0,
      driverHi: 0,
      deviceLo: 0,
      deviceHi: 0,
      queue: undefined,
    }));
  }

  private readConfig(off: number, size: DeviceAccessSize): DeviceResult {
    const bad = this.configProblem(off, size);
    if (bad === 'misaligned')
      return refused(`${this.name}: ${describeAccess('read', off + REG.CONFIG, size)}: config space accesses must be naturally aligned`);
    if (bad) {
      // QEMU answers reads past the config space with all ones.
      this.note(`config read of ${size} bytes at ${hex(off)}: ${bad}`, { offset: off });
      return done(size === 4 ? ALL_ONES : (1 << (8 * size)) - 1);
    }
    return done(this.device.readConfig(off, size) >>> 0);
  }

  private writeConfig(off: number, size: DeviceAccessSize, value: number): DeviceResult {
    const bad = this.configProblem(off, size);
    if (bad === 'misaligned')
      return refused(`${this.name}: ${describeAccess('write', off + REG.CONFIG, size, value)}: config space accesses must be naturally aligned`);
    if (bad) return (this.ignore(`config write of ${hex(value)} (${size} bytes) at ${hex(off)}: ${bad}`, { value, offset: off }), done());
    const reason = this.device.writeConfig(off, size, value);
    if (reason !== undefined) this.ignore(`config write of ${hex(value)} (${size} bytes) at ${hex(off)} refused: ${reason}`, { value, offset: off });
    return done();
  }

  private configProblem(off: number, size: number): string | undefined {
    if (off % size !== 0) return 'misaligned';
    if (off + size > this.device.configSize) return `past the ${this.device.configSize}-byte config space of ${this.device.name}`;
    return undefined;
  }

  private raise(bit: number): void {
    this.counters.interrupts++;
    this.interruptStatus |= bit;
    this.updateIrq();
  }

  private updateIrq(): void {
    const level = this.interruptStatus !== 0;
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    this.onIrq(level);
  }

  private ignore(reason: string, fields: Record<string, unknown>): void {
    this.counters.ignoredWrites++;
    this.note(reason, fields);
  }

  private note(reason: string, fields: Record<string, unknown>): void {
    this.counters.lastError = `${this.name}: ${reason}`;
    this.log(`${this.name}: ${reason}`, { device: this.device.name, ...fields });
  }
}

/** A 64-bit register pair as an address; past 2^53 it becomes NaN, which layoutProblem refuses. */
function join(lo: number, hi: number): number {
  return hi > 0x1fffff ? NaN : hi * 0x1_0000_0000 + lo;
}
