/*
 * The pv-ops' trap vectors (pv mode, docs/pv-abi.md). The monitor delivers a trap as the
 * hart would deliver it to S-mode, with two differences: the registers a native vector reads
 * with csrr are in the vcpu page, and a trap from user mode arrives with a0 and sscratch
 * already exchanged (what a native vector's first instruction does). Both vectors leave
 * through PV_TRAP_RETURN, which loads x1..x31 and pc from a frame laid out as struct
 * trapframe's first 32 words.
 */
#include "pv_abi.h"
#include "trapframe.inc"

        .text
        .globl pv_uservec
        .balign 4
pv_uservec:
        /* a0 = this process's trapframe; the user's a0 is in the vcpu page's sscratch. */
        SAVE_USER_REGS_BUT_A0
        la      t1, pv_vcpu
        ld      t0, PV_VCPU_SSCRATCH(t1)
        sd      t0, 72(a0)
        sd      a0, PV_VCPU_SSCRATCH(t1)
        ld      sp, 256(a0)
        call    usertrap
1:      j       1b

/* pv_userret(tf): to user mode with tf's registers and tf->epc (the vcpu page says U). */
        .globl pv_userret
pv_userret:
        li      a7, PV_EID
        li      a6, PV_TRAP_RETURN
        ecall
2:      j       2b      /* a refused return: the monitor stops the VM */

/* A trap in the kernel (interrupts only): every register into a frame on the stack. */
        .globl pv_kernelvec
        .balign 4
pv_kernelvec:
        addi    sp, sp, -256
        sd      ra, 0(sp)
        sd      gp, 16(sp)
        sd      tp, 24(sp)
        sd      t0, 32(sp)
        addi    t0, sp, 256
        sd      t0, 8(sp)
        sd      t1, 40(sp)
        sd      t2, 48(sp)
        sd      s0, 56(sp)
        sd      s1, 64(sp)
        sd      a0, 72(sp)
        sd      a1, 80(sp)
        sd      a2, 88(sp)
        sd      a3, 96(sp)
        sd      a4, 104(sp)
        sd      a5, 112(sp)
        sd      a6, 120(sp)
        sd      a7, 128(sp)
        sd      s2, 136(sp)
        sd      s3, 144(sp)
        sd      s4, 152(sp)
        sd      s5, 160(sp)
        sd      s6, 168(sp)
        sd      s7, 176(sp)
        sd      s8, 184(sp)
        sd      s9, 192(sp)
        sd      s10, 200(sp)
        sd      s11, 208(sp)
        sd      t3, 216(sp)
        sd      t4, 224(sp)
        sd      t5, 232(sp)
        sd      t6, 240(sp)
        call    kerneltrap
        la      t1, pv_vcpu
        ld      t0, PV_VCPU_SEPC(t1)
        sd      t0, 248(sp)
        mv      a0, sp
        li      a7, PV_EID
        li      a6, PV_TRAP_RETURN
        ecall
3:      j       3b
