/*
 * htif-hello: prints through both HTIF console paths, then exits with code 5.
 *   device 1 / command 1 (putchar), one byte per command, waiting for tohost == 0;
 *   device 0 / command 0 with an even payload: a "magic mem" syscall block, write(1, ...);
 *   device 0 / command 0 with an odd payload: exit(payload >> 1).
 */
        .equ    MSG2_LEN, 11            /* length of msg2 below */

        .section .text.start, "ax"
        .globl _start
_start:
        la      s0, tohost
        la      a0, msg
1:      lbu     a1, 0(a0)
        beqz    a1, 2f
        li      t0, 0x0101              /* device 1, command 1 ... */
        slli    t0, t0, 48              /* ... in bits 63:48 */
        or      t0, t0, a1
        sd      t0, 0(s0)
3:      ld      t1, 0(s0)               /* the host clears tohost when done */
        bnez    t1, 3b
        addi    a0, a0, 1
        j       1b

2:      la      t0, magic               /* write(1, msg2, msg2_len) */
        li      t1, 64
        sd      t1, 0(t0)
        li      t1, 1
        sd      t1, 8(t0)
        la      t1, msg2
        sd      t1, 16(t0)
        li      t1, MSG2_LEN
        sd      t1, 24(t0)
        sd      t0, 0(s0)
4:      ld      t1, 0(s0)
        bnez    t1, 4b
        la      t0, magic               /* the host returned the length in magic[0] */
        ld      t1, 0(t0)
        li      t2, MSG2_LEN
        bne     t1, t2, fail

        li      t0, (5 << 1) | 1        /* exit(5) */
        sd      t0, 0(s0)
5:      j       5b

fail:   li      t0, (1 << 1) | 1        /* exit(1) */
        sd      t0, 0(s0)
6:      j       6b

        .section .rodata
msg:    .asciz  "htif putchar\n"
msg2:   .ascii  "htif write\n"

#include "htif.inc"

        .section .data
        .balign 8
magic:  .space  64
