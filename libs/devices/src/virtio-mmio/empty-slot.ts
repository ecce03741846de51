// A virtio-mmio slot with no device behind it, as QEMU's virt machine leaves its eight
// transports when nothing is plugged in: the registers identify a version 2 virtio-mmio
// transport whose DeviceID is 0, which the virtio 1.2 spec (§4.2.2, "DeviceID ... 0x0
// means a reserved (invalid) device") tells drivers to skip. U-Boot and Linux probe every
// slot the device tree lists, so an absent slot must answer like this, not fault.
import type { MmioOffset } from '@splitvisor/platform';
import { describeAccess, done, refused, type DeviceAccessSize, type DeviceResult, type MmioDevice } from '../device.js';

/** "virt" in little-endian ASCII (virtio 1.2 §4.2.2 MagicValue). */
export const VIRTIO_MMIO_MAGIC = 0x74726976;
export const VIRTIO_MMIO_VERSION = 2;
/** "QEMU", the VendorID QEMU's transport reports. */
export const VIRTIO_MMIO_VENDOR_QEMU = 0x554d4551;

export class VirtioMmioEmptySlot implements MmioDevice {
  constructor(readonly name: string) {}

  read(offset: MmioOffset, size: DeviceAccessSize): DeviceResult {
    // The spec requires 32-bit accesses to the register block (§4.2.2.2).
    if (size !== 4 || offset % 4 !== 0) return refused(`${this.name}: ${describeAccess('read', offset, size)}: virtio-mmio registers are 32-bit`);
    switch (offset) {
      case 0x000:
        return done(VIRTIO_MMIO_MAGIC);
      case 0x004:
        return done(VIRTIO_MMIO_VERSION);
      case 0x00c:
        return done(VIRTIO_MMIO_VENDOR_QEMU);
      default:
        return done(0); // DeviceID 0 and everything else
    }
  }

  write(offset: MmioOffset, size: DeviceAccessSize, value: number): DeviceResult {
    if (size !== 4 || offset % 4 !== 0) return refused(`${this.name}: ${describeAccess('write', offset, size, value)}: virtio-mmio registers are 32-bit`);
    return done(); // nothing to configure: writes are ignored, as QEMU's empty transport does
  }

  reset(): void {}
}
