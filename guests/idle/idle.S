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
        li      s1, UART0
        la      a0, msg_up
        jal     ra, puts
        csrw    mie, zero
        li      t0, CLINT_MTIMECMP      /* mtimecmp = max: MTIP low for good */
        li      t1, -1
        sd      t1, 0(t0)
1:      wfi
        j       1b

/* putc(a0 = byte): wait for THRE, then write THR. Uses t0. s1 = UART base. */
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
2:      lbu     a0, 0(t1)
        beqz    a0, 3f
        jal     ra, putc
        addi    t1, t1, 1
        j       2b
3:      mv      ra, t2
        ret

        .section .rodata
msg_up: .asciz "idle: up\r\n"
