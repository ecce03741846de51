// One virtio-mmio slot of the virt machine. Until a device is plugged in it answers as
// QEMU's empty transport does (DeviceID 0); plugged, every access goes to that device's
// virtio-mmio transport. The slot keeps its bus mapping and its name either way, so the
// per-device MMIO counters and the bus's overlap checks never change under a running VM.
import type { DeviceAccessSize, DeviceResult, MmioDevice } from '@splitvisor/devices';
import { VirtioMmioEmptySlot } from '@splitvisor/devices';
import type { MmioOffset } from '@splitvisor/platform';

/** What a plugged slot holds: the transport (an MmioDevice) and how to let it go. */
export interface PluggedDevice {
  /** The xenbus device id, e.g. "virtio-blk0". */
  readonly id: string;
  readonly kind: string;
  readonly transport: MmioDevice;
  stats(): PluggedStats;
  /** The transport's saved state (saved-state.ts), as JSON. */
  save(): string;
  /**
   * Takes the device over from a record a previous io-backend saved (undefined: none, the
   * device stays as at power-on). Returns why it could not be restored (the device is
   * then in DEVICE_NEEDS_RESET), or undefined.
   */
  restore(text: string | undefined): Promise<string | undefined>;
  /** Stops the device and gives back what it holds (file, switch port). */
  close(): Promise<void>;
}

export interface PluggedStats {
  /** Transport counters as "transport.<name>", the device's own by their names. */
  counters: Record<string, number>;
  /** The last thing the guest did wrong at this device, in words ('' when nothing). */
  lastError: string;
}

export class VirtioSocket implements MmioDevice {
  private readonly empty: VirtioMmioEmptySlot;
  private device: PluggedDevice | undefined;

  constructor(readonly name: string) {
    this.empty = new VirtioMmioEmptySlot(name);
  }

  get plugged(): PluggedDevice | undefined {
    return this.device;
  }

  plug(d: PluggedDevice): void {
    if (this.device) throw new Error(`${this.name} already holds ${this.device.id}; cannot plug ${d.id}`);
    this.device = d;
  }

  /** Empties the slot; the caller closes what it held. */
  unplug(): PluggedDevice | undefined {
    const d = this.device;
    this.device = undefined;
    return d;
  }

  read(offset: MmioOffset, size: DeviceAccessSize): DeviceResult {
    return (this.device?.transport ?? this.empty).read(offset, size);
  }

  write(offset: MmioOffset, size: DeviceAccessSize, value: number): DeviceResult {
    return (this.device?.transport ?? this.empty).write(offset, size, value);
  }

  reset(): void {
    (this.device?.transport ?? this.empty).reset();
  }
}
