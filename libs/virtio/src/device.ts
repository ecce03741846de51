// The plug-in point between the virtio-mmio transport and a device model (STYLE.md 3; the
// shape of rust-vmm's VirtioDevice and Firecracker's devices/virtio/device.rs). The
// transport owns registers, feature negotiation, queue setup and interrupts; a device owns
// its config space and what its queues mean.
import type { GuestMemory } from './memory.js';
import type { SplitQueue } from './queue/split-queue.js';

export interface VirtioDevice {
  readonly name: string;
  /** §5: 1 net, 2 block, 4 entropy... */
  readonly deviceId: number;
  /** One entry per virtqueue: the largest size the device accepts (QueueNumMax). */
  readonly queueMaxSizes: readonly number[];
  /** Device-specific feature bits offered; the transport adds VERSION_1, INDIRECT_DESC, EVENT_IDX. */
  readonly features: bigint;
  /**
   * True when the device serves a driver that did not accept VIRTIO_F_VERSION_1 exactly as
   * a modern one: the transport then lets such a driver on, as QEMU 7.2's modern
   * virtio-mmio does (virtio 1.2 §6.1 would have a non-transitional device refuse it).
   * Absent: refused. On this little-endian machine only layouts that VERSION_1 changes
   * matter, e.g. virtio-net's header (§5.1.6.1: 10 bytes for a legacy driver, not 12).
   */
  readonly servesDriverWithoutVersion1?: boolean;
  /** Bytes of device config space, at 0x100 of the MMIO window. */
  readonly configSize: number;
  /** Little-endian read inside [0, configSize); the transport checks bounds. */
  readConfig(offset: number, size: 1 | 2 | 4): number;
  /** Returns a refusal reason, or undefined when the write was taken. */
  writeConfig(offset: number, size: 1 | 2 | 4, value: number): string | undefined;
  /** DRIVER_OK: the queues the driver made ready are live. */
  activate(ctx: VirtioContext): void;
  /** The driver's doorbell for `queue` (QueueNotify). Only called for an activated, ready queue. */
  notify(queue: number): void;
  /** Drop everything in flight; the next activate starts afresh. */
  reset(): void;
  stats?(): Record<string, number>;
}

export interface VirtioContext {
  mem: GuestMemory;
  /** Indexed by queue number; undefined where the driver did not make the queue ready. */
  queues: readonly (SplitQueue | undefined)[];
  /** The negotiated feature bits (device and transport). */
  features: bigint;
  /** Used entries were pushed on `queue`: interrupt the driver if it asked to be (§2.7.10). Never rejects. */
  signalUsed(queue: number): Promise<void>;
  /** The guest broke a ring: set DEVICE_NEEDS_RESET, raise a config-change interrupt, stop every queue. */
  needsReset(reason: string): void;
}
