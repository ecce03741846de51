/*
 * csr-probe: which CSRs exist in M-mode, as firmware learns it (by trapping). For each
 * number it prints "nnn rw": r if a csrr did not trap, w if writing back the value read
 * did not trap ('-' where it did). Run on QEMU (-M spike) and on Splitvisor, the two
 * outputs must agree but for the differences the spec names (exec/qemu.spec.ts).
 */
        .macro  PROBE csr
        li      a0, \csr
        jal     ra, hex3
        li      a7, 0
        csrr    t1, \csr
        mv      s1, a7
        li      a7, 0
        csrw    \csr, t1
        mv      s2, a7
        jal     ra, report
        .endm

        .section .text.start, "ax"
        .globl  _start
_start:
        la      t0, trap
        csrw    mtvec, t0
        .irp    c, 0x001, 0x002, 0x003, 0x015, 0x100, 0x104, 0x105, 0x106, 0x10a, 0x140, 0x141, 0x142, 0x143, 0x144, 0x14d, 0x180
        PROBE   \c
        .endr
        .irp    c, 0x300, 0x301, 0x302, 0x303, 0x304, 0x305, 0x306, 0x30a, 0x310, 0x31a, 0x320, 0x323, 0x33f, 0x340, 0x341, 0x342, 0x343, 0x344
        PROBE   \c
        .endr
        .irp    c, 0x3a0, 0x3a1, 0x3a2, 0x3a3, 0x3a4, 0x3ae, 0x3af, 0x3b0, 0x3bf, 0x3c0, 0x3ef, 0x600, 0x747, 0x7a0, 0x7a1, 0x7b0
        PROBE   \c
        .endr
        .irp    c, 0xb00, 0xb01, 0xb02, 0xb03, 0xb12, 0xb13, 0xb1f, 0xb80, 0xc00, 0xc01, 0xc02, 0xc03, 0xc12, 0xc13, 0xc1f, 0xc80
        PROBE   \c
        .endr
        .irp    c, 0xf11, 0xf12, 0xf13, 0xf14, 0xf15, 0xda0, 0xfb0
        PROBE   \c
        .endr
        la      t0, tohost              /* exit(0) */
        li      t1, 1
        sd      t1, 0(t0)
1:      j       1b

trap:                                   /* a7 = 1, skip the instruction */
        li      a7, 1
        csrr    t6, mepc
        addi    t6, t6, 4
        csrw    mepc, t6
        mret

report:                                 /* " r" / " -", "w" / "-", newline */
        mv      s6, ra
        li      a0, ' '
        jal     ra, putc
        li      a0, 'r'
        beqz    s1, 1f
        li      a0, '-'
1:      jal     ra, putc
        li      a0, 'w'
        beqz    s2, 2f
        li      a0, '-'
2:      jal     ra, putc
        li      a0, 10
        jal     ra, putc
        mv      ra, s6
        ret

hex3:                                   /* a0 as three hex digits */
        mv      s3, ra
        mv      s4, a0
        li      s5, 8
1:      srl     a0, s4, s5
        andi    a0, a0, 15
        li      t2, 10
        blt     a0, t2, 2f
        addi    a0, a0, 'a' - 10 - '0'
2:      addi    a0, a0, '0'
        jal     ra, putc
        addi    s5, s5, -4
        bgez    s5, 1b
        mv      ra, s3
        ret

putc:                                   /* HTIF console: device 1, command 1 */
        la      t0, tohost
        li      t2, 0x0101
        slli    t2, t2, 48
        or      t2, t2, a0
        sd      t2, 0(t0)
1:      ld      t2, 0(t0)
        bnez    t2, 1b
        ret

#include "htif.inc"
