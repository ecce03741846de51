/*
 * idle: the cheapest guest there is. RV64I + Zicsr, M-mode. Prints "idle: up", parks the
 * timer far away and sleeps in WFI with no interrupt enabled, for ever: what an idle VM
 * costs the host is what this one costs (dom0's density measurement boots many).
 */
        .equ UART0,          0x10000000
        .equ UART_THR,       0
        .equ UART_LSR,       5
        .equ LSR_THRE,       0x20
        .equ CLINT_MTIMECMP, 0x2004000

        .section .text.start, "ax"
        .globl _start
_start:
        la      sp, stack_top           /* console.inc's puts saves on the stack */
        li      s1, UART0                /* console.inc: UART0's base in s1 */
        la      a0, msg_up
        jal     ra, puts
        csrw    mie, zero
        li      t0, CLINT_MTIMECMP      /* mtimecmp = max: MTIP low for good */
        li      t1, -1
        sd      t1, 0(t0)
1:      wfi
        j       1b

#include "../console.inc"

        .section .rodata
msg_up: .asciz "idle: up\r\n"

        .section .bss
        .balign 16
stack:  .space 1024
stack_top:
