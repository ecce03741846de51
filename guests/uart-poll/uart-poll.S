/*
 * uart-poll: the ns16550a's registers read in each state the read shadow (issue 17, speed 1;
 * libs/devices uart16550/read-shadow.ts) treats differently, printed for comparison with
 * QEMU 7.2. RV64I + Zicsr, M-mode, no firmware, interrupts never enabled. Each read is
 * recorded first and printed after the phase (printing polls LSR and writes THR). Reads
 * are repeated back to back: on Splitvisor the first of them may exit and bring a grant,
 * the next is served from the shadow, and both must read what QEMU reads.
 *
 * 1. reset: offsets 0..7 (RBR IER IIR LCR MCR LSR MSR SCR), then LSR, RBR, MSR again.
 * 2. set up: SCR=0x5a IER=0x05 LCR=0x03 MCR=0x0b FCR=0x07; offsets 0..7, then IER LCR
 *    MCR LSR MSR SCR again.
 * 3. THR-empty: IER=0x07 raises it; IIR twice (the first read acknowledges it: never
 *    shadowed), IER; then IER=0x05.
 * 4. DLAB: LCR=0x83, DLL=0x01 (a posted write), DLM=0x02; DLL DLM DLL DLM LCR; DLL=0x03
 *    (posted) and DLL read at once; LCR=0x03; IER, RBR (offsets 0 and 1 are themselves again).
 * 5. loopback: MCR=0x1b; MSR, LSR; 'L' to THR (posted, loops back); LSR LSR RBR LSR RBR;
 *    MCR=0x0b.
 * 6. input: prints "type a line ending in '.'", then polls IIR and LSR.DR for each byte and
 *    reads RBR, until '.'; prints the bytes as they came. IIR is never shadowed (with IER
 *    0x05 its read changes nothing, but one that reports THR-empty would acknowledge it),
 *    so each turn of this loop is one MMIO read exit on Splitvisor, of IIR, and one LSR
 *    read from the shadow: `npm run bench -- exits` times those exits. Then "q to quit":
 *    polls LSR alone until a byte comes; 'q' powers off with pass (anything else is waited
 *    past).
 */
        .equ UART0,         0x10000000
        .equ UART_THR,      0
        .equ UART_IER,      1
        .equ UART_FCR,      2
        .equ UART_IIR,      2
        .equ UART_LCR,      3
        .equ UART_MCR,      4
        .equ UART_LSR,      5
        .equ UART_SCR,      7
        .equ LSR_DR,        0x01
        .equ LSR_THRE,      0x20
        .equ SIFIVE_TEST,   0x100000
        .equ TEST_PASS,     0x5555
        .equ LINE_MAX,      64

/* RD off: one byte read of the register at `off`, recorded at s2. */
.macro RD off
        lbu     t0, \off(s1)
        sb      t0, 0(s2)
        addi    s2, s2, 1
.endm
/* WR off, value */
.macro WR off, value
        li      t0, \value
        sb      t0, \off(s1)
.endm
/* DUMP label: prints the label and what was recorded since the last DUMP. */
.macro DUMP label
        la      a0, \label
        jal     ra, dump
.endm

        .section .text.start, "ax"
        .globl _start
_start:
        la      sp, stack_top
        li      s1, UART0
        la      s2, seen
        la      s3, seen                /* start of the phase not yet printed */

        /* 1. reset */
        RD 0
        RD 1
        RD 2
        RD 3
        RD 4
        RD 5
        RD 6
        RD 7
        RD 5
        RD 0
        RD 6
        DUMP msg_reset

        /* 2. set up */
        WR UART_SCR, 0x5a
        WR UART_IER, 0x05
        WR UART_LCR, 0x03
        WR UART_MCR, 0x0b
        WR UART_FCR, 0x07
        RD 0
        RD 1
        RD 2
        RD 3
        RD 4
        RD 5
        RD 6
        RD 7
        RD 1
        RD 3
        RD 4
        RD 5
        RD 6
        RD 7
        DUMP msg_setup

        /* 3. THR-empty pending, acknowledged by the IIR read that reports it */
        WR UART_IER, 0x07
        RD 2
        RD 2
        RD 1
        WR UART_IER, 0x05
        DUMP msg_thre

        /* 4. DLAB */
        WR UART_LCR, 0x83
        WR 0, 0x01
        WR 1, 0x02
        RD 0
        RD 1
        RD 0
        RD 1
        RD 3
        WR 0, 0x03
        RD 0
        WR UART_LCR, 0x03
        RD 1
        RD 0
        DUMP msg_dlab

        /* 5. loopback */
        WR UART_MCR, 0x1b
        RD 6
        RD 5
        WR UART_THR, 'L'
        RD 5
        RD 5
        RD 0
        RD 5
        RD 0
        WR UART_MCR, 0x0b
        DUMP msg_loop

        /* 6. input while polling LSR */
        la      a0, msg_type
        call    puts
        la      s4, line
        li      s5, 0
1:      lbu     t0, UART_IIR(s1)        /* an exit each turn (never shadowed) */
        lbu     t0, UART_LSR(s1)
        andi    t0, t0, LSR_DR
        beqz    t0, 1b
        lbu     t0, UART_THR(s1)
        add     t1, s4, s5
        sb      t0, 0(t1)
        addi    s5, s5, 1
        li      t1, '.'
        beq     t0, t1, 2f
        li      t1, LINE_MAX - 1
        blt     s5, t1, 1b
2:      add     t1, s4, s5
        sb      zero, 0(t1)
        la      a0, msg_got
        call    puts
        mv      a0, s4
        call    puts
        la      a0, msg_crlf
        call    puts
        la      a0, msg_quit
        call    puts
3:      lbu     t0, UART_LSR(s1)
        andi    t0, t0, LSR_DR
        beqz    t0, 3b
        lbu     t0, UART_THR(s1)
        li      t1, 'q'
        bne     t0, t1, 3b
        la      a0, msg_bye
        call    puts
        li      t0, SIFIVE_TEST
        li      t1, TEST_PASS
        sw      t1, 0(t0)
4:      j       4b

/* dump(a0 = label): the label, then each byte recorded in [s3, s2) as " xx", then CRLF;
 * s3 moves to s2. */
dump:
        addi    sp, sp, -16
        sd      ra, 0(sp)
        call    puts
1:      bgeu    s3, s2, 2f
        li      a0, ' '
        call    putc
        lbu     a0, 0(s3)
        li      a1, 2
        call    puthex
        addi    s3, s3, 1
        j       1b
2:      la      a0, msg_crlf
        call    puts
        ld      ra, 0(sp)
        addi    sp, sp, 16
        ret

#include "../console.inc"

        .section .rodata
msg_reset:      .asciz "reset:    "
msg_setup:      .asciz "set up:   "
msg_thre:       .asciz "THR-empty:"
msg_dlab:       .asciz "DLAB:     "
msg_loop:       .asciz "loopback: "
msg_type:       .asciz "type a line ending in '.'\r\n"
msg_got:        .asciz "got: "
msg_quit:       .asciz "q to quit\r\n"
msg_bye:        .asciz "bye\r\n"
msg_crlf:       .asciz "\r\n"

        .section .bss
        .balign 16
seen:   .space 128
line:   .space LINE_MAX
        .balign 16
stack:  .space 1024
stack_top:
