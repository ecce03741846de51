// Branded address types: a guest-physical address, a guest-virtual address and an offset
// inside a device's MMIO window are all numbers, and mixing them up is the classic bug.
// Conversions are named functions so the seams show (STYLE.md, 7).

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

export type GuestPhysAddr = Brand<number, 'GuestPhysAddr'>;
export type GuestVirtAddr = Brand<number, 'GuestVirtAddr'>;
export type MmioOffset = Brand<number, 'MmioOffset'>;

/** Largest guest-physical address we represent exactly (2^53): Sv48 needs 56 bits of PA
 *  but no RAM or device of the virt machine lies above 2^40, so anything larger is simply
 *  unmapped, never rounded into a mapped range. */
export const MAX_EXACT_ADDR = Number.MAX_SAFE_INTEGER;

export function gpa(n: number): GuestPhysAddr {
  return n as GuestPhysAddr;
}
export function gva(n: number): GuestVirtAddr {
  return n as GuestVirtAddr;
}
export function mmioOffset(addr: GuestPhysAddr, base: GuestPhysAddr): MmioOffset {
  return (addr - base) as MmioOffset;
}

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
/** Most pages one FetchPages call may ask for (mmu refuses more; the cpu's page cache grows
 *  a stream of misses up to it): 1 MiB per reply, under gRPC's 4 MiB message cap. */
export const MAX_FETCH_PAGES = 256;

/** Guest page frame number of a guest-physical address. */
export function gfn(addr: GuestPhysAddr): number {
  return Math.floor(addr / PAGE_SIZE);
}

export function hex(n: number | bigint): string {
  return '0x' + n.toString(16);
}
