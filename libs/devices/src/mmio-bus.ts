// The MMIO bus of one VM: sorted, non-overlapping ranges, each owned by one device
// (STYLE.md 2; Firecracker vstate/bus.rs). Mapping is configuration, so a conflict there
// throws; an access is guest input on the hot path, so every outcome is a value.
import { hex, MAX_EXACT_ADDR, mmioOffset, type GuestPhysAddr, type MmioOffset } from '@splitvisor/platform';
import type { DeviceResult, MmioDevice, SystemEvent } from './device.js';

/** Sizes a guest access may have (RV64: lb/lh/lw/ld and their stores). */
export type AccessSize = 1 | 2 | 4 | 8;

export type BusResult =
  | {
      readonly ok: true;
      /** Read data, little-endian halves (hi is 0 below 8 bytes); 0 for writes. */
      readonly lo: number;
      readonly hi: number;
      readonly device: string;
      readonly event?: SystemEvent;
    }
  | { readonly ok: false; readonly kind: 'unmapped'; readonly addr: number; readonly reason: string }
  | { readonly ok: false; readonly kind: 'bad-access'; readonly addr: number; readonly device?: string; readonly reason: string };

export interface Mapping {
  readonly base: GuestPhysAddr;
  readonly size: number;
  readonly device: MmioDevice;
}

const range = (base: number, size: number) => `[${hex(base)}, ${hex(base + size)})`;

export function isAccessSize(n: number): n is AccessSize {
  return n === 1 || n === 2 || n === 4 || n === 8;
}

export class MmioBus {
  /** Sorted by base; never overlapping (add refuses). */
  private readonly ranges: Mapping[] = [];

  /** Maps `device` at [base, base+size). Throws naming both devices when ranges overlap. */
  add(base: GuestPhysAddr, size: number, device: MmioDevice): void {
    if (!Number.isSafeInteger(base) || base < 0) throw new RangeError(`${device.name}: base ${base} is not a guest-physical address`);
    if (!Number.isSafeInteger(size) || size <= 0 || base + size > MAX_EXACT_ADDR) {
      throw new RangeError(`${device.name}: size ${size} at ${hex(base)} is not a usable range`);
    }
    const dup = this.ranges.find((m) => m.device.name === device.name);
    if (dup)
      throw new Error(`cannot map ${device.name} at ${range(base, size)}: a device named ${device.name} is already mapped at ${range(dup.base, dup.size)}`);
    const at = this.ranges.findIndex((m) => m.base > base);
    const i = at === -1 ? this.ranges.length : at;
    const prev = this.ranges[i - 1];
    const next = this.ranges[i];
    const clash = prev && prev.base + prev.size > base ? prev : next && base + size > next.base ? next : undefined;
    if (clash) {
      throw new Error(`cannot map ${device.name} at ${range(base, size)}: overlaps ${clash.device.name} at ${range(clash.base, clash.size)}`);
    }
    this.ranges.splice(i, 0, { base, size, device });
  }

  /** The mapping holding `addr`, by binary search. */
  find(addr: number): Mapping | undefined {
    let lo = 0;
    let hi = this.ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const m = this.ranges[mid]!;
      if (addr < m.base) hi = mid - 1;
      else if (addr >= m.base + m.size) lo = mid + 1;
      else return m;
    }
    return undefined;
  }

  mappings(): readonly Mapping[] {
    return this.ranges;
  }

  read(addr: GuestPhysAddr, size: number): BusResult {
    const routed = this.route(addr, size, 'read');
    if (!routed.ok) return routed;
    const { m, off } = routed;
    if (size !== 8) return this.settle(m, addr, m.device.read(off, size as 1 | 2 | 4), 0);
    // 8 bytes: two 4-byte reads, low word then high word (see write).
    const lo = m.device.read(off, 4);
    if (!lo.ok) return this.settle(m, addr, lo, 0);
    const hi = m.device.read((off + 4) as MmioOffset, 4);
    if (!hi.ok) return this.settle(m, addr, hi, 0);
    return { ok: true, lo: lo.value >>> 0, hi: hi.value >>> 0, device: m.device.name };
  }

  /**
   * `lo`/`hi` are the store data's little-endian halves; below 8 bytes only the low `size`
   * bytes of `lo` count. An 8-byte store reaches the device as two 4-byte stores, low word
   * at `offset` first, then high word at `offset + 4` (as a 32-bit bus would carry it): no
   * device of the virt machine has 64-bit registers with side effects, and it keeps every
   * device to 1, 2 and 4 bytes. If the low half is refused the high half is not attempted.
   */
  write(addr: GuestPhysAddr, size: number, lo: number, hi = 0): BusResult {
    const routed = this.route(addr, size, 'write');
    if (!routed.ok) return routed;
    const { m, off } = routed;
    if (size !== 8) {
      const value = size === 4 ? lo >>> 0 : lo & (size === 2 ? 0xffff : 0xff);
      return this.settle(m, addr, m.device.write(off, size as 1 | 2 | 4, value), 0);
    }
    const first = m.device.write(off, 4, lo >>> 0);
    if (!first.ok) return this.settle(m, addr, first, 0);
    const second = m.device.write((off + 4) as MmioOffset, 4, hi >>> 0);
    if (!second.ok) return this.settle(m, addr, second, 0);
    const event = first.event ?? second.event;
    return event ? { ok: true, lo: 0, hi: 0, device: m.device.name, event } : { ok: true, lo: 0, hi: 0, device: m.device.name };
  }

  /** Resets every device (a system reset). */
  reset(): void {
    for (const m of this.ranges) m.device.reset();
  }

  private route(addr: number, size: number, kind: 'read' | 'write'): { ok: true; m: Mapping; off: MmioOffset } | Extract<BusResult, { ok: false }> {
    if (!isAccessSize(size)) {
      return { ok: false, kind: 'bad-access', addr, reason: `${kind} of size ${size} at ${hex(addr)}: size must be 1, 2, 4 or 8` };
    }
    // Past 2^53 a number is no longer an exact address; nothing is mapped up there anyway.
    if (!Number.isSafeInteger(addr) || addr < 0) {
      return { ok: false, kind: 'unmapped', addr, reason: `no device at ${Number.isFinite(addr) ? hex(Math.trunc(addr)) : String(addr)}` };
    }
    const m = this.find(addr);
    if (!m) return { ok: false, kind: 'unmapped', addr, reason: `no device at ${hex(addr)}` };
    if (addr % size !== 0) {
      return { ok: false, kind: 'bad-access', addr, device: m.device.name, reason: `misaligned ${size}-byte ${kind} at ${hex(addr)} (${m.device.name})` };
    }
    if (addr + size > m.base + m.size) {
      return {
        ok: false,
        kind: 'bad-access',
        addr,
        device: m.device.name,
        reason: `${size}-byte ${kind} at ${hex(addr)} crosses the end of ${m.device.name} at ${hex(m.base + m.size)}`,
      };
    }
    return { ok: true, m, off: mmioOffset(addr as GuestPhysAddr, m.base) };
  }

  private settle(m: Mapping, addr: number, r: DeviceResult, hi: number): BusResult {
    if (!r.ok) return { ok: false, kind: 'bad-access', addr, device: m.device.name, reason: `${m.device.name} at ${hex(addr)}: ${r.reason}` };
    if (r.event) return { ok: true, lo: r.value >>> 0, hi, device: m.device.name, event: r.event };
    return { ok: true, lo: r.value >>> 0, hi, device: m.device.name };
  }
}
