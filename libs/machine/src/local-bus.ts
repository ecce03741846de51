// The cpu's own slice of the address space: the devices that live in the vCPU service
// (DESIGN.md machine table, "lives in: cpu"), looked up before an access may exit. A
// handful of ranges, so a linear scan; mapping is configuration and throws on overlap,
// an access is guest input and answers a value.
import { BOOT_ROM, CLINT, hex, PLIC, type MmioOffset } from '@splitvisor/platform';
import { refuse, type LocalAccessSize, type LocalDevice, type LocalResult } from './local-device.js';

export interface LocalMapping {
  readonly base: number;
  readonly device: LocalDevice;
}

export class LocalBus {
  private readonly maps: LocalMapping[] = [];

  add(base: number, device: LocalDevice): this {
    if (!Number.isSafeInteger(base) || base < 0) throw new RangeError(`${device.name}: base ${base} is not a guest-physical address`);
    const clash = this.maps.find((m) => base < m.base + m.device.size && m.base < base + device.size);
    if (clash) {
      throw new Error(
        `cannot map ${device.name} at ${hex(base)}+${hex(device.size)}: overlaps ${clash.device.name} at ${hex(clash.base)}+${hex(clash.device.size)}`,
      );
    }
    this.maps.push({ base, device });
    this.maps.sort((a, b) => a.base - b.base);
    return this;
  }

  mappings(): readonly LocalMapping[] {
    return this.maps;
  }

  /** The mapping whose window holds `pa`, or undefined: no local device there. */
  find(pa: number): LocalMapping | undefined {
    for (const m of this.maps) if (pa >= m.base && pa < m.base + m.device.size) return m;
    return undefined;
  }

  /** undefined: nothing local at `pa`, the access goes out (an exit). */
  load(pa: number, size: LocalAccessSize, out: Int32Array): LocalResult | undefined {
    const m = this.find(pa);
    if (!m) return undefined;
    const off = pa - m.base;
    if (off + size > m.device.size) return refuse(m.device.name, 'read', off, size, 'crosses the end of the device');
    return m.device.read(off as MmioOffset, size, out);
  }

  /** undefined: nothing local at `pa`, the access goes out (an exit). */
  store(pa: number, size: LocalAccessSize, lo: number, hi: number): LocalResult | undefined {
    const m = this.find(pa);
    if (!m) return undefined;
    const off = pa - m.base;
    if (off + size > m.device.size) return refuse(m.device.name, 'write', off, size, 'crosses the end of the device');
    return m.device.write(off as MmioOffset, size, lo, hi);
  }

  reset(): void {
    for (const m of this.maps) m.device.reset();
  }
}

/** The boot ROM, CLINT and PLIC at their virt-machine addresses. */
export function cpuLocalBus(devices: { bootRom: LocalDevice; clint: LocalDevice; plic: LocalDevice }): LocalBus {
  return new LocalBus().add(BOOT_ROM.base, devices.bootRom).add(CLINT.base, devices.clint).add(PLIC.base, devices.plic);
}
