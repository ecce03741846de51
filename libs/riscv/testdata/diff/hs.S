/* H extension, HS side (hypervisor/diff-qemu.spec.ts): M hands over to HS, which sets up
 * an Sv39x4 G-stage itself and enters a VS guest with SRET (hstatus.SPV). The guest's
 * virtual-instruction, guest-page and ECALL traps are delegated to HS, whose handler
 * prints scause, stval, htval, hstatus.GVA/SPV/SPVP and sstatus.SPP, and resumes the
 * guest; at the guest's ECALL, HS reads guest memory with HLV (SPVP from that trap) and
 * makes an HLV fault on itself, then powers off. */
#include "prelude.h"

main:
  li t0, -1
  csrw pmpaddr0, t0
  li t0, 0x1f
  csrw pmpcfg0, t0
  li t0, (1 << 10) | (1 << 20) | (1 << 21) | (1 << 22) | (1 << 23)
  csrw medeleg, t0
  li t0, 0x1800
  csrc mstatus, t0
  li t0, 0x800             /* MPP = S, MPV = 0 */
  csrs mstatus, t0
  la t0, hs_main
  csrw mepc, t0
  mret

  .balign 4
  .option norvc              /* handlers resume at xepc + 4 */
hs_main:
  la t0, hs_trap
  csrw stvec, t0
  la t0, groot
  li t1, (0x80000000 >> 12) << 10 | 0xdf   /* D A U X W R V */
  sd t1, 16(t0)
  srli t0, t0, 12
  li t1, 8 << 60
  or t0, t0, t1
  csrw hgatp, t0
  hfence.gvma
  li t0, 0x80                /* hstatus.SPV */
  csrw hstatus, t0
  li t0, 0x100               /* sstatus.SPP = S */
  csrs sstatus, t0
  la t0, guest
  csrw sepc, t0
  sret

hs_trap:
  csrr a0, scause
  call print_hex
  csrr a0, stval
  call print_hex
  csrr a0, htval
  call print_hex
  csrr a0, hstatus
  andi a0, a0, 0x1c0
  call print_hex
  csrr a0, sstatus
  srli a0, a0, 8
  andi a0, a0, 1
  call print_hex
  csrr t0, scause
  li t1, 10
  beq t0, t1, hs_end
  csrr t0, sepc
  addi t0, t0, 4
  csrw sepc, t0
  sret

hs_end:
  la a1, vsdata
  hlv.d s2, (a1)             /* as VS (SPVP = 1 from the ECALL's trap) */
  P s2
  li a2, 0x5a5a
  hsv.d a2, (a1)
  ld s3, 0(a1)
  P s3
  li a1, 0x40000000
  addi a1, a1, 8
  hlv.w s4, (a1)             /* guest-page fault from HS: V = 0, GVA = 1 */
  j poweroff

guest:
  csrr a1, hstatus           /* virtual instruction */
  li a2, 0x40000000
  ld a1, 8(a2)               /* load guest-page fault */
  csrr s5, sscratch
  ecall

  .data
  .balign 8
vsdata:
  .dword 0x0123456789abcdef
  .balign 16384
groot: .space 16384
