/*
 * fault: a guest that touches unmapped guest-physical memory and reports the trap.
 * RV64I + Zicsr (csrw mtvec, csrr mcause/mtval); no M extension: guests/console.inc
 * prints numbers by subtracting powers of ten, never by dividing.
 *
 * Entered at 0x80000000 in M-mode (a0 = hartid, a1 = DTB; both ignored).
 *   prints "touching unmapped\r\n"
 *   loads a doubleword from FAULT_ADDR, which nothing maps on QEMU virt (nor on
 *   Splitvisor's copy of it): QEMU raises a load access fault (mcause 5)
 *   the handler prints "trap cause=<mcause, decimal>\r\n"
 *                      "mtval=0x<mtval, 16 hex digits>\r\n"
 *   and powers off with the pass code (exit 0).
 * If the load does not trap it prints "no trap\r\n" and fails with code 1;
 * a trap inside the handler fails with code 2 (no loop of nested traps).
 */
        .equ UART0,       0x10000000
        .equ UART_THR,    0
        .equ UART_LSR,    5
        .equ LSR_THRE,    0x20
        .equ SIFIVE_TEST, 0x100000
        .equ TEST_PASS,   0x5555
        .equ TEST_FAIL,   0x3333
        /* A hole in QEMU virt's map: after the goldfish RTC (0x101000, 4 KiB),
           before the CLINT (0x2000000). */
        .equ FAULT_ADDR,  0x200000

        .section .text.start, "ax"
        .globl _start
_start:
        la      sp, stack_top           /* console.inc's helpers save on the stack */
        li      s1, UART0                /* console.inc: UART0's base in s1 */
        la      t0, trap_handler
        csrw    mtvec, t0               /* direct mode: handler is 4-byte aligned */

        la      a0, touch_msg
        jal     ra, puts

        li      t0, FAULT_ADDR
        ld      t1, 0(t0)               /* expected to trap: load access fault */

        la      a0, notrap_msg          /* reached only if the load did not trap */
        jal     ra, puts
        li      a0, 1
        j       poweroff_fail

        .balign 4
trap_handler:
        la      t0, double_fault        /* a trap from here on is not expected */
        csrw    mtvec, t0

        la      a0, cause_msg
        jal     ra, puts
        csrr    a0, mcause
        jal     ra, putdec
        la      a0, mtval_msg
        jal     ra, puts
        csrr    a0, mtval
        li      a1, 16                  /* "0x" and 16 hex digits */
        jal     ra, puthex
        la      a0, crlf
        jal     ra, puts

        li      t0, SIFIVE_TEST
        li      t1, TEST_PASS
        sw      t1, 0(t0)
1:      j       1b

        .balign 4
double_fault:
        li      a0, 2
        /* fall through */

/* poweroff_fail(a0 = exit code): QEMU exits with that status. */
poweroff_fail:
        slli    a0, a0, 16
        li      t1, TEST_FAIL
        or      t1, t1, a0
        li      t0, SIFIVE_TEST
        sw      t1, 0(t0)
2:      j       2b

#include "../console.inc"

        .section .rodata
touch_msg:  .asciz "touching unmapped\r\n"
notrap_msg: .asciz "no trap\r\n"
cause_msg:  .asciz "trap cause="
mtval_msg:  .asciz "\r\nmtval="
crlf:       .asciz "\r\n"

        .section .bss
        .balign 16
stack:  .space 1024
stack_top:
