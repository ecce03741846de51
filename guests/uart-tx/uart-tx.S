/*
 * uart-tx: the ns16550a's transmit side as drivers use it, polled and interrupt-driven.
 * RV64I + Zicsr, M-mode, no firmware. What it prints is QEMU 7.2's hw/char/serial.c:
 *
 * 1. The driver setup of issue 17: FCR = 0x07 (FIFOs on, both cleared), IER = 0x03
 *    (receive and THR-empty interrupts). After each step IIR and the PLIC's pending bit of
 *    source 10 are read back and printed later (printing would move them):
 *      - FCR: no interrupt enabled yet: IIR 0xc1 (FIFOs on, none pending).
 *      - IER = 0x03: THRI rises with THR empty, so THR-empty is pending: IIR 0xc2, line high.
 *      - IIR read again: the read that reported THR-empty acknowledged it: 0xc1, line low.
 *      - IER = 0x03 written again: QEMU re-arms THR-empty only when IER.THRI changes
 *        (serial_ioport_write, "changed & UART_IER_THRI"): still 0xc1, line low.
 *      - IER = 0x01 then 0x03: a rising edge with THR empty re-arms it: 0xc2, line high.
 *      - one byte to THR: it leaves at once and THR-empty is pending again: 0xc2.
 * 2. Polled transmit, IER still 0x03 (the line high all along, nothing enabled to take
 *    it): LINES lines, each byte written after LSR.THRE reads 1. A byte that waits more
 *    than SPIN LSR reads powers off with fail code 3 (THRE never came back).
 *    Then LSR is printed: 0x60, THR and the shift register empty.
 * 3. Interrupt-driven transmit: IER = 0x01, PLIC source 10 to context 0 (hart 0, M-mode),
 *    mie.MEIE and mie.MTIE (the deadline below); then IER = 0x03 kicks it. The handler claims, reads IIR; for
 *    THR-empty it writes up to 16 bytes of the message (the FIFO's depth) without polling,
 *    and when the message is done writes IER = 0x01 (THRI off, the line drops); then it
 *    completes. Interrupts that were not THR-empty are counted as spurious. The main loop
 *    checks, waits in WFI with mstatus.MIE off (a pending interrupt still wakes it) and
 *    takes the interrupt by setting MIE after the WFI, so an interrupt is never taken at
 *    the WFI and slept through after its mret. A one-second CLINT deadline (mie.MTIE) per
 *    wait: no interrupt in time powers off with fail code 4.
 *    Printed: the message (by the handler), then the THR-empty interrupts taken (one per
 *    16 bytes) and the spurious ones (0).
 * Any other trap prints "unexpected trap" and fails with code 5.
 */
        .equ UART0,         0x10000000
        .equ UART_THR,      0
        .equ UART_IER,      1
        .equ UART_IIR,      2
        .equ UART_FCR,      2
        .equ UART_LSR,      5
        .equ LSR_THRE,      0x20
        .equ IIR_ID,        0x0f
        .equ IIR_THRI,      0x02
        .equ CLINT_MTIMECMP, 0x2004000
        .equ CLINT_MTIME,   0x200bff8
        .equ PLIC_PRIO10,   0x0c000028   /* priority of source 10 */
        .equ PLIC_PENDING0, 0x0c001000   /* pending bits 0..31 */
        .equ PLIC_ENABLE0,  0x0c002000   /* context 0 enable bits 0..31 */
        .equ PLIC_THRESH0,  0x0c200000
        .equ PLIC_CLAIM0,   0x0c200004
        .equ SOURCE,        10
        .equ SIFIVE_TEST,   0x100000
        .equ TEST_PASS,     0x5555
        .equ TEST_FAIL,     0x3333
        .equ LINES,         8
        .equ SPIN,          1000000      /* LSR reads one byte may wait */
        .equ SECOND,        10000000     /* of the 10 MHz timebase */
        .equ FIFO,          16

        .section .text.start, "ax"
        .globl _start
_start:
        la      sp, stack_top
        li      s1, UART0
        la      t0, trap
        csrw    mtvec, t0
        la      s2, seen                /* IIR / pending pairs of part 1 */

        /* 1. the setup, read back step by step */
        li      t0, 0x07
        sb      t0, UART_FCR(s1)
        jal     ra, sample
        li      t0, 0x03
        sb      t0, UART_IER(s1)
        jal     ra, sample
        jal     ra, sample              /* the IIR read above acknowledged THR-empty */
        li      t0, 0x03
        sb      t0, UART_IER(s1)        /* the same value again: no edge */
        jal     ra, sample
        li      t0, 0x01
        sb      t0, UART_IER(s1)
        li      t0, 0x03
        sb      t0, UART_IER(s1)        /* THRI 0 -> 1 with THR empty */
        jal     ra, sample
        jal     ra, sample
        li      t0, '\r'
        sb      t0, UART_THR(s1)        /* leaves at once: THR empty again */
        jal     ra, sample

        la      a0, msg_setup
        call    puts
        la      s2, seen
        la      s3, step_names
        li      s4, 7
1:      mv      a0, s3
        call    puts
        la      a0, msg_iir
        call    puts
        lbu     a0, 0(s2)
        li      a1, 2
        call    puthex
        la      a0, msg_pending
        call    puts
        lbu     a0, 1(s2)
        call    putdec
        la      a0, msg_crlf
        call    puts
2:      lbu     t0, 0(s3)               /* next name */
        addi    s3, s3, 1
        bnez    t0, 2b
        addi    s2, s2, 2
        addi    s4, s4, -1
        bnez    s4, 1b

        /* 2. polled transmit with IER = 0x03 */
        li      s3, 1                   /* line number */
3:      la      a0, msg_polled
        jal     ra, bputs
        addi    a0, s3, '0'
        jal     ra, bputc
        la      a0, msg_body
        jal     ra, bputs
        addi    s3, s3, 1
        li      t0, LINES
        ble     s3, t0, 3b
        lbu     s4, UART_LSR(s1)
        la      a0, msg_lsr
        call    puts
        mv      a0, s4
        li      a1, 2
        call    puthex
        la      a0, msg_crlf
        call    puts

        /* 3. interrupt-driven transmit */
        li      t0, 0x01
        sb      t0, UART_IER(s1)        /* THRI off: the line drops */
        li      t0, PLIC_PRIO10
        li      t1, 1
        sw      t1, 0(t0)
        li      t0, PLIC_ENABLE0
        li      t1, 1 << SOURCE
        sw      t1, 0(t0)
        li      t0, PLIC_THRESH0
        sw      zero, 0(t0)
        la      s5, msg_irq             /* next byte the handler sends */
        li      s6, 0                   /* THR-empty interrupts */
        li      s7, 0                   /* spurious interrupts */
        li      s8, 0                   /* 1: the message is out */
        li      t0, 0x880               /* mie.MEIE | mie.MTIE */
        csrw    mie, t0
        jal     ra, arm_deadline
        li      t0, 0x03
        sb      t0, UART_IER(s1)        /* kick: THR-empty with THR empty */
4:      bnez    s8, 5f
        wfi                             /* MIE off: a pending interrupt wakes it */
        csrsi   mstatus, 8              /* and is taken here, never at the WFI */
        csrci   mstatus, 8
        j       4b
5:      csrw    mie, zero
        la      a0, msg_count
        call    puts
        mv      a0, s6
        call    putdec
        la      a0, msg_spurious
        call    puts
        mv      a0, s7
        call    putdec
        la      a0, msg_crlf
        call    puts
        la      a0, msg_done
        call    puts
        li      t0, SIFIVE_TEST
        li      t1, TEST_PASS
        sw      t1, 0(t0)
6:      j       6b

/* sample: IIR (one read) and then the PLIC's pending bit of source 10, stored at s2;
 * s2 += 2. Uses t0, t1. */
sample:
        lbu     t0, UART_IIR(s1)
        sb      t0, 0(s2)
        li      t0, PLIC_PENDING0
        lw      t1, 0(t0)
        srli    t1, t1, SOURCE
        andi    t1, t1, 1
        sb      t1, 1(s2)
        addi    s2, s2, 2
        ret

/* bputc(a0): putc with at most SPIN LSR reads of waiting; then fail 3. Uses t0, t1. */
bputc:
        li      t1, SPIN
1:      lbu     t0, UART_LSR(s1)
        andi    t0, t0, LSR_THRE
        bnez    t0, 2f
        addi    t1, t1, -1
        bnez    t1, 1b
        li      a0, 3
        j       fail_quiet
2:      sb      a0, UART_THR(s1)
        ret

/* bputs(a0): a NUL-terminated string through bputc. Uses t0-t2. */
bputs:
        mv      t2, a0
        mv      a5, ra
1:      lbu     a0, 0(t2)
        beqz    a0, 2f
        jal     ra, bputc
        addi    t2, t2, 1
        j       1b
2:      mv      ra, a5
        ret

/* mtimecmp = mtime + SECOND. Uses t0, t1. */
arm_deadline:
        li      t0, CLINT_MTIME
        ld      t1, 0(t0)
        li      t0, SECOND
        add     t1, t1, t0
        li      t0, CLINT_MTIMECMP
        sd      t1, 0(t0)
        ret

trap:
        addi    sp, sp, -48
        sd      ra, 0(sp)
        sd      a0, 8(sp)
        sd      t0, 16(sp)
        sd      t1, 24(sp)
        sd      t2, 32(sp)
        csrr    t0, mcause
        bgez    t0, unexpected          /* bit 63 clear: an exception */
        slli    t0, t0, 1
        srli    t0, t0, 1
        li      t1, 11
        beq     t0, t1, on_external
        li      t1, 7
        bne     t0, t1, unexpected
        /* the deadline passed with the message not out */
        li      a0, 4
        j       fail

on_external:
        li      t0, PLIC_CLAIM0
        lw      t2, 0(t0)               /* claimed source */
        li      t1, SOURCE
        bne     t2, t1, 3f
        lbu     t0, UART_IIR(s1)
        andi    t0, t0, IIR_ID
        li      t1, IIR_THRI
        bne     t0, t1, 3f
        addi    s6, s6, 1
        li      t1, FIFO                /* THR empty: the FIFO takes 16 without polling */
1:      lbu     t0, 0(s5)
        beqz    t0, 2f
        sb      t0, UART_THR(s1)
        addi    s5, s5, 1
        addi    t1, t1, -1
        bnez    t1, 1b
        lbu     t0, 0(s5)
        bnez    t0, 4f
2:      li      t0, 0x01                /* all out: THRI off, the line drops */
        sb      t0, UART_IER(s1)
        li      s8, 1
        j       4f
3:      addi    s7, s7, 1
4:      li      t0, PLIC_CLAIM0
        sw      t2, 0(t0)               /* complete */
        jal     ra, arm_deadline
        ld      ra, 0(sp)
        ld      a0, 8(sp)
        ld      t0, 16(sp)
        ld      t1, 24(sp)
        ld      t2, 32(sp)
        addi    sp, sp, 48
        mret

unexpected:
        li      a0, 5
/* fail(a0 = code): "fail <code>", then poweroff with (code << 16) | 0x3333. */
fail:
        csrw    mie, zero
        mv      s3, a0
        la      a0, msg_fail
        call    puts
        mv      a0, s3
        call    putdec
        la      a0, msg_crlf
        call    puts
        mv      a0, s3
/* fail_quiet(a0 = code): the poweroff alone (the UART cannot be trusted to print). */
fail_quiet:
        slli    a0, a0, 16
        li      t1, TEST_FAIL
        or      a0, a0, t1
        li      t0, SIFIVE_TEST
        sw      a0, 0(t0)
7:      j       7b

#include "../console.inc"

        .section .rodata
msg_setup:      .asciz "uart-tx: FCR=0x07 IER=0x03, IIR and PLIC pending of source 10 after each step\r\n"
step_names:
        .asciz "FCR=0x07:               "
        .asciz "IER=0x03:               "
        .asciz "IIR read again:         "
        .asciz "IER=0x03 again:         "
        .asciz "IER=0x01, then 0x03:    "
        .asciz "IIR read again:         "
        .asciz "a byte to THR:          "
msg_iir:        .asciz "iir="
msg_pending:    .asciz " pending="
msg_crlf:       .asciz "\r\n"
msg_polled:     .asciz "polled line "
msg_body:       .asciz ": each byte after LSR.THRE, IER=0x03 all along\r\n"
msg_lsr:        .asciz "LSR after the last byte: "
msg_irq:        .asciz "interrupt-driven: 16 bytes per THR-empty interrupt, IER.THRI off when done\r\n"
msg_count:      .asciz "THR-empty interrupts: "
msg_spurious:   .asciz " spurious: "
msg_done:       .asciz "uart-tx: done\r\n"
msg_fail:       .asciz "fail "

        .section .bss
        .balign 16
seen:   .space 16
stack:  .space 1024
stack_top:
