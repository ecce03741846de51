/*
 * echo: a console-input guest. RV64I only, no CSRs.
 *
 * Entered at 0x80000000 in M-mode (a0 = hartid, a1 = DTB; both ignored).
 * Prints "echo ready\r\n", then echoes every byte received on the ns16550a UART,
 * byte for byte, with no translation (a '\n' in comes back as '\n').
 *   'q' -> echoed, then "\r\nbye\r\n", then power off with the pass code (exit 0).
 *   'x' -> echoed, then power off with the fail code 1 (QEMU exits with status 1).
 * Tests use it to check that console input reaches the guest.
 */
        .equ UART0,       0x10000000
        .equ UART_RBR,    0          /* receive buffer register (read) */
        .equ UART_THR,    0          /* transmit holding register (write) */
        .equ UART_LSR,    5          /* line status register */
        .equ LSR_DR,      0x01       /* data ready: RBR holds a byte */
        .equ LSR_THRE,    0x20       /* THR empty: may write the next byte */
        .equ SIFIVE_TEST, 0x100000
        .equ TEST_PASS,   0x5555
        .equ TEST_FAIL,   0x3333     /* upper 16 bits carry the exit code */

        .section .text.start, "ax"
        .globl _start
_start:
        la      sp, stack_top           /* console.inc's puts saves on the stack */
        li      s1, UART0                /* console.inc: UART0's base in s1 */
        la      a0, ready_msg
        jal     ra, puts

loop:
        jal     ra, getc
        mv      s2, a0
        jal     ra, putc                /* echo it, whatever it is */
        li      t0, 'q'
        beq     s2, t0, quit
        li      t0, 'x'
        beq     s2, t0, fail
        j       loop

quit:
        la      a0, bye_msg
        jal     ra, puts
        li      t0, SIFIVE_TEST
        li      t1, TEST_PASS
        sw      t1, 0(t0)
1:      j       1b

fail:
        li      t0, SIFIVE_TEST
        li      t1, (1 << 16) | TEST_FAIL
        sw      t1, 0(t0)
2:      j       2b

/* getc() -> a0: wait for DR, then read RBR. Uses t0. s1 = UART base. */
getc:
        lbu     t0, UART_LSR(s1)
        andi    t0, t0, LSR_DR
        beqz    t0, getc
        lbu     a0, UART_RBR(s1)
        ret

#include "../console.inc"

        .section .rodata
ready_msg: .asciz "echo ready\r\n"
bye_msg:   .asciz "\r\nbye\r\n"

        .section .bss
        .balign 16
stack:  .space 1024
stack_top:
