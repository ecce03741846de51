// Trap cause codes and interrupt numbers (privileged spec 1.12, table 3.6), in a module of
// their own: everything that raises or names a trap needs them, and it imports nothing.

/** mcause exception codes (priv 1.12 table 3.6). */
export const Cause = {
  MisalignedFetch: 0,
  FetchAccess: 1,
  IllegalInstruction: 2,
  Breakpoint: 3,
  MisalignedLoad: 4,
  LoadAccess: 5,
  MisalignedStore: 6,
  StoreAccess: 7,
  EcallU: 8,
  EcallS: 9,
  /** ECALL from VS-mode (H extension). */
  EcallVS: 10,
  EcallM: 11,
  FetchPageFault: 12,
  LoadPageFault: 13,
  StorePageFault: 15,
  // H extension (priv 1.12 table 8.7)
  FetchGuestPageFault: 20,
  LoadGuestPageFault: 21,
  VirtualInstruction: 22,
  StoreGuestPageFault: 23,
} as const;

/** Interrupt numbers: bit positions in mip/mie and the mcause code of the interrupt. */
export const Irq = {
  SSI: 1,
  MSI: 3,
  STI: 5,
  MTI: 7,
  SEI: 9,
  MEI: 11,
  // H extension: the VS-level interrupts (seen shifted down by one in VS-mode) and the
  // supervisor guest external interrupt.
  VSSI: 2,
  VSTI: 6,
  VSEI: 10,
  SGEI: 12,
} as const;

const CAUSE_NAMES: Record<number, string> = {
  0: 'instruction address misaligned',
  1: 'instruction access fault',
  2: 'illegal instruction',
  3: 'breakpoint',
  4: 'load address misaligned',
  5: 'load access fault',
  6: 'store/AMO address misaligned',
  7: 'store/AMO access fault',
  8: 'environment call from U-mode',
  9: 'environment call from S-mode',
  11: 'environment call from M-mode',
  12: 'instruction page fault',
  13: 'load page fault',
  15: 'store/AMO page fault',
  10: 'environment call from VS-mode',
  20: 'instruction guest-page fault',
  21: 'load guest-page fault',
  22: 'virtual instruction',
  23: 'store/AMO guest-page fault',
};

export function causeName(cause: number): string {
  return CAUSE_NAMES[cause] ?? `cause ${cause}`;
}
