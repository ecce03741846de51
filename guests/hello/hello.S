/*
 * hello: the smallest Splitvisor guest. RV64I only, no CSRs.
 *
 * Entered at 0x80000000 in M-mode, as QEMU virt's boot ROM leaves it:
 *   a0 = hartid, a1 = DTB address.
 * Prints a banner on the ns16550a UART, a second line naming the hart, then
 * powers off through the sifive test device with the pass code. The console helpers
 * are guests/console.inc, shared with the other guests.
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
        la      sp, stack_top           /* console.inc's puts saves on the stack */
        mv      s0, a0                  /* keep the hartid; putc clobbers a0 */
        li      s1, UART0                /* console.inc: UART0's base in s1 */

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

#include "../console.inc"

        .section .rodata
banner:   .asciz "Hello from Splitvisor: a RISC-V guest across four processes\r\n"
hart_msg: .asciz "hart "
bye_msg:  .asciz " says goodbye\r\n"

        .section .bss
        .balign 16
stack:  .space 1024
stack_top:
