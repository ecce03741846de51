// The directory protocol's per-page states (DESIGN.md, "mmu"): the one definition, shared
// by the hart's page cache (libs/riscv GuestRam.pageState), the cpu's host side and the
// mmu's directory. The proto's HeldState carries them on the wire, mapped in one place
// (libs/proto page-state.ts). Ordered: a state at least Shared may be read, Modified written.

export const PageState = {
  Invalid: 0,
  /** Read-only copy, equal to the mmu's bytes: loads and fetches hit, stores miss. */
  Shared: 1,
  /** The only copy anyone may use, writable: everything hits. */
  Modified: 2,
} as const;
export type PageStateValue = (typeof PageState)[keyof typeof PageState];
