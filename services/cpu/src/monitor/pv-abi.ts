// Splitvisor's paravirtual ABI, the monitor's side (docs/pv-abi.md is the reference; the
// guest kernel's numbers are guests/kernel/pv_abi.h). A hypercall is an SBI call from the
// guest kernel's virtual S-mode with a7 = PV_EID and a6 = the function.

/** In SBI's firmware-specific extension range (SBI 2.0 §3): "\nSVP". */
export const PV_EID = 0x0a535650;
export const PV_ABI_VERSION = 1;

export const PvCall = {
  Version: 0,
  Register: 1,
  MmuUpdate: 2,
  Pin: 3,
  Unpin: 4,
  SetPtBase: 5,
  TlbFlush: 6,
  TrapReturn: 7,
  Block: 8,
  Events: 9,
} as const;
export const PV_CALL_NAMES = ['version', 'register', 'mmu_update', 'pin', 'unpin', 'set_pt_base', 'tlb_flush', 'trap_return', 'block', 'events'] as const;
export type PvCallName = (typeof PV_CALL_NAMES)[number];

/** Pairs one MMU_UPDATE may carry. */
export const PV_MMU_UPDATE_MAX = 512;

/** The vcpu page's fields (byte offsets), each 64 bits. */
export const Vcpu = {
  Sstatus: 0,
  Sie: 8,
  Sip: 16,
  Stvec: 24,
  Sscratch: 32,
  Sepc: 40,
  Scause: 48,
  Stval: 56,
} as const;

/** SBI error codes (SBI 2.0 §3.2). */
export const SbiError = {
  Failed: -1,
  NotSupported: -2,
  InvalidParam: -3,
  Denied: -4,
  InvalidAddress: -5,
  AlreadyAvailable: -6,
} as const;
