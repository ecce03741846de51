/*
 * ticker: a guest that lives until told otherwise. RV64I + Zicsr, M-mode.
 *
 * Prints "ticker: boot", then "tick <n>" every 50 ms of the CLINT timebase (mtimecmp =
 * mtime + 500000 at 10 MHz), n counting from 1, sleeping in WFI in between. mie.MTIE is
 * set but mstatus.MIE is not, so the timer wakes the WFI without taking a trap.
 * After each tick it looks at the UART for one byte:
 *   q  poweroff with pass      x  poweroff with fail code 1
 *   r  reset (0x7777)          c  crash: an illegal instruction with mtvec = 0, whose
 *                                 trap then faults on its own fetch forever
 * Dom0's tests use it for what a long-running guest shows: a console that never stops,
 * a reset, a crash, a pause (the ticks stop and go on from where they were).
 * The tick count is printed by guests/console.inc's putdec: right below 10^10 ticks
 * (16 years at one per 50 ms).
 */
        .equ UART0,          0x10000000
        .equ UART_RBR,       0
        .equ UART_THR,       0
        .equ UART_LSR,       5
        .equ LSR_DR,         0x01
        .equ LSR_THRE,       0x20
        .equ CLINT_MTIMECMP, 0x2004000
        .equ CLINT_MTIME,    0x200bff8
        .equ SIFIVE_TEST,    0x100000
        .equ TEST_PASS,      0x5555
        .equ TEST_FAIL1,     0x13333     /* (1 << 16) | 0x3333 */
        .equ TEST_RESET,     0x7777
        .equ TICK,           500000      /* 50 ms of the 10 MHz timebase */
        .equ MIE_MTIE,       0x80

        .section .text.start, "ax"
        .globl _start
_start:
        la      sp, stack_top           /* console.inc's helpers save on the stack */
        li      s1, UART0                /* console.inc: UART0's base in s1 */
        la      a0, msg_boot
        jal     ra, puts
        li      s0, 0                   /* ticks so far */
        li      t0, MIE_MTIE
        csrw    mie, t0

tick:   li      t0, CLINT_MTIME         /* mtimecmp = mtime + TICK: MTIP goes low */
        ld      t1, 0(t0)
        li      t0, TICK
        add     t1, t1, t0
        li      t0, CLINT_MTIMECMP
        sd      t1, 0(t0)
1:      wfi
        csrr    t0, mip
        andi    t0, t0, MIE_MTIE
        beqz    t0, 1b                  /* woken early: sleep again */

        addi    s0, s0, 1
        la      a0, msg_tick
        jal     ra, puts
        mv      a0, s0
        jal     ra, putdec
        la      a0, msg_crlf
        jal     ra, puts

        lbu     t0, UART_LSR(s1)
        andi    t0, t0, LSR_DR
        beqz    t0, tick
        lbu     t1, UART_RBR(s1)
        li      t2, 'q'
        beq     t1, t2, poweroff
        li      t2, 'x'
        beq     t1, t2, fail
        li      t2, 'r'
        beq     t1, t2, reset
        li      t2, 'c'
        beq     t1, t2, crash
        j       tick

poweroff:
        la      a0, msg_bye
        jal     ra, puts
        li      t1, TEST_PASS
        j       finish
fail:
        la      a0, msg_fail
        jal     ra, puts
        li      t1, TEST_FAIL1
        j       finish
reset:
        la      a0, msg_reset
        jal     ra, puts
        li      t1, TEST_RESET
finish:
        li      t0, SIFIVE_TEST
        sw      t1, 0(t0)
2:      j       2b
crash:
        la      a0, msg_crash
        jal     ra, puts
        .word   0                       /* illegal; mtvec is 0, where nothing is mapped */

#include "../console.inc"

        .section .rodata
msg_boot:  .asciz "ticker: boot\r\n"
msg_tick:  .asciz "tick "
msg_crlf:  .asciz "\r\n"
msg_bye:   .asciz "ticker: bye\r\n"
msg_fail:  .asciz "ticker: fail\r\n"
msg_reset: .asciz "ticker: reset\r\n"
msg_crash: .asciz "ticker: crash\r\n"

        .section .bss
        .balign 16
stack:  .space 1024
stack_top:
