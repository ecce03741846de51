/*
 * fault: a guest that touches unmapped guest-physical memory and reports the trap.
 * RV64I + Zicsr (csrw mtvec, csrr mcause/mtval); no M extension, so numbers are
 * printed by subtracting powers of ten, never by dividing.
 *
 * Entered at 0x80000000 in M-mode (a0 = hartid, a1 = DTB; both ignored).
 *   prints "touching unmapped\r\n"
 *   loads a doubleword from FAULT_ADDR, which nothing maps on QEMU virt (nor on
 *   Splitvisor's copy of it): QEMU raises a load access fault (mcause 5)
 *   the handler prints "trap cause=<mcause, decimal>\r\n"
 *                      "mtval=0x<mtval, 16 hex digits>\r\n"
 *   and powers off with the pass code (exit 0).
 * If the load does not trap it prints "no trap\r\n" and fails with code 1;
 * a trap inside the handler fails with code 2 (no loop of nested traps).
 */
        .equ UART0,       0x10000000
        .equ UART_THR,    0
        .equ UART_LSR,    5
        .equ LSR_THRE,    0x20
        .equ SIFIVE_TEST, 0x100000
        .equ TEST_PASS,   0x5555
        .equ TEST_FAIL,   0x3333
        /* A hole in QEMU virt's map: after the goldfish RTC (0x101000, 4 KiB),
           before the CLINT (0x2000000). */
        .equ FAULT_ADDR,  0x200000

        .section .text.start, "ax"
        .globl _start
_start:
        li      s1, UART0
        la      t0, trap_handler
        csrw    mtvec, t0               /* direct mode: handler is 4-byte aligned */

        la      a0, touch_msg
        jal     ra, puts

        li      t0, FAULT_ADDR
        ld      t1, 0(t0)               /* expected to trap: load access fault */

        la      a0, notrap_msg          /* reached only if the load did not trap */
        jal     ra, puts
        li      a0, 1
        j       poweroff_fail

        .balign 4
trap_handler:
        la      t0, double_fault        /* a trap from here on is not expected */
        csrw    mtvec, t0

        la      a0, cause_msg
        jal     ra, puts
        csrr    a0, mcause
        jal     ra, putdec
        la      a0, mtval_msg
        jal     ra, puts
        csrr    a0, mtval
        jal     ra, puthex
        la      a0, crlf
        jal     ra, puts

        li      t0, SIFIVE_TEST
        li      t1, TEST_PASS
        sw      t1, 0(t0)
1:      j       1b

        .balign 4
double_fault:
        li      a0, 2
        /* fall through */

/* poweroff_fail(a0 = exit code): QEMU exits with that status. */
poweroff_fail:
        slli    a0, a0, 16
        li      t1, TEST_FAIL
        or      t1, t1, a0
        li      t0, SIFIVE_TEST
        sw      t1, 0(t0)
2:      j       2b

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
3:      lbu     a0, 0(t1)
        beqz    a0, 4f
        jal     ra, putc
        addi    t1, t1, 1
        j       3b
4:      mv      ra, t2
        ret

/* putdec(a0 = unsigned 64-bit): decimal, no leading zeros.
   For each power of ten p, from 10^19 down to 1, the digit is how many
   times p can be subtracted. Uses t0, t3-t6, a0; saves ra in t6. */
putdec:
        mv      t6, ra
        mv      t3, a0                  /* remaining value */
        la      t4, pow10               /* -> current power */
        li      t5, 0                   /* printed a digit yet? */
5:      ld      t1, 0(t4)
        beqz    t1, 8f                  /* table ends with 0 */
        li      a0, '0'
6:      bltu    t3, t1, 7f
        sub     t3, t3, t1
        addi    a0, a0, 1
        j       6b
7:      addi    t4, t4, 8
        li      t0, '0'
        bne     a0, t0, 9f
        bnez    t5, 9f
        ld      t0, 0(t4)               /* skip a leading zero, but not the last digit */
        bnez    t0, 5b
9:      li      t5, 1
        jal     ra, putc
        j       5b
8:      mv      ra, t6
        ret

/* puthex(a0 = 64-bit): 16 hex digits, most significant first.
   Uses t0, t3, t4, a0; saves ra in t6. */
puthex:
        mv      t6, ra
        mv      t3, a0
        li      t4, 60                  /* shift for the top nibble */
10:     srl     a0, t3, t4
        andi    a0, a0, 0xf
        li      t0, 10
        bltu    a0, t0, 11f
        addi    a0, a0, 'a' - '0' - 10
11:     addi    a0, a0, '0'
        jal     ra, putc
        addi    t4, t4, -4
        bgez    t4, 10b
        mv      ra, t6
        ret

        .section .rodata
        .balign 8
pow10:
        .dword 10000000000000000000, 1000000000000000000, 100000000000000000
        .dword 10000000000000000, 1000000000000000, 100000000000000
        .dword 10000000000000, 1000000000000, 100000000000, 10000000000
        .dword 1000000000, 100000000, 10000000, 1000000, 100000, 10000
        .dword 1000, 100, 10, 1, 0
touch_msg:  .asciz "touching unmapped\r\n"
notrap_msg: .asciz "no trap\r\n"
cause_msg:  .asciz "trap cause="
mtval_msg:  .asciz "\r\nmtval=0x"
crlf:       .asciz "\r\n"
