/*
 * irq: interrupts end to end. RV64I + Zicsr, M-mode.
 *
 * 1. The CLINT timer: three ticks 10 ms apart (mtimecmp = mtime + 100000 at 10 MHz),
 *    each taken as a machine timer interrupt (mcause = 1<<63 | 7) out of WFI.
 * 2. The UART's receive interrupt through the PLIC: UART0 is PLIC source 10; context 0
 *    is hart 0's M-mode. Each interrupt claims the source, echoes every received byte
 *    as "got <c>", and completes it. 'q' powers off with pass.
 * Any other trap prints "unexpected trap" and powers off with fail code 2.
 */
        .equ UART0,         0x10000000
        .equ UART_RBR,      0
        .equ UART_THR,      0
        .equ UART_IER,      1
        .equ UART_LSR,      5
        .equ LSR_DR,        0x01
        .equ LSR_THRE,      0x20
        .equ CLINT_MTIMECMP, 0x2004000
        .equ CLINT_MTIME,   0x200bff8
        .equ PLIC_PRIO10,   0x0c000028   /* priority of source 10 */
        .equ PLIC_ENABLE0,  0x0c002000   /* context 0 enable bits 0..31 */
        .equ PLIC_THRESH0,  0x0c200000
        .equ PLIC_CLAIM0,   0x0c200004
        .equ SIFIVE_TEST,   0x100000
        .equ TEST_PASS,     0x5555
        .equ TEST_FAIL2,    0x23333      /* (2 << 16) | 0x3333 */
        .equ TICK,          100000       /* 10 ms of the 10 MHz timebase */

        .section .text.start, "ax"
        .globl _start
_start:
        la      sp, stack_top
        li      s1, UART0
        la      t0, trap
        csrw    mtvec, t0
        la      a0, msg_start
        jal     ra, puts

        li      s0, 0                   /* ticks seen, counted by the handler */
        jal     ra, arm_timer
        li      t0, 0x80                /* mie.MTIE */
        csrw    mie, t0
        csrsi   mstatus, 8              /* mstatus.MIE */
1:      wfi
        li      t0, 3
        blt     s0, t0, 1b

        csrw    mie, zero               /* timer done */
        li      t0, 1                   /* IER: received data available */
        sb      t0, UART_IER(s1)
        li      t0, PLIC_PRIO10
        li      t1, 1
        sw      t1, 0(t0)
        li      t0, PLIC_ENABLE0
        li      t1, 0x400               /* source 10 */
        sw      t1, 0(t0)
        li      t0, PLIC_THRESH0
        sw      zero, 0(t0)
        la      a0, msg_wait
        jal     ra, puts
        li      t0, 0x800               /* mie.MEIE */
        csrw    mie, t0
2:      wfi
        j       2b

/* mtimecmp = mtime + TICK. Uses t0, t1. */
arm_timer:
        li      t0, CLINT_MTIME
        ld      t1, 0(t0)
        li      t0, TICK
        add     t1, t1, t0
        li      t0, CLINT_MTIMECMP
        sd      t1, 0(t0)
        ret

trap:
        addi    sp, sp, -32
        sd      ra, 0(sp)
        sd      a0, 8(sp)
        sd      t0, 16(sp)
        sd      t1, 24(sp)
        csrr    t0, mcause
        bgez    t0, unexpected          /* bit 63 clear: an exception */
        slli    t0, t0, 1
        srli    t0, t0, 1
        li      t1, 7
        beq     t0, t1, on_timer
        li      t1, 11
        beq     t0, t1, on_external
unexpected:
        la      a0, msg_unexpected
        jal     ra, puts
        li      t0, SIFIVE_TEST
        li      t1, TEST_FAIL2
        sw      t1, 0(t0)
3:      j       3b

on_timer:
        addi    s0, s0, 1
        la      a0, msg_tick
        jal     ra, puts
        addi    a0, s0, '0'
        jal     ra, putc
        la      a0, msg_crlf
        jal     ra, puts
        li      t0, 3
        bge     s0, t0, 4f
        jal     ra, arm_timer
        j       done
4:      li      t0, CLINT_MTIMECMP      /* park the timer far away: MTIP low */
        li      t1, -1
        sd      t1, 0(t0)
        j       done

on_external:
        li      t0, PLIC_CLAIM0
        lw      a0, 0(t0)
        sd      a0, 8(sp)               /* keep the claimed source for complete */
5:      lbu     t0, UART_LSR(s1)
        andi    t0, t0, LSR_DR
        beqz    t0, 6f
        la      a0, msg_got
        jal     ra, puts
        lbu     a0, UART_RBR(s1)
        mv      t1, a0
        sd      t1, 24(sp)
        jal     ra, putc
        la      a0, msg_crlf
        jal     ra, puts
        ld      t1, 24(sp)
        li      t0, 'q'
        beq     t1, t0, bye
        j       5b
6:      ld      a0, 8(sp)
        li      t0, PLIC_CLAIM0
        sw      a0, 0(t0)               /* complete */
done:
        ld      ra, 0(sp)
        ld      a0, 8(sp)
        ld      t0, 16(sp)
        ld      t1, 24(sp)
        addi    sp, sp, 32
        mret

bye:
        la      a0, msg_bye
        jal     ra, puts
        li      t0, SIFIVE_TEST
        li      t1, TEST_PASS
        sw      t1, 0(t0)
7:      j       7b

#include "../console.inc"

        .section .rodata
msg_start:      .asciz "irq guest\r\n"
msg_tick:       .asciz "tick "
msg_crlf:       .asciz "\r\n"
msg_wait:       .asciz "waiting for input\r\n"
msg_got:        .asciz "got "
msg_bye:        .asciz "bye\r\n"
msg_unexpected: .asciz "unexpected trap\r\n"

        .section .bss
        .balign 16
stack:  .space 4096
stack_top:
