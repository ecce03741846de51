/*
 * Entry from fw_jump (a0 = hartid, a1 = DTB, S-mode, MMU off), the trap vectors and the
 * context switch. The vectors are the native pv-ops' own: set through pv->csr_write(STVEC)
 * and left through pv->user_return (userret below).
 */
#include "trapframe.inc"

        .section .text.start, "ax"
        .globl _start
_start:
        la      sp, boot_stack_top
        la      t0, __bss_start
        la      t1, __bss_end
1:      bgeu    t0, t1, 2f
        sd      zero, 0(t0)
        addi    t0, t0, 8
        j       1b
2:      call    kmain
3:      j       3b

/* A trap taken in S-mode: only interrupts are expected (kerneltrap panics on the rest).
   Saves what the C calling convention lets kerneltrap clobber. */
        .text
        .globl kernelvec
        .balign 4
kernelvec:
        addi    sp, sp, -256
        sd      ra, 0(sp)
        sd      gp, 16(sp)
        sd      tp, 24(sp)
        sd      t0, 32(sp)
        sd      t1, 40(sp)
        sd      t2, 48(sp)
        sd      a0, 72(sp)
        sd      a1, 80(sp)
        sd      a2, 88(sp)
        sd      a3, 96(sp)
        sd      a4, 104(sp)
        sd      a5, 112(sp)
        sd      a6, 120(sp)
        sd      a7, 128(sp)
        sd      t3, 216(sp)
        sd      t4, 224(sp)
        sd      t5, 232(sp)
        sd      t6, 240(sp)
        call    kerneltrap
        ld      ra, 0(sp)
        ld      gp, 16(sp)
        ld      tp, 24(sp)
        ld      t0, 32(sp)
        ld      t1, 40(sp)
        ld      t2, 48(sp)
        ld      a0, 72(sp)
        ld      a1, 80(sp)
        ld      a2, 88(sp)
        ld      a3, 96(sp)
        ld      a4, 104(sp)
        ld      a5, 112(sp)
        ld      a6, 120(sp)
        ld      a7, 128(sp)
        ld      t3, 216(sp)
        ld      t4, 224(sp)
        ld      t5, 232(sp)
        ld      t6, 240(sp)
        addi    sp, sp, 256
        sret

/* A trap from U-mode. sscratch holds the process's trapframe (kernel.h struct trapframe);
   the kernel is mapped in every address space, so satp stays as it is. */
        .globl uservec
        .balign 4
uservec:
        csrrw   a0, sscratch, a0
        SAVE_USER_REGS_BUT_A0
        csrr    t0, sscratch
        sd      t0, 72(a0)
        csrw    sscratch, a0
        ld      sp, 256(a0)
        call    usertrap
4:      j       4b

/* userret(tf): back to U-mode with tf's registers; sepc, sstatus and sscratch are set. */
        .globl userret
userret:
        ld      ra, 0(a0)
        ld      sp, 8(a0)
        ld      gp, 16(a0)
        ld      tp, 24(a0)
        ld      t0, 32(a0)
        ld      t1, 40(a0)
        ld      t2, 48(a0)
        ld      s0, 56(a0)
        ld      s1, 64(a0)
        ld      a1, 80(a0)
        ld      a2, 88(a0)
        ld      a3, 96(a0)
        ld      a4, 104(a0)
        ld      a5, 112(a0)
        ld      a6, 120(a0)
        ld      a7, 128(a0)
        ld      s2, 136(a0)
        ld      s3, 144(a0)
        ld      s4, 152(a0)
        ld      s5, 160(a0)
        ld      s6, 168(a0)
        ld      s7, 176(a0)
        ld      s8, 184(a0)
        ld      s9, 192(a0)
        ld      s10, 200(a0)
        ld      s11, 208(a0)
        ld      t3, 216(a0)
        ld      t4, 224(a0)
        ld      t5, 232(a0)
        ld      t6, 240(a0)
        ld      a0, 72(a0)
        sret

/* swtch(from, to): save the callee-saved registers in *from, load them from *to. */
        .globl swtch
swtch:
        sd      ra, 0(a0)
        sd      sp, 8(a0)
        sd      s0, 16(a0)
        sd      s1, 24(a0)
        sd      s2, 32(a0)
        sd      s3, 40(a0)
        sd      s4, 48(a0)
        sd      s5, 56(a0)
        sd      s6, 64(a0)
        sd      s7, 72(a0)
        sd      s8, 80(a0)
        sd      s9, 88(a0)
        sd      s10, 96(a0)
        sd      s11, 104(a0)
        ld      ra, 0(a1)
        ld      sp, 8(a1)
        ld      s0, 16(a1)
        ld      s1, 24(a1)
        ld      s2, 32(a1)
        ld      s3, 40(a1)
        ld      s4, 48(a1)
        ld      s5, 56(a1)
        ld      s6, 64(a1)
        ld      s7, 72(a1)
        ld      s8, 80(a1)
        ld      s9, 88(a1)
        ld      s10, 96(a1)
        ld      s11, 104(a1)
        ret

        .section .bss
        .balign 16
        .space  16384
boot_stack_top:
