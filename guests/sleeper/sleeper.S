/*
 * sleeper: a guest idle in WFI with a timer set, and how late each timer woke it.
 * RV64IM + Zicsr, M-mode.
 *
 * Prints "sleeper: up", then sets the CLINT timer every 50 ms of its timebase (10 MHz)
 * and sleeps in WFI until it fires, as an idle kernel's tick does. mie.MTIE is set but
 * mstatus.MIE is not, so the timer wakes the WFI without taking a trap. Deadlines follow
 * one another (each 50 ms after the last), so a late wake does not shift the next; one
 * that has already passed when it would be set is set 50 ms from now instead.
 * After each wake it reads mtime: how late the wake was is mtime minus the deadline.
 * Every 20 wakes (a second) it prints one line, the seconds so far and the latest wake of
 * that second in microseconds:
 *     sleeper: <n> s, latest wake +<us> us
 * then looks at the UART for one byte: q powers off with pass. Unlike guests/ticker, whose
 * line per tick makes its console the cost, this one is what `npm run bench -- io`
 * measures as a guest idle in WFI (its `sleep` figure).
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
        .equ TICK,           500000      /* 50 ms of the 10 MHz timebase */
        .equ WAKES_PER_LINE, 20
        .equ TICKS_PER_US,   10
        .equ MIE_MTIE,       0x80

        .section .text.start, "ax"
        .globl _start
_start:
        la      sp, stack_top           /* console.inc's helpers save on the stack */
        li      s1, UART0                /* console.inc: UART0's base in s1 */
        la      a0, msg_up
        jal     ra, puts
        li      s0, 0                   /* lines (seconds) printed */
        li      s3, 0                   /* wakes since the last line */
        li      s4, 0                   /* the latest of them, in timebase ticks */
        li      t0, MIE_MTIE
        csrw    mie, t0
        li      t0, CLINT_MTIME
        ld      s2, 0(t0)               /* s2: the deadline */

arm:    li      t0, TICK
        add     s2, s2, t0
        li      t0, CLINT_MTIME
        ld      t1, 0(t0)
        bltu    t1, s2, 1f              /* still ahead: keep the schedule */
        li      t0, TICK
        add     s2, t1, t0              /* already passed: 50 ms from now */
1:      li      t0, CLINT_MTIMECMP      /* MTIP low until mtime reaches s2 */
        sd      s2, 0(t0)
2:      wfi
        csrr    t0, mip
        andi    t0, t0, MIE_MTIE
        beqz    t0, 2b                  /* woken early: sleep again */

        li      t0, CLINT_MTIME
        ld      t1, 0(t0)
        sub     t1, t1, s2              /* how late: MTIP means mtime >= s2 */
        bgeu    s4, t1, 3f
        mv      s4, t1
3:      addi    s3, s3, 1
        li      t0, WAKES_PER_LINE
        bltu    s3, t0, arm

        addi    s0, s0, 1
        la      a0, msg_line
        jal     ra, puts
        mv      a0, s0
        jal     ra, putdec
        la      a0, msg_latest
        jal     ra, puts
        li      t0, TICKS_PER_US
        divu    a0, s4, t0
        jal     ra, putdec
        la      a0, msg_us
        jal     ra, puts
        li      s3, 0
        li      s4, 0

        lbu     t0, UART_LSR(s1)
        andi    t0, t0, LSR_DR
        beqz    t0, arm
        lbu     t1, UART_RBR(s1)
        li      t2, 'q'
        bne     t1, t2, arm
        la      a0, msg_bye
        jal     ra, puts
        li      t0, SIFIVE_TEST
        li      t1, TEST_PASS
        sw      t1, 0(t0)
4:      j       4b

#include "../console.inc"

        .section .rodata
msg_up:     .asciz "sleeper: up\r\n"
msg_line:   .asciz "sleeper: "
msg_latest: .asciz " s, latest wake +"
msg_us:     .asciz " us\r\n"
msg_bye:    .asciz "sleeper: bye\r\n"

        .section .bss
        .balign 16
stack:  .space 1024
stack_top:
