/*
 * memsum: a memory checksummer for fault-injection exercises. RV64IM + Zicsr, M-mode, no
 * firmware, no devices but the console.
 *
 * mmu owns guest RAM; the cpu service fetches its pages across a process boundary. A fault
 * (mmu killed or frozen, the cpu cut from it) is injected while the guest reads 1 MiB of
 * RAM (256 pages) over and over; the guest says whether what it reads is still what it
 * wrote.
 *
 * 1. The seed: CLINT mtime at start (its low 32 bits). Word j of the region (1 MiB at
 *    0x80200000, 131072 words) is mix((seed << 32) + j): different for every word and seed.
 * 2. Fill, then a first read: its checksum is the reference. The checksum is order
 *    sensitive (sum = rotl(sum, 1) + word), so swapped words or pages change it too.
 * 3. Passes 1..P (P = 200, or memsum.passes=<P> in /chosen/bootargs): each re-reads every
 *    word, checksums it and compares each word with the pattern. A pass whose checksum
 *    differs from the reference is corrupt; wrong words are summed over all reads (the
 *    first one included: a word wrong in three passes counts three times).
 *
 * Output (numbers in decimal, lines end in \r\n):
 *   memsum: 1 MiB at 0x80200000, <P> passes, seed <n>
 *   memsum: pass <k>, <wrong> wrong words                 (k = 10, 20, ...; wrong so far)
 *   memsum: <P> passes, <bad> corrupt, <wrong> wrong words
 *   memsum: pass | memsum: FAIL
 * Exit: pass (0) when no pass was corrupt and no word wrong, else fail 1; an exception or an
 * interrupt ("memsum: unexpected trap mcause=.. mepc=.. mtval=.." and "memsum: FAIL"):
 * fail 5 (e.g. a page mmu could not give, should that reach the guest as an access fault).
 */
        .equ UART0,         0x10000000
        .equ UART_THR,      0
        .equ UART_LSR,      5
        .equ LSR_THRE,      0x20
        .equ CLINT_MTIME,   0x200bff8
        .equ SIFIVE_TEST,   0x100000
        .equ TEST_PASS,     0x5555
        .equ TEST_FAIL,     0x3333
        .equ FDT_MAGIC,     0xd00dfeed

        .equ REGION,        0x80200000
        .equ REGION_BYTES,  0x100000
        .equ PASSES,        200
        .equ MAX_PASSES,    1000000
        .equ REPORT_EVERY,  10

        /* Registers kept across the program:
         *   s0 seed   s1 UART0   s2 the reference checksum   s3 pass   s4 passes (P)
         *   s5 corrupt passes   s9 wrong words   s10 this read's checksum   s11 the DTB
         * console.inc's helpers save s6-s8 themselves. */
        .section .text.start, "ax"
        .globl _start
_start:
        la      sp, stack_top
        li      s1, UART0
        mv      s11, a1
        la      t0, trap
        csrw    mtvec, t0
        csrw    mie, zero
        li      t0, CLINT_MTIME
        ld      s0, 0(t0)
        slli    s0, s0, 32
        srli    s0, s0, 32

        /* P: memsum.passes=<P> in the device tree's bootargs, or PASSES */
        mv      a0, s11
        la      a1, key_passes
        call    bootarg
        li      s4, PASSES
        beqz    a0, 1f
        li      t0, MAX_PASSES
        bgtu    a0, t0, 1f
        mv      s4, a0
1:
        la      a0, msg_start
        call    puts
        mv      a0, s4
        call    putdec
        la      a0, msg_seed
        call    puts
        mv      a0, s0
        call    putdec
        la      a0, msg_crlf
        call    puts

        /* 1. fill */
        li      t2, REGION
        li      t3, REGION + REGION_BYTES
        li      t4, 0x9e3779b97f4a7c15
        slli    t5, s0, 32              /* the key of word 0 */
2:      mul     t0, t5, t4
        srli    t1, t0, 29
        xor     t0, t0, t1
        sd      t0, 0(t2)
        addi    t5, t5, 1
        addi    t2, t2, 8
        bltu    t2, t3, 2b

        /* 2. the first read: the reference */
        li      s5, 0
        li      s9, 0
        call    read_pass
        mv      s2, s10

        /* 3. the passes */
        li      s3, 0
pass_loop:
        bgeu    s3, s4, summary
        addi    s3, s3, 1
        call    read_pass
        beq     s10, s2, 1f
        addi    s5, s5, 1
1:      li      t0, REPORT_EVERY
        remu    t0, s3, t0
        bnez    t0, pass_loop
        la      a0, msg_pass_k
        call    puts
        mv      a0, s3
        call    putdec
        la      a0, msg_comma
        call    puts
        mv      a0, s9
        call    putdec
        la      a0, msg_wrong
        call    puts
        j       pass_loop

summary:
        la      a0, msg_prefix
        call    puts
        mv      a0, s4
        call    putdec
        la      a0, msg_passes
        call    puts
        mv      a0, s5
        call    putdec
        la      a0, msg_corrupt
        call    puts
        mv      a0, s9
        call    putdec
        la      a0, msg_wrong
        call    puts
        li      a0, 1
        bnez    s5, fail
        bnez    s9, fail
        la      a0, msg_pass
        call    puts
        li      t0, SIFIVE_TEST
        li      t1, TEST_PASS
        sw      t1, 0(t0)
3:      j       3b

/* read_pass: s10 = the region's checksum; s9 += its words that are not the pattern's. */
read_pass:
        li      t2, REGION
        li      t3, REGION + REGION_BYTES
        li      t4, 0x9e3779b97f4a7c15
        slli    t5, s0, 32
        li      s10, 0
1:      ld      a0, 0(t2)
        slli    t0, s10, 1              /* sum = rotl(sum, 1) + word */
        srli    t1, s10, 63
        or      s10, t0, t1
        add     s10, s10, a0
        mul     t0, t5, t4              /* the word it should be */
        srli    t1, t0, 29
        xor     t0, t0, t1
        beq     t0, a0, 2f
        addi    s9, s9, 1
2:      addi    t5, t5, 1
        addi    t2, t2, 8
        bltu    t2, t3, 1b
        ret

/* bootarg(a0 = the DTB, a1 = "key=") -> a0: the decimal number after the first "key=" in
 * the device tree blob (its /chosen/bootargs: QEMU's -append, Splitvisor's bootargs:), or 0
 * if there is no DTB, no such key or no digit after it. A byte search of the whole blob:
 * the keys are named so that nothing else in a device tree holds them. */
bootarg:
        beqz    a0, 6f
        lbu     t0, 0(a0)               /* magic and totalsize are big-endian */
        lbu     t1, 1(a0)
        slli    t0, t0, 8
        or      t0, t0, t1
        lbu     t1, 2(a0)
        slli    t0, t0, 8
        or      t0, t0, t1
        lbu     t1, 3(a0)
        slli    t0, t0, 8
        or      t0, t0, t1
        li      t1, FDT_MAGIC
        bne     t0, t1, 6f
        lbu     t2, 4(a0)
        lbu     t1, 5(a0)
        slli    t2, t2, 8
        or      t2, t2, t1
        lbu     t1, 6(a0)
        slli    t2, t2, 8
        or      t2, t2, t1
        lbu     t1, 7(a0)
        slli    t2, t2, 8
        or      t2, t2, t1
        add     t2, t2, a0              /* the blob's end */
1:      bgeu    a0, t2, 6f              /* each place the key could start */
        mv      t3, a0
        mv      t4, a1
2:      lbu     t1, 0(t4)
        beqz    t1, 3f                  /* the whole key matched */
        bgeu    t3, t2, 6f
        lbu     t0, 0(t3)
        bne     t0, t1, 5f
        addi    t3, t3, 1
        addi    t4, t4, 1
        j       2b
3:      li      a0, 0                   /* the digits after it */
        li      t4, 10
4:      bgeu    t3, t2, 7f
        lbu     t0, 0(t3)
        addi    t0, t0, -'0'
        bgeu    t0, t4, 7f
        mul     a0, a0, t4
        add     a0, a0, t0
        addi    t3, t3, 1
        j       4b
5:      addi    a0, a0, 1
        j       1b
6:      li      a0, 0
7:      ret

/* fail(a0 = code): "memsum: FAIL", poweroff with (code << 16) | FAIL. */
fail:
        mv      s3, a0
        la      a0, msg_fail
        call    puts
        slli    a0, s3, 16
        li      t1, TEST_FAIL
        or      a0, a0, t1
        li      t0, SIFIVE_TEST
        sw      a0, 0(t0)
1:      j       1b

/* Nothing is expected to trap: say what did, fail 5. */
        .balign 4
trap:
        la      sp, stack_top
        la      a0, msg_trap
        call    puts
        csrr    a0, mcause
        li      a1, 16
        call    puthex
        la      a0, msg_mepc
        call    puts
        csrr    a0, mepc
        li      a1, 16
        call    puthex
        la      a0, msg_mtval
        call    puts
        csrr    a0, mtval
        li      a1, 16
        call    puthex
        la      a0, msg_crlf
        call    puts
        li      a0, 5
        j       fail

#include "../console.inc"

        .section .rodata
key_passes:   .asciz "memsum.passes="
msg_start:    .asciz "memsum: 1 MiB at 0x80200000, "
msg_seed:     .asciz " passes, seed "
msg_pass_k:   .asciz "memsum: pass "
msg_comma:    .asciz ", "
msg_wrong:    .asciz " wrong words\r\n"
msg_prefix:   .asciz "memsum: "
msg_passes:   .asciz " passes, "
msg_corrupt:  .asciz " corrupt, "
msg_pass:     .asciz "memsum: pass\r\n"
msg_fail:     .asciz "memsum: FAIL\r\n"
msg_trap:     .asciz "memsum: unexpected trap mcause="
msg_mepc:     .asciz " mepc="
msg_mtval:    .asciz " mtval="
msg_crlf:     .asciz "\r\n"

        .section .bss
        .balign 16
stack:  .space 1024
stack_top:
