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
        li      s1, UART0
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

/* putc(a0 = byte): wait for THRE, then write THR. Uses t0. */
putc:
        lbu     t0, UART_LSR(s1)
        andi    t0, t0, LSR_THRE
        beqz    t0, putc
        sb      a0, UART_THR(s1)
        ret

/* puts(a0 = NUL-terminated string). Uses t0, t1, t2; saves ra in t2. */
puts:
        mv      t1, a0
        mv      t2, ra
3:      lbu     a0, 0(t1)
        beqz    a0, 4f
        jal     ra, putc
        addi    t1, t1, 1
        j       3b
4:      mv      ra, t2
        ret

        .section .rodata
ready_msg: .asciz "echo ready\r\n"
bye_msg:   .asciz "\r\nbye\r\n"
