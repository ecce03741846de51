// A window of the machine map with no device behind it that still answers, as QEMU's
// unpopulated PCIe and flash windows do for a probing driver (the platform table's
// UnmodelledWindow with answer 'zeros' or 'ones'): reads return the fill, writes are
// ignored. What a 'fault' window does needs no device: nothing is mapped there.
import type { MmioOffset } from '@splitvisor/platform';
import { done, type DeviceAccessSize, type DeviceResult, type MmioDevice } from '../device.js';

const ONES: readonly DeviceResult[] = [1, 2, 4].map((size) => Object.freeze({ ok: true, value: size === 4 ? 0xffffffff : 2 ** (8 * size) - 1 }));

export class EmptyWindow implements MmioDevice {
  constructor(
    readonly name: string,
    private readonly fill: 'zeros' | 'ones',
  ) {}

  read(_offset: MmioOffset, size: DeviceAccessSize): DeviceResult {
    return this.fill === 'zeros' ? done(0) : ONES[size >>> 1]!;
  }

  write(): DeviceResult {
    return done();
  }

  reset(): void {
    // Nothing there to reset.
  }
}
