/*
 * diskcheck: a disk writer and verifier for fault-injection exercises, on virtio-blk.
 * RV64IM + Zicsr, M-mode, no firmware, no interrupts: completions are polled, every 100 us
 * of mtime, in WFI woken by the CLINT timer (mie.MTIE with mstatus.MIE clear, so no trap is
 * taken; a vCPU asleep gives the device the pages it wants at once).
 *
 * A fault (a service killed or frozen, NATS restarted) is injected while it runs; what the
 * guest saw is its own report: which writes the device acknowledged, whether each of them
 * is on the disk afterwards, and the longest request.
 *
 * 1. Finds the disk: the first virtio-mmio slot 0..7 (0x10001000 + N * 0x1000) whose
 *    transport says "virt" and device id 2 (Splitvisor gives a VM's only disk slot 7, as
 *    QEMU gives its only -device virtio-blk-device). It must be a version 2 (modern)
 *    transport, offer VIRTIO_F_VERSION_1 and VIRTIO_BLK_F_FLUSH (bit 9), and hold at
 *    least 8 * N sectors (N blocks of 4 KiB at sector 8 * i; N = 1000, or
 *    diskcheck.blocks=<N> in /chosen/bootargs: QEMU's -append, Splitvisor's bootargs:).
 * 2. The seed: CLINT mtime at start (its low 32 bits), so that a disk left by an earlier
 *    run cannot pass. Word j of block i is mix((seed << 32) + (i << 9) + j).
 * 3. For i = 0..N-1: VIRTIO_BLK_T_OUT of block i, then VIRTIO_BLK_T_FLUSH. The write is
 *    acknowledged when both came back with status 0. Every 100 acknowledged: a line. A
 *    request that comes back with another status (the status byte is 0xff until the
 *    device writes it) ends the writing; so does one that does not come back in 30 s
 *    (the device is then reset and set up again before the reading).
 * 4. The acknowledged blocks are read back (VIRTIO_BLK_T_IN, 16 blocks, 64 KiB, a request)
 *    and compared word by word; a block that differs is lost, and so is every block of a
 *    read that fails ("block <first of the 16> status <s>"). A read that does not come back
 *    in 30 s ends the reading: the blocks not read are counted lost.
 * 5. Every request (write, flush, read) is timed from its notify to its used entry with
 *    mtime (10 MHz); the longest is printed in whole milliseconds.
 *
 * Output (numbers in decimal, lines end in \r\n):
 *   diskcheck: virtio-blk at 0x<8 hex digits>, <sectors> sectors
 *   diskcheck: writing <N> blocks of 4096 bytes, seed <n>
 *   diskcheck: acked <k>                                  (k = 100, 200, ... N)
 *   diskcheck: block <i> status <s>                       (a request with status s != 0)
 *   diskcheck: block <i> timed out after 30000 ms         (no used entry in 30 s)
 *   diskcheck: verified <v> of <acked> acknowledged writes, <lost> lost
 *   diskcheck: longest request <ms> ms
 *   diskcheck: pass | diskcheck: FAIL
 * Exit: pass (0) when lost == 0 and all N were acknowledged, else fail 1. Before any
 * writing: no virtio-blk in any slot, or not version 2: fail 2; a feature or the setup
 * refused ("diskcheck: device offers no FLUSH (feature bit 9)" for FLUSH): fail 3; a disk
 * too small: fail 4; an exception or interrupt ("diskcheck: unexpected trap ..."): fail 5.
 * Each of these ends with "diskcheck: FAIL".
 */
        .equ UART0,         0x10000000
        .equ UART_THR,      0
        .equ UART_LSR,      5
        .equ LSR_THRE,      0x20
        .equ CLINT_MTIME,   0x200bff8
        .equ CLINT_MTIMECMP, 0x2004000
        .equ SIFIVE_TEST,   0x100000
        .equ TEST_PASS,     0x5555
        .equ TEST_FAIL,     0x3333

        .equ VIRTIO0,       0x10001000
        .equ STRIDE,        0x1000
        .equ SLOTS,         8
        .equ MAGIC,         0x000
        .equ VERSION,       0x004
        .equ DEVICE_ID,     0x008
        .equ DEV_FEATURES,  0x010
        .equ DEV_FEAT_SEL,  0x014
        .equ DRV_FEATURES,  0x020
        .equ DRV_FEAT_SEL,  0x024
        .equ QUEUE_SEL,     0x030
        .equ QUEUE_NUM_MAX, 0x034
        .equ QUEUE_NUM,     0x038
        .equ QUEUE_READY,   0x044
        .equ QUEUE_NOTIFY,  0x050
        .equ STATUS,        0x070
        .equ DESC_LOW,      0x080
        .equ DESC_HIGH,     0x084
        .equ DRIVER_LOW,    0x090
        .equ DRIVER_HIGH,   0x094
        .equ DEVICE_LOW,    0x0a0
        .equ DEVICE_HIGH,   0x0a4
        .equ CONFIG,        0x100        /* virtio_blk_config: capacity (le64) first */
        .equ VIRT_MAGIC,    0x74726976   /* "virt" */
        .equ BLOCK_ID,      2
        .equ S_ACK,         0x01
        .equ S_DRIVER,      0x02
        .equ S_DRIVER_OK,   0x04
        .equ S_FEATURES_OK, 0x08
        .equ F_NEXT,        1
        .equ F_WRITE,       2
        .equ BLK_F_FLUSH,   1 << 9
        .equ T_IN,          0
        .equ T_OUT,         1
        .equ T_FLUSH,       4

        .equ BLOCKS,        1000
        .equ MAX_BLOCKS,    1000000
        .equ FDT_MAGIC,     0xd00dfeed
        .equ BLOCK_BYTES,   4096
        .equ BLOCK_WORDS,   512
        .equ READ_GROUP,    16           /* blocks per read request (64 KiB) */
        .equ REQ_TICKS,     300000000    /* 30 s of the 10 MHz timebase */
        .equ TICKS_PER_MS,  10000
        .equ POLL_TICKS,    1000         /* 100 us between looks at used.idx */
        .equ QSIZE,         8

        /* Rings and buffers, 1 MiB into RAM (inside 64 MiB and QEMU's default 128 MiB). */
        .equ RING,          0x80100000
        .equ DESC,          RING            /* 8 x 16 bytes */
        .equ AVAIL,         RING + 0x100    /* flags, idx, ring[8], used_event */
        .equ USED,          RING + 0x200    /* flags, idx, ring[8] of {id, len} */
        .equ HDR,           RING + 0x400    /* virtio_blk_req header: type, reserved, sector */
        .equ BLK_STATUS,    RING + 0x410
        .equ RING_BYTES,    0x800
        .equ WBUF,          0x80101000      /* the block written */
        .equ RBUF,          0x80110000      /* READ_GROUP blocks read back */

        /* Registers kept across the program:
         *   s0 seed   s1 UART0   s2 the transport   s3 block i   s4 acknowledged
         *   s5 longest request (ticks)   s9 requests submitted (avail.idx)
         *   s10 lost   s11 verified
         * console.inc's helpers save s6-s8 themselves. */
        .section .text.start, "ax"
        .globl _start
_start:
        la      sp, stack_top
        li      s1, UART0
        mv      a0, a1                  /* N: diskcheck.blocks=<N> in bootargs, or BLOCKS */
        la      a1, key_blocks
        call    bootarg
        la      t0, blocks
        li      t1, BLOCKS
        sd      t1, 0(t0)
        beqz    a0, 1f
        li      t1, MAX_BLOCKS
        bgtu    a0, t1, 1f
        sd      a0, 0(t0)
1:
        la      t0, trap
        csrw    mtvec, t0
        li      t0, CLINT_MTIMECMP      /* the timer only wakes WFI: mie.MTIE, mstatus.MIE clear */
        li      t1, -1
        sd      t1, 0(t0)
        li      t0, 0x80
        csrw    mie, t0

        /* 1. the disk */
        call    find_blk
        la      a0, msg_found
        call    puts
        mv      a0, s2
        li      a1, 8
        call    puthex
        la      a0, msg_comma
        call    puts
        lwu     t0, CONFIG(s2)
        lwu     t1, CONFIG + 4(s2)
        slli    t1, t1, 32
        or      s3, t0, t1              /* capacity in sectors */
        mv      a0, s3
        call    putdec
        la      a0, msg_sectors
        call    puts
        call    setup                   /* fails 3 itself */
        call    nblocks
        slli    s4, a0, 3               /* sectors needed: 8 * N */
        bgeu    s3, s4, 1f
        la      a0, msg_small
        call    puts
        mv      a0, s4
        call    putdec
        la      a0, msg_sectors
        call    puts
        li      a0, 4
        j       fail
1:
        /* 2. the seed */
        li      t0, CLINT_MTIME
        ld      s0, 0(t0)
        slli    s0, s0, 32
        srli    s0, s0, 32
        la      a0, msg_writing
        call    puts
        call    nblocks
        call    putdec
        la      a0, msg_blocks_seed
        call    puts
        mv      a0, s0
        call    putdec
        la      a0, msg_crlf
        call    puts

        /* 3. write and flush, block by block */
        li      s3, 0
        li      s4, 0
        li      s5, 0
write_loop:
        call    nblocks
        bgeu    s3, a0, verify
        li      a0, WBUF
        mv      a1, s3
        call    fill_block
        li      a0, T_OUT
        slli    a1, s3, 3               /* sector 8 * i */
        li      a2, WBUF
        li      a3, BLOCK_BYTES
        call    request
        bnez    a0, write_failed
        li      a0, T_FLUSH
        li      a1, 0
        li      a2, 0
        call    request
        bnez    a0, write_failed
        addi    s4, s4, 1
        addi    s3, s3, 1
        li      t0, 100
        remu    t0, s4, t0
        bnez    t0, write_loop
        la      a0, msg_acked
        call    puts
        mv      a0, s4
        call    putdec
        la      a0, msg_crlf
        call    puts
        j       write_loop

/* A write or its flush failed (a0: its status, or -1: no answer): say which, stop writing. */
write_failed:
        call    say_failed
        bgez    a0, verify
        call    setup                   /* in flight for ever: reset it before reading */

        /* 4. read back every acknowledged block, READ_GROUP at a time (s7: blocks in the
         *    group, s8: its bytes) */
verify:
        li      s3, 0
        li      s10, 0
        li      s11, 0
verify_loop:
        bgeu    s3, s4, summary
        sub     s7, s4, s3
        li      t0, READ_GROUP
        bleu    s7, t0, 1f
        mv      s7, t0
1:      slli    s8, s7, 12
        li      t0, RBUF                /* a read that writes nothing must not pass */
        add     t1, t0, s8
        not     t2, zero
2:      sd      t2, 0(t0)
        addi    t0, t0, 8
        bltu    t0, t1, 2b
        li      a0, T_IN
        slli    a1, s3, 3
        li      a2, RBUF
        mv      a3, s8
        call    request
        bltz    a0, read_timed_out
        bnez    a0, read_failed
        li      s8, RBUF                /* each block of the group */
        add     s7, s7, s3
3:      mv      a0, s8
        mv      a1, s3
        call    check_block
        bnez    a0, 4f
        addi    s11, s11, 1
        j       5f
4:      addi    s10, s10, 1
5:      li      t0, BLOCK_BYTES
        add     s8, s8, t0
        addi    s3, s3, 1
        bltu    s3, s7, 3b
        j       verify_loop
read_failed:
        call    say_failed              /* the whole group is lost */
        add     s10, s10, s7
        add     s3, s3, s7
        j       verify_loop
read_timed_out:
        call    say_failed
        sub     t0, s4, s3              /* this group and every block after it: unread */
        add     s10, s10, t0

        /* 5. the summary */
summary:
        la      a0, msg_verified
        call    puts
        mv      a0, s11
        call    putdec
        la      a0, msg_of
        call    puts
        mv      a0, s4
        call    putdec
        la      a0, msg_ackw
        call    puts
        mv      a0, s10
        call    putdec
        la      a0, msg_lost
        call    puts
        la      a0, msg_longest
        call    puts
        li      t0, TICKS_PER_MS
        divu    a0, s5, t0
        call    putdec
        la      a0, msg_ms
        call    puts
        sw      zero, STATUS(s2)        /* leave the device reset */
        call    nblocks
        mv      t0, a0
        li      a0, 1
        bnez    s10, fail
        bne     s4, t0, fail
        la      a0, msg_pass
        call    puts
        li      t0, SIFIVE_TEST
        li      t1, TEST_PASS
        sw      t1, 0(t0)
4:      j       4b

/* say_failed(a0 = status, or -1): "block <s3> status <s>" or "block <s3> timed out after
 * 30000 ms". Returns a0 as it was. */
say_failed:
        addi    sp, sp, -16
        sd      ra, 0(sp)
        sd      a0, 8(sp)
        la      a0, msg_block
        call    puts
        mv      a0, s3
        call    putdec
        ld      a0, 8(sp)
        bltz    a0, 1f
        la      a0, msg_status
        call    puts
        ld      a0, 8(sp)
        call    putdec
        la      a0, msg_crlf
        j       2f
1:      la      a0, msg_timeout
2:      call    puts
        ld      ra, 0(sp)
        ld      a0, 8(sp)
        addi    sp, sp, 16
        ret

/* request(a0 = type, a1 = sector, a2 = buffer or 0, a3 = its bytes): one request, to its
 * used entry, looked for every 100 us in WFI (the timer wakes it; no interrupt is taken).
 * Returns a0 = the status byte, or -1 when no used entry came in 30 s. The chain is
 * descriptor 0 (header), 1 (the buffer, device-writable for T_IN), 2 (status). */
request:
        li      t0, HDR
        sw      a0, 0(t0)
        sw      zero, 4(t0)
        sd      a1, 8(t0)
        li      t1, BLK_STATUS
        li      t2, 0xff                /* what a status the device never wrote looks like */
        sb      t2, 0(t1)
        li      t3, DESC
        sd      t0, 0(t3)               /* desc 0: the header, 16 bytes */
        li      t1, 16
        sw      t1, 8(t3)
        li      t1, F_NEXT
        sh      t1, 12(t3)
        li      t1, 2                   /* ... next: the status, unless there is data */
        beqz    a2, 1f
        sd      a2, 16(t3)              /* desc 1: the data */
        sw      a3, 24(t3)
        li      t1, F_NEXT
        bnez    a0, 2f                  /* T_IN (0): the device writes it */
        li      t1, F_NEXT | F_WRITE
2:      sh      t1, 28(t3)
        li      t1, 2
        sh      t1, 30(t3)
        li      t1, 1
1:      sh      t1, 14(t3)
        li      t1, BLK_STATUS          /* desc 2: the status byte */
        sd      t1, 32(t3)
        li      t1, 1
        sw      t1, 40(t3)
        li      t1, F_WRITE
        sh      t1, 44(t3)
        sh      zero, 46(t3)
        li      t0, AVAIL               /* avail.ring[s9 % 8] = 0, then avail.idx */
        andi    t1, s9, QSIZE - 1
        slli    t1, t1, 1
        add     t1, t1, t0
        sh      zero, 4(t1)
        addi    s9, s9, 1
        slli    s9, s9, 48
        srli    s9, s9, 48
        fence   w, w                    /* §2.7.13: the ring entry before the idx */
        sh      s9, 2(t0)
        fence                           /* the idx before the doorbell */
        li      t0, CLINT_MTIME
        ld      t2, 0(t0)               /* submitted */
        sw      zero, QUEUE_NOTIFY(s2)
        li      t3, USED
3:      fence
        lhu     t1, 2(t3)
        beq     t1, s9, 4f
        ld      t1, 0(t0)
        sub     t4, t1, t2
        li      a0, REQ_TICKS
        bgeu    t4, a0, 7f
        li      a0, POLL_TICKS          /* sleep a little: the device has the pages meanwhile */
        add     t1, t1, a0
        li      a0, CLINT_MTIMECMP
        sd      t1, 0(a0)
        wfi
        j       3b
7:      li      a0, -1
        j       5f
4:      fence
        ld      t1, 0(t0)               /* used */
        li      a0, BLK_STATUS
        lbu     a0, 0(a0)
5:      sub     t1, t1, t2
        bgeu    s5, t1, 6f
        mv      s5, t1
6:      ret

/* nblocks -> a0: N, the blocks to write. */
nblocks:
        la      a0, blocks
        ld      a0, 0(a0)
        ret

/* pattern(a0 = block, a1 = word) -> a0: mix((seed << 32) + (block << 9) + word), a
 * splitmix64 finaliser: different for every word, block and seed. Uses t0, t1. */
pattern:
        slli    a0, a0, 9
        add     a0, a0, a1
        slli    t0, s0, 32
        add     a0, a0, t0
        li      t0, 0x9e3779b97f4a7c15
        mul     a0, a0, t0
        srli    t1, a0, 31
        xor     a0, a0, t1
        li      t0, 0xbf58476d1ce4e5b9
        mul     a0, a0, t0
        srli    t1, a0, 27
        xor     a0, a0, t1
        ret

/* fill_block(a0 = buffer, a1 = block): the block's pattern. */
fill_block:
        addi    sp, sp, -32
        sd      ra, 0(sp)
        sd      s6, 8(sp)
        sd      s7, 16(sp)
        sd      s8, 24(sp)
        mv      s6, a0
        mv      s7, a1
        li      s8, 0
1:      mv      a0, s7
        mv      a1, s8
        call    pattern
        sd      a0, 0(s6)
        addi    s6, s6, 8
        addi    s8, s8, 1
        li      t0, BLOCK_WORDS
        bltu    s8, t0, 1b
        ld      ra, 0(sp)
        ld      s6, 8(sp)
        ld      s7, 16(sp)
        ld      s8, 24(sp)
        addi    sp, sp, 32
        ret

/* check_block(a0 = buffer, a1 = block) -> a0: 0 when every word is the pattern's, else 1. */
check_block:
        addi    sp, sp, -32
        sd      ra, 0(sp)
        sd      s6, 8(sp)
        sd      s7, 16(sp)
        sd      s8, 24(sp)
        mv      s6, a0
        mv      s7, a1
        li      s8, 0
1:      mv      a0, s7
        mv      a1, s8
        call    pattern
        ld      t0, 0(s6)
        bne     t0, a0, 2f
        addi    s6, s6, 8
        addi    s8, s8, 1
        li      t0, BLOCK_WORDS
        bltu    s8, t0, 1b
        li      a0, 0
        j       3f
2:      li      a0, 1
3:      ld      ra, 0(sp)
        ld      s6, 8(sp)
        ld      s7, 16(sp)
        ld      s8, 24(sp)
        addi    sp, sp, 32
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

/* find_blk: s2 = the first slot with magic "virt" and device id 2; fail 2 if none, or if it
 * is not a version 2 transport. */
find_blk:
        li      s2, VIRTIO0
        li      t2, VIRTIO0 + SLOTS * STRIDE
1:      lw      t0, MAGIC(s2)
        li      t1, VIRT_MAGIC
        bne     t0, t1, 2f
        lw      t0, DEVICE_ID(s2)
        li      t1, BLOCK_ID
        beq     t0, t1, 3f
2:      li      t1, STRIDE
        add     s2, s2, t1
        bltu    s2, t2, 1b
        la      a0, msg_nodisk
        call    puts
        li      a0, 2
        j       fail
3:      lw      t0, VERSION(s2)
        li      t1, 2
        beq     t0, t1, 4f
        la      a0, msg_legacy
        call    puts
        li      a0, 2
        j       fail
4:      ret

/* setup: reset, clear the rings, ACK, DRIVER, VERSION_1 and FLUSH (both required),
 * FEATURES_OK read back, queue 0 of 8, DRIVER_OK; s9 = 0. Fails 3. */
setup:
        sw      zero, STATUS(s2)
        li      t1, 1000000
1:      lw      t0, STATUS(s2)
        beqz    t0, 2f
        addi    t1, t1, -1
        bnez    t1, 1b
        j       setup_failed
2:      li      t0, RING
        li      t1, RING + RING_BYTES
3:      sd      zero, 0(t0)
        addi    t0, t0, 8
        bltu    t0, t1, 3b
        li      s9, 0
        fence
        li      t0, S_ACK
        sw      t0, STATUS(s2)
        li      t0, S_ACK | S_DRIVER
        sw      t0, STATUS(s2)
        li      t0, 1
        sw      t0, DEV_FEAT_SEL(s2)
        lw      t1, DEV_FEATURES(s2)
        andi    t1, t1, 1               /* VIRTIO_F_VERSION_1 is bit 32: word 1, bit 0 */
        beqz    t1, setup_failed
        sw      zero, DEV_FEAT_SEL(s2)
        lw      t1, DEV_FEATURES(s2)
        li      t0, BLK_F_FLUSH
        and     t1, t1, t0
        bnez    t1, 4f
        la      a0, msg_noflush
        j       setup_said
4:      sw      zero, DRV_FEAT_SEL(s2)
        li      t0, BLK_F_FLUSH
        sw      t0, DRV_FEATURES(s2)
        li      t0, 1
        sw      t0, DRV_FEAT_SEL(s2)
        sw      t0, DRV_FEATURES(s2)
        li      t0, S_ACK | S_DRIVER | S_FEATURES_OK
        sw      t0, STATUS(s2)
        lw      t1, STATUS(s2)
        andi    t0, t1, S_FEATURES_OK
        beqz    t0, setup_failed
        sw      zero, QUEUE_SEL(s2)
        lw      t0, QUEUE_NUM_MAX(s2)
        li      t1, QSIZE
        bltu    t0, t1, setup_failed
        sw      t1, QUEUE_NUM(s2)
        li      t0, DESC
        sw      t0, DESC_LOW(s2)
        sw      zero, DESC_HIGH(s2)
        li      t0, AVAIL
        sw      t0, DRIVER_LOW(s2)
        sw      zero, DRIVER_HIGH(s2)
        li      t0, USED
        sw      t0, DEVICE_LOW(s2)
        sw      zero, DEVICE_HIGH(s2)
        li      t0, 1
        sw      t0, QUEUE_READY(s2)
        li      t0, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK
        sw      t0, STATUS(s2)
        ret
setup_failed:
        la      a0, msg_refused
setup_said:
        call    puts
        li      a0, 3
        j       fail

/* fail(a0 = code): "diskcheck: FAIL", poweroff with (code << 16) | FAIL. */
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
key_blocks:   .asciz "diskcheck.blocks="
msg_found:    .asciz "diskcheck: virtio-blk at "
msg_comma:    .asciz ", "
msg_sectors:  .asciz " sectors\r\n"
msg_small:    .asciz "diskcheck: the disk is too small: needs "
msg_writing:  .asciz "diskcheck: writing "
msg_blocks_seed: .asciz " blocks of 4096 bytes, seed "
msg_acked:    .asciz "diskcheck: acked "
msg_block:    .asciz "diskcheck: block "
msg_status:   .asciz " status "
msg_timeout:  .asciz " timed out after 30000 ms\r\n"
msg_verified: .asciz "diskcheck: verified "
msg_of:       .asciz " of "
msg_ackw:     .asciz " acknowledged writes, "
msg_lost:     .asciz " lost\r\n"
msg_longest:  .asciz "diskcheck: longest request "
msg_ms:       .asciz " ms\r\n"
msg_pass:     .asciz "diskcheck: pass\r\n"
msg_fail:     .asciz "diskcheck: FAIL\r\n"
msg_nodisk:   .asciz "diskcheck: no virtio-blk in virtio-mmio slots 0..7\r\n"
msg_legacy:   .asciz "diskcheck: the virtio-blk is not a version 2 (modern) virtio-mmio transport\r\n"
msg_noflush:  .asciz "diskcheck: device offers no FLUSH (feature bit 9)\r\n"
msg_refused:  .asciz "diskcheck: device setup refused\r\n"
msg_trap:     .asciz "diskcheck: unexpected trap mcause="
msg_mepc:     .asciz " mepc="
msg_mtval:    .asciz " mtval="
msg_crlf:     .asciz "\r\n"

        .section .bss
        .balign 16
blocks: .space 8
stack:  .space 1024
stack_top:
