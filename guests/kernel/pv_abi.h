/*
 * Splitvisor's paravirtual ABI (docs/pv-abi.md is the reference; the monitor's side is
 * services/cpu/src/monitor/pv-abi.ts). A hypercall is an SBI call (ECALL from the guest
 * kernel's S-mode) with a7 = PV_EID, a6 = the function; it answers a0 = an SBI error code,
 * a1 = a value. Every address a hypercall takes is guest-physical.
 */
#ifndef PV_ABI_H
#define PV_ABI_H

/* In SBI's firmware-specific range (SBI 2.0 §3: 0x0A000000-0x0AFFFFFF): "\nSVP". */
#define PV_EID 0x0A535650

#define PV_VERSION 0     /* -> a1 = the ABI version (1) */
#define PV_REGISTER 1    /* (vcpu page, arena base, arena pages): turn pv on; paging must be off */
#define PV_MMU_UPDATE 2  /* (list, count): count (pte address, value) pairs, each validated */
#define PV_PIN 3         /* (table): validate and pin a root table (Sv39, 3 levels) */
#define PV_UNPIN 4       /* (table): unpin a root; its tables are released and zeroed */
#define PV_SET_PT_BASE 5 /* (kernel satp, user satp): both pinned roots (user 0: the kernel's) */
#define PV_TLB_FLUSH 6   /* (va): drop cached translations (0: all) */
#define PV_TRAP_RETURN 7 /* (frame): x1..x31 and pc from the frame, privilege SPP, SIE = SPIE */
#define PV_BLOCK 8       /* sleep until an interrupt is pending and enabled (wfi) */
#define PV_EVENTS 9      /* take the interrupts pending and enabled now (after unmasking) */

#define PV_ABI_VERSION 1
#define PV_MMU_UPDATE_MAX 512

/* The vcpu page (PV_REGISTER): the virtual supervisor registers, shared with the monitor.
   The guest writes sstatus (SIE), sie, stvec and sscratch with plain stores; the monitor
   writes them all when it delivers a trap, and sip before every return to the guest. */
#ifndef __ASSEMBLER__
struct pv_vcpu {
  uint64_t sstatus; /* SIE (bit 1), SPIE (5), SPP (8) */
  uint64_t sie;
  uint64_t sip;
  uint64_t stvec;
  uint64_t sscratch;
  uint64_t sepc;
  uint64_t scause;
  uint64_t stval;
};
#endif
#define PV_VCPU_SSTATUS 0
#define PV_VCPU_SIE 8
#define PV_VCPU_SIP 16
#define PV_VCPU_STVEC 24
#define PV_VCPU_SSCRATCH 32
#define PV_VCPU_SEPC 40

#endif
