/*
 * hello: the smallest Splitvisor guest. RV64I only, no CSRs.
 *
 * Entered at 0x80000000 in M-mode, as QEMU virt's boot ROM leaves it:
 *   a0 = hartid, a1 = DTB address.
 * Prints a banner on the ns16550a UART, a second line naming the hart, then
 * powers off through the sifive test device with the pass code.
 */
        .equ UART0,       0x10000000
        .equ UART_THR,    0          /* transmit holding register (write) */
        .equ UART_LSR,    5          /* line status register */
        .equ LSR_THRE,    0x20       /* THR empty: may write the next byte */
        .equ SIFIVE_TEST, 0x100000
        .equ TEST_PASS,   0x5555

        .section .text.start, "ax"
        .globl _start
_start:
        mv      s0, a0                  /* keep the hartid; putc clobbers a0 */
        li      s1, UART0

        la      a0, banner
        jal     ra, puts

        la      a0, hart_msg
        jal     ra, puts
        addi    a0, s0, '0'             /* hartid as one digit (harts 0..9) */
        jal     ra, putc
        la      a0, bye_msg
        jal     ra, puts

        li      t0, SIFIVE_TEST
        li      t1, TEST_PASS
        sw      t1, 0(t0)
1:      j       1b                      /* if poweroff is ignored, stay here */

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
banner:   .asciz "Hello from Splitvisor: a RISC-V guest across four processes\r\n"
hart_msg: .asciz "hart "
bye_msg:  .asciz " says goodbye\r\n"
