/*
 * memcheck: a guest that leans on guest memory, for mmu's tests and benchmark.
 * RV64I only, M-mode, no device access: everything it says, it says in RAM, which the
 * tests read through mmu's DMA API (and so through the coherence protocol).
 *
 * CONFIG (written by the loader before start)
 *   +0   bytes to first-touch at TOUCH (one store per 4 KiB page; 0: none)
 * STATUS (written by the guest)
 *   +0   passes over REGION_A completed
 *   +8   words found wrong (0 unless memory was corrupted)
 *   +16  the last value read from MAILBOX (a device writes it; the guest echoes it)
 *   +32  address of the last wrong word
 *   +40  CLINT mtime ticks (10 MHz) the first touch took
 *   +48  phase: 1 touched, 2 pattern written and being checked
 *   +56  sum of REGION_A's words in the last pass (its checksum)
 *
 * Phases: time the first touch of CONFIG+0 bytes; fill REGION_A (256 KiB) with a
 * pattern; then check every word of it, for ever, counting passes and wrong words.
 */
        .equ CONFIG,    0x80001000
        .equ STATUS,    0x80002000
        .equ MAILBOX,   0x80003000
        .equ REGION_A,  0x80010000
        .equ A_WORDS,   32768           /* 256 KiB of 8-byte words */
        .equ TOUCH,     0x80100000
        .equ MTIME,     0x0200bff8
        .equ PAGE,      4096

        .section .text.start, "ax"
        .globl _start
_start:
        li      s0, STATUS
        li      s1, MAILBOX
        li      s2, REGION_A
        li      t0, CONFIG
        ld      s3, 0(t0)               /* bytes to touch */

        /* Phase 1: first touch, one store per page, timed with mtime. */
        li      s5, MTIME
        ld      s4, 0(s5)
        li      t1, TOUCH
        add     t2, t1, s3
        li      t3, PAGE
1:      bgeu    t1, t2, 2f
        sd      t1, 0(t1)               /* the page's own address */
        add     t1, t1, t3
        j       1b
2:      ld      t4, 0(s5)
        sub     t4, t4, s4
        sd      t4, 40(s0)
        li      t0, 1
        sd      t0, 48(s0)

        /* Phase 2: the pattern. */
        li      t0, 0
        li      t1, A_WORDS
        mv      t2, s2
3:      bgeu    t0, t1, 4f
        jal     ra, pattern
        sd      a0, 0(t2)
        addi    t2, t2, 8
        addi    t0, t0, 1
        j       3b
4:      li      t0, 2
        sd      t0, 48(s0)

        /* Check it for ever. */
check:  li      t0, 0
        li      t1, A_WORDS
        mv      t2, s2
        li      t5, 0
5:      bgeu    t0, t1, 7f
        ld      t3, 0(t2)
        jal     ra, pattern
        add     t5, t5, t3
        beq     t3, a0, 6f
        ld      t4, 8(s0)               /* a wrong word: count it, remember where */
        addi    t4, t4, 1
        sd      t4, 8(s0)
        sd      t2, 32(s0)
6:      addi    t2, t2, 8
        addi    t0, t0, 1
        j       5b
7:      sd      t5, 56(s0)
        ld      t4, 0(s0)
        addi    t4, t4, 1
        sd      t4, 0(s0)
        ld      t4, 0(s1)               /* echo the mailbox */
        sd      t4, 16(s0)
        j       check

/* a0 = pattern(t0) = (t0 << 40) ^ (t0 << 20) ^ t0 ^ 0x5a5aa5a5. Uses a1. */
pattern:
        slli    a0, t0, 40
        slli    a1, t0, 20
        xor     a0, a0, a1
        xor     a0, a0, t0
        li      a1, 0x5a5aa5a5
        xor     a0, a0, a1
        ret
