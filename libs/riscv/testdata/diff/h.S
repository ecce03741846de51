/* H extension (hypervisor/diff-qemu.spec.ts): from M, CSR write-backs of the hypervisor
 * registers, then a VS guest under an Sv39x4 G-stage (identity gigapage for DRAM) that
 * makes virtual-instruction, guest-page and VS-stage page faults, takes a VS-level
 * interrupt in VS, and reads its VS views. The M handler prints each trap (mcause,
 * mtval, mtval2, mstatus.MPV) and resumes the guest past the instruction; it clobbers
 * a0, t0-t3 and ra, which the guest therefore keeps nothing in.
 * Masked where QEMU 7.2 departs from the spec (README): hcounteren is 32 bits (QEMU keeps
 * 64), medeleg[11] is read-only zero, Sscofpmf's LCOFI (mideleg[13]) and the CLINT timer
 * (mip.MTIP) are not modelled, and mstatus.GVA on a trap into M is written as the spec
 * says (QEMU 7.2 only ever sets it, also for an instruction's bits in mtval). */
#include "prelude.h"

/* W csr: writes all ones and prints what reads back. */
.macro W csr
  li t4, -1
  csrw \csr, t4
  csrr a0, \csr
  call print_hex
.endm

main:
  /* PMP: everything to every mode. */
  li t0, -1
  csrw pmpaddr0, t0
  li t0, 0x1f
  csrw pmpcfg0, t0
  csrr a0, misa
  andi a0, a0, 0x80
  P a0
  W hedeleg
  W hideleg
  csrw hcounteren, t4
  csrr a0, hcounteren
  li t0, 0xffffffff
  and a0, a0, t0
  P a0
  csrw mideleg, t4
  csrr a0, mideleg
  li t0, ~0x2000
  and a0, a0, t0
  P a0
  csrw medeleg, t4
  csrr a0, medeleg
  li t0, ~0x800
  and a0, a0, t0
  P a0
  csrw medeleg, zero
  W hie
  csrr a0, mie
  P a0
  csrw hie, zero
  csrw mie, zero
  li t0, 0x444
  csrw hvip, t0
  csrr a0, mip
  li t0, 0x1666
  and a0, a0, t0
  P a0
  csrr a0, hip
  P a0
  csrw hvip, zero
  csrw hgeie, t4
  csrr a0, hgeie
  P a0

  /* G-stage: root (16 KiB aligned) entry 2 maps GPA 0x80000000.. 1 GiB to itself, U. */
  la t0, groot
  li t1, (0x80000000 >> 12) << 10 | 0xdf   /* D A U X W R V */
  sd t1, 16(t0)
  srli t0, t0, 12
  li t1, 8 << 60
  or t0, t0, t1
  csrw hgatp, t0
  csrr a0, hgatp
  srli a0, a0, 60
  P a0
  hfence.gvma

  /* VS state: vstvec, vsscratch, VS-level software interrupt delegated and enabled. */
  la t0, vs_handler
  csrw vstvec, t0
  li t0, 0x1234
  csrw vsscratch, t0
  li t0, 4
  csrw hideleg, t0
  csrw hie, t0
  csrw hcounteren, zero
  li t0, 1
  csrw mcounteren, t0

  /* Into VS: MPV = 1, MPP = S. */
  la t0, mtrap
  csrw mtvec, t0
  li t0, 0x1800
  csrc mstatus, t0
  li t0, 1
  slli t0, t0, 39
  li t1, 1 << 11
  or t0, t0, t1
  csrs mstatus, t0
  la t0, guest
  csrw mepc, t0
  mret

  .balign 4
mtrap:
  csrr a0, mcause
  call print_hex
  csrr a0, mtval
  call print_hex
  csrr a0, mtval2
  call print_hex
  csrr a0, mstatus
  srli a0, a0, 39
  andi a0, a0, 1
  call print_hex
  csrr t0, mcause
  li t1, 10                 /* ECALL from VS: the end */
  beq t0, t1, finish
  csrr t0, mepc
  addi t0, t0, 4
  csrw mepc, t0
  mret

finish:
  P s2
  P s3
  P s4
  P s5
  P s6
  P s7
  P s8
  P s9
  j poweroff

/* ---- The VS guest (no UART: its results go to s2.., printed by M at the end) ---- */
  .balign 4
  .option norvc              /* the M handler resumes at mepc + 4 */
guest:
  csrr s2, sscratch          /* vsscratch = 0x1234 */
  csrr s3, sstatus           /* vsstatus */
  csrr a1, hstatus           /* virtual instruction */
  csrr a1, mstatus           /* illegal */
  rdcycle a1                 /* mcounteren yes, hcounteren no: virtual */
  li a2, 0x40000000
  ld a1, 8(a2)               /* load guest-page fault, GPA unmapped */
  sd a1, 16(a2)              /* store guest-page fault */
  li a2, 1
  slli a2, a2, 41
  ld a1, 0(a2)               /* beyond Sv39x4's 41 bits */
  /* VS-level software interrupt, taken in VS as cause 1. */
  csrsi sie, 2
  csrsi sstatus, 2
  csrsi sip, 2
  nop
  nop
  csrr s5, sie
  /* VS-stage Sv39: VA 0x1000 -> vsdata, and the gigapage of DRAM. */
  la a1, vsl0
  la a2, vsdata
  srli a2, a2, 12
  slli a2, a2, 10
  ori a2, a2, 0xc7           /* D A W R V */
  sd a2, 8(a1)
  la a2, vsl1
  srli a1, a1, 12
  slli a1, a1, 10
  ori a1, a1, 1
  sd a1, 0(a2)
  la a1, vsroot
  srli a2, a2, 12
  slli a2, a2, 10
  ori a2, a2, 1
  sd a2, 0(a1)
  li a2, (0x80000000 >> 12) << 10 | 0xcf
  sd a2, 16(a1)
  srli a1, a1, 12
  li a2, 8 << 60
  or a1, a1, a2
  csrw satp, a1
  sfence.vma
  li a1, 0x1000
  ld s6, 0(a1)               /* through both stages */
  li a1, 0x2000
  ld a2, 0(a1)               /* VS-stage page fault (13) */
  csrr s7, satp
  srli s7, s7, 60
  ecall

  .balign 4
vs_handler:
  csrr s4, scause
  csrci sip, 2
  csrr s8, sip
  csrr s9, sstatus
  sret

  .data
  .balign 8
vsdata:
  .dword 0x0123456789abcdef
  .balign 4096
vsroot: .space 4096
vsl1: .space 4096
vsl0: .space 4096
  .balign 16384
groot: .space 16384
