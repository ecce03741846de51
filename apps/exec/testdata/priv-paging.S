/*
 * priv-paging: M -> S under Sv39 -> U and back, self-checking; reports through HTIF.
 *
 * M: opens PMP, builds Sv39 tables (identity 1 GiB gigapage over DRAM for S, the same
 *    frames again at the kernel-half alias 0xffffffffc0000000, and two U pages at
 *    0x40000000: code and data), delegates U ECALL and load/store page faults to S, and
 *    MRETs into S.
 * S: jumps to the kernel-half alias (a negative pc), checks that a load of a U page
 *    faults without SUM and works with it, then SRETs into U.
 * U: loads and stores its data page, stores to an S page (a store page fault, which S
 *    skips), and ECALLs.
 * S: checks the fault count and stval, the stored value and the hardware-set A/D bits of
 *    the U data PTE, and ECALLs to M with a0 = 0x600d.
 * M: prints "priv-paging: ok" and exits 0; any other trap exits with mcause + 10.
 */
#include "paging.inc"
        .equ    USER_CODE_VA, 0x40000000
        .equ    USER_DATA_VA, 0x40001000
        .equ    SSTATUS_SUM, 1 << 18
        .equ    SSTATUS_SPP, 1 << 8

        .section .text.start, "ax"
        .globl  _start
_start:
        m_open  m_trap

        /* root[2]: identity gigapage 0x80000000, S-only, A and D preset. */
        la      s0, root
        li      t0, 0x80000000
        srli    t0, t0, 2               /* (pa >> 12) << 10 */
        ori     t0, t0, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
        sd      t0, 2 * 8(s0)
        /* root[511]: the same frames at the kernel-half alias. */
        li      t1, 511 * 8
        add     t1, t1, s0
        sd      t0, 0(t1)
        /* root[1] -> l1, l1[0] -> l0 (pointers: V only). */
        pte_to  s0, 1, l1, PTE_V
        la      t1, l1
        pte_to  t1, 0, l0, PTE_V
        /* l0[0]: user code, U R X; l0[1]: user data, U R W (A and D left to hardware). */
        la      t1, l0
        pte_to  t1, 0, user_code, PTE_V | PTE_R | PTE_X | PTE_U
        pte_to  t1, 1, user_data, PTE_V | PTE_R | PTE_W | PTE_U

        /* Delegate ECALL from U (8), load (13) and store (15) page faults. */
        li      t0, (1 << 8) | (1 << 13) | (1 << 15)
        csrw    medeleg, t0
        satp_on s0, 8                   /* Sv39 */
        mret_to_s s_entry

/* ---- M-mode trap: the end of the test, one way or the other ---- */
m_trap:
        csrr    t0, mcause
        li      t1, 9                   /* ECALL from S */
        bne     t0, t1, m_fail
        li      t1, 0x600d
        bne     a0, t1, m_fail_a0
        la      a0, ok_msg
        jal     ra, puts
        li      a0, 0
        j       exit
m_fail_a0:
        mv      t0, a0                  /* S reported which check failed */
m_fail:
        addi    a0, t0, 10
        j       exit

/* exit(a0) through HTIF: tohost = (a0 << 1) | 1 */
exit:
        la      t0, tohost
        slli    a0, a0, 1
        ori     a0, a0, 1
        sd      a0, 0(t0)
1:      j       1b

/* puts(a0) through HTIF putchar (device 1, command 1), one byte per command. */
puts:
        la      t0, tohost
        li      t2, 0x0101
        slli    t2, t2, 48
1:      lbu     t1, 0(a0)
        beqz    t1, 3f
        or      t1, t1, t2
        sd      t1, 0(t0)
2:      ld      t1, 0(t0)
        bnez    t1, 2b
        addi    a0, a0, 1
        j       1b
3:      ret

/* ---- S-mode ---- */
s_entry:
        /* Continue at the kernel-half alias of s_high: pa + (0xffffffffc0000000 - 0x80000000). */
        la      t1, s_high
        li      t0, 0xffffffff40000000
        add     t1, t1, t0
        jr      t1
s_high:
        auipc   t2, 0                   /* the pc is negative now */
        li      a0, 1
        bgez    t2, s_fail
        la      t0, s_trap              /* pc-relative: the alias address */
        csrw    stvec, t0
        li      s2, 0                   /* page faults seen */
        li      s3, 0                   /* last stval */

        /* A U page without SUM: a load page fault, which s_trap skips. */
        li      t0, USER_DATA_VA
        li      t1, 0
        ld      t1, 0(t0)
        li      a0, 2
        li      t3, 1
        bne     s2, t3, s_fail
        li      t3, USER_DATA_VA
        bne     s3, t3, s_fail
        /* With SUM the same load works (s_trap used t0 and t1). */
        li      t3, SSTATUS_SUM
        csrs    sstatus, t3
        li      t0, USER_DATA_VA
        ld      t1, 0(t0)
        li      a0, 3
        li      t3, 0x1234
        bne     t1, t3, s_fail
        li      t3, SSTATUS_SUM
        csrc    sstatus, t3

        /* Into U at USER_CODE_VA. */
        li      t0, SSTATUS_SPP
        csrc    sstatus, t0
        li      t0, USER_CODE_VA
        csrw    sepc, t0
        sret

s_fail:                                 /* a0 = which check */
        ecall

s_trap:                                 /* uses t0 and t1 */
        csrr    t0, scause
        li      t1, 13
        beq     t0, t1, s_page_fault
        li      t1, 15
        beq     t0, t1, s_page_fault
        li      t1, 8
        beq     t0, t1, s_user_done
        li      a0, 4
        j       s_fail
s_page_fault:
        addi    s2, s2, 1
        csrr    s3, stval
        csrr    t0, sepc
        addi    t0, t0, 4
        csrw    sepc, t0
        sret

s_user_done:
        li      a0, 5                   /* U's store to an S page faulted, with its address */
        li      t3, 2
        bne     s2, t3, s_fail
        la      t3, scratch
        li      t4, 0xffffffff40000000  /* s3 is the physical (identity) address */
        sub     t3, t3, t4
        bne     s3, t3, s_fail
        li      a0, 6                   /* U stored data[0] + 1 into data[1] */
        la      t0, user_data
        ld      t1, 8(t0)
        li      t3, 0x1235
        bne     t1, t3, s_fail
        li      a0, 7                   /* the walk set A and D in the data PTE */
        la      t0, l0
        ld      t1, 8(t0)
        andi    t1, t1, PTE_A | PTE_D
        li      t3, PTE_A | PTE_D
        bne     t1, t3, s_fail
        li      a0, 0x600d
        ecall

/* ---- U-mode: one page of code, mapped at USER_CODE_VA ---- */
        .section .text.user, "ax"
        .balign 4096
user_code:
        li      t0, USER_DATA_VA
        ld      t1, 0(t0)
        addi    t1, t1, 1
        sd      t1, 8(t0)
        ld      t0, scratch_ptr         /* pc-relative inside this page: fine at any VA */
        sd      zero, 0(t0)             /* an S page: store page fault */
        ecall
        .balign 8
scratch_ptr:
        .dword  scratch
        .balign 4096

        .section .rodata
ok_msg: .asciz  "priv-paging: ok\n"

#include "htif.inc"

        .section .data
        .balign 4096
user_data:
        .dword  0x1234
        .dword  0
        .balign 4096
root:   .zero   4096
l1:     .zero   4096
l0:     .zero   4096
scratch: .dword 0
