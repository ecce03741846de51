/*
 * intcount: an interrupt counter for fault-injection exercises, on virtio-rng.
 * RV64IM + Zicsr, M-mode, no firmware.
 *
 * A fault (a service killed or frozen, NATS restarted, doorbells dropped) is injected while
 * it runs; the guest counts what arrived: every request must end in one used-buffer
 * interrupt, and a lost one is counted, not waited for.
 *
 * 1. Finds the virtio-rng: the first virtio-mmio slot 0..7 with magic "virt", version 2 and
 *    device id 4 (Splitvisor's `rng: true` and QEMU's -device virtio-rng-device: slot 7,
 *    0x10008000, PLIC source 8); its PLIC source is 1 + slot. Set up as guests/virtio-irq:
 *    reset, ACKNOWLEDGE, DRIVER, VERSION_1 only, FEATURES_OK read back, queue 0 of 8,
 *    DRIVER_OK; the source to hart 0's M-mode context (priority 1, enabled, threshold 0).
 * 2. R rounds (R = 10000, or intcount.rounds=<R> in /chosen/bootargs: QEMU's -append,
 *    Splitvisor's bootargs:). Each posts one 8-byte device-writable buffer, notifies, and waits in WFI
 *    until the handler has taken a used-buffer interrupt and used.idx has reached the round,
 *    or until a watchdog 5 s ahead (CLINT mtimecmp) fires: the round is then a lost
 *    interrupt, and used.idx is polled (up to 30 s more) to go on. mstatus.MIE is set only
 *    between WFIs, so an interrupt that comes between the check and the WFI still wakes it.
 *    The wait of each round is timed with mtime, from the notify to the interrupt (to the
 *    poll that saw used.idx for a lost one); the longest is printed in whole milliseconds.
 * 3. The handler, as virtio-irq's: claims, reads InterruptStatus, writes it to
 *    InterruptACK, completes. A claim of 0, or an InterruptStatus of 0, is spurious;
 *    anything else is an interrupt, counted.
 *
 * Output (numbers in decimal, lines end in \r\n):
 *   intcount: virtio-rng at 0x<8 hex digits>, PLIC source <s>, <R> requests
 *   intcount: <k> interrupts                              (after every 1000 rounds)
 *   intcount: round <r> lost its interrupt                (the watchdog fired)
 *   intcount: <R> requests, <n> interrupts, <lost> lost, <spurious> spurious, longest wait <ms> ms
 *   intcount: pass | intcount: FAIL
 * Exit: pass (0) when lost == 0, else fail 1. No virtio-rng in any slot: fail 2; setup
 * refused: fail 3; a round whose used.idx did not move in 5 + 30 s
 * ("intcount: round <r> never completed"): fail 4; an exception or another interrupt
 * ("intcount: unexpected trap ..."): fail 5. Each of these ends with "intcount: FAIL".
 */
        .equ UART0,         0x10000000
        .equ UART_THR,      0
        .equ UART_LSR,      5
        .equ LSR_THRE,      0x20
        .equ CLINT_MTIMECMP, 0x2004000
        .equ CLINT_MTIME,   0x200bff8
        .equ PLIC_PRIO,     0x0c000000   /* + 4 * source */
        .equ PLIC_ENABLE0,  0x0c002000   /* context 0 enable bits 0..31 */
        .equ PLIC_THRESH0,  0x0c200000
        .equ PLIC_CLAIM0,   0x0c200004
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
        .equ INT_STATUS,    0x060
        .equ INT_ACK,       0x064
        .equ STATUS,        0x070
        .equ DESC_LOW,      0x080
        .equ DESC_HIGH,     0x084
        .equ DRIVER_LOW,    0x090
        .equ DRIVER_HIGH,   0x094
        .equ DEVICE_LOW,    0x0a0
        .equ DEVICE_HIGH,   0x0a4
        .equ VIRT_MAGIC,    0x74726976   /* "virt" */
        .equ ENTROPY_ID,    4
        .equ S_ACK,         0x01
        .equ S_DRIVER,      0x02
        .equ S_DRIVER_OK,   0x04
        .equ S_FEATURES_OK, 0x08
        .equ F_WRITE,       2

        .equ RING,          0x80100000
        .equ DESC,          RING            /* 8 x 16 bytes */
        .equ AVAIL,         RING + 0x100    /* flags, idx, ring[8], used_event */
        .equ USED,          RING + 0x200    /* flags, idx, ring[8] of {id, len} */
        .equ BUF,           RING + 0x400
        .equ RING_BYTES,    0x800
        .equ BUF_LEN,       8
        .equ QSIZE,         8
        .equ ROUNDS,        10000
        .equ MAX_ROUNDS,    1000000
        .equ FDT_MAGIC,     0xd00dfeed
        .equ REPORT_EVERY,  1000

        .equ WATCHDOG,      50000000        /* 5 s of the 10 MHz timebase */
        .equ POLL_TICKS,    300000000       /* then 30 s of polling */
        .equ TICKS_PER_MS,  10000
        .equ WFI_CAP,       100000000       /* WFIs in a round, should WFI return for nothing */

        /* What the handler keeps (offsets into `seen`). */
        .equ SEEN_COUNT,    0               /* used-buffer interrupts taken */
        .equ SEEN_SPURIOUS, 8               /* claims of 0, or InterruptStatus 0 */
        .equ SEEN_TIMEOUT,  16              /* the watchdog fired */

        /* Registers kept across the program:
         *   s0 PLIC source   s1 UART0   s2 the transport   s3 round   s4 lost
         *   s5 longest wait (ticks)   s9 `seen`   s10 interrupts before this round's post
         *   s11 mtime at the notify   s8 rounds (R)
         * console.inc's helpers save s6-s8 themselves. */
        .section .text.start, "ax"
        .globl _start
_start:
        la      sp, stack_top
        li      s1, UART0
        mv      a0, a1                  /* R: intcount.rounds=<R> in bootargs, or ROUNDS */
        la      a1, key_rounds
        call    bootarg
        li      s8, ROUNDS
        beqz    a0, 1f
        li      t0, MAX_ROUNDS
        bgtu    a0, t0, 1f
        mv      s8, a0
1:      la      s9, seen
        la      t0, trap
        csrw    mtvec, t0
        csrw    mie, zero
        li      t0, CLINT_MTIMECMP      /* the watchdog parked */
        li      t1, -1
        sd      t1, 0(t0)

        /* 1. the device and its interrupt */
        call    find_rng
        call    setup
        li      t0, PLIC_PRIO
        slli    t1, s0, 2
        add     t0, t0, t1
        li      t1, 1
        sw      t1, 0(t0)
        li      t0, PLIC_ENABLE0
        li      t1, 1
        sll     t1, t1, s0
        sw      t1, 0(t0)
        li      t0, PLIC_THRESH0
        sw      zero, 0(t0)
        li      t0, 0x880               /* mie.MEIE | mie.MTIE */
        csrw    mie, t0
        la      a0, msg_found
        call    puts
        mv      a0, s2
        li      a1, 8
        call    puthex
        la      a0, msg_source
        call    puts
        mv      a0, s0
        call    putdec
        la      a0, msg_comma
        call    puts
        mv      a0, s8
        call    putdec
        la      a0, msg_requests_start
        call    puts

        /* 2. the rounds */
        li      s3, 0
        li      s4, 0
        li      s5, 0
round:
        addi    s3, s3, 1
        sd      zero, SEEN_TIMEOUT(s9)
        ld      s10, SEEN_COUNT(s9)
        call    post                    /* s11 = mtime at the notify */
        li      t0, WATCHDOG
        add     t1, s11, t0
        li      t0, CLINT_MTIMECMP
        sd      t1, 0(t0)
        li      t3, WFI_CAP
1:      ld      t0, SEEN_COUNT(s9)
        beq     t0, s10, 2f
        call    used_idx
        beqz    a0, got_it          /* an interrupt, and this round's used entry */
2:      ld      t0, SEEN_TIMEOUT(s9)
        bnez    t0, lost
        addi    t3, t3, -1
        beqz    t3, lost
        wfi
        csrsi   mstatus, 8              /* take what woke us ... */
        csrci   mstatus, 8              /* ... and only here */
        j       1b
got_it:
        li      t0, CLINT_MTIME
        ld      t1, 0(t0)
        li      t0, CLINT_MTIMECMP      /* park the watchdog */
        li      t2, -1
        sd      t2, 0(t0)
        j       round_done

/* The watchdog fired: a lost interrupt. Poll used.idx to go on. */
lost:
        li      t0, CLINT_MTIMECMP
        li      t2, -1
        sd      t2, 0(t0)
        addi    s4, s4, 1
        la      a0, msg_round
        call    puts
        mv      a0, s3
        call    putdec
        la      a0, msg_lost_irq
        call    puts
1:      call    used_idx
        li      t0, CLINT_MTIME
        ld      t1, 0(t0)
        beqz    a0, round_done
        sub     t2, t1, s11
        li      t0, WATCHDOG + POLL_TICKS
        bltu    t2, t0, 1b
        la      a0, msg_round
        call    puts
        mv      a0, s3
        call    putdec
        la      a0, msg_never
        call    puts
        li      a0, 4
        j       fail

/* t1: mtime when the round was seen complete. */
round_done:
        sub     t1, t1, s11
        bgeu    s5, t1, 1f
        mv      s5, t1
1:      li      t0, REPORT_EVERY
        remu    t0, s3, t0
        bnez    t0, 2f
        la      a0, msg_prefix
        call    puts
        ld      a0, SEEN_COUNT(s9)
        call    putdec
        la      a0, msg_interrupts
        call    puts
2:      bltu    s3, s8, round

        /* 3. the summary; late interrupts have 10 ms to come first */
        li      t0, CLINT_MTIME
        ld      t1, 0(t0)
        li      t2, 100000
        add     t2, t2, t1
        csrsi   mstatus, 8
3:      ld      t1, 0(t0)
        bltu    t1, t2, 3b
        csrci   mstatus, 8
        csrw    mie, zero
        sw      zero, STATUS(s2)        /* leave the device reset */
        la      a0, msg_prefix
        call    puts
        mv      a0, s3
        call    putdec
        la      a0, msg_requests
        call    puts
        ld      a0, SEEN_COUNT(s9)
        call    putdec
        la      a0, msg_interrupts_c
        call    puts
        mv      a0, s4
        call    putdec
        la      a0, msg_lost
        call    puts
        ld      a0, SEEN_SPURIOUS(s9)
        call    putdec
        la      a0, msg_spurious
        call    puts
        li      t0, TICKS_PER_MS
        divu    a0, s5, t0
        call    putdec
        la      a0, msg_ms
        call    puts
        li      a0, 1
        bnez    s4, fail
        la      a0, msg_pass
        call    puts
        li      t0, SIFIVE_TEST
        li      t1, TEST_PASS
        sw      t1, 0(t0)
4:      j       4b

/* used_idx -> a0: used.idx minus the round's low 16 bits (0: the round is complete). Uses t0. */
used_idx:
        fence
        li      t0, USED
        lhu     a0, 2(t0)
        slli    t0, s3, 48
        srli    t0, t0, 48
        sub     a0, a0, t0
        ret

/* post: desc 0 = {BUF, 8, WRITE}, avail.ring[(s3 - 1) % 8] = 0, avail.idx = s3 (mod 2^16),
 * notify; s11 = mtime at the notify. */
post:
        li      t0, DESC
        li      t1, BUF
        sd      t1, 0(t0)
        li      t1, BUF_LEN
        sw      t1, 8(t0)
        li      t1, F_WRITE
        sh      t1, 12(t0)
        sh      zero, 14(t0)
        li      t0, AVAIL
        addi    t1, s3, -1
        andi    t1, t1, QSIZE - 1
        slli    t1, t1, 1
        add     t1, t1, t0
        sh      zero, 4(t1)
        fence   w, w                    /* §2.7.13: the ring entry before the idx */
        sh      s3, 2(t0)
        fence                           /* the idx before the doorbell */
        li      t0, CLINT_MTIME
        ld      s11, 0(t0)
        sw      zero, QUEUE_NOTIFY(s2)
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

/* find_rng: s2 = the first slot with magic "virt", version 2 and device id 4; s0 = its PLIC
 * source (1 + slot). Fails 2 if there is none. */
find_rng:
        li      s2, VIRTIO0
        li      s0, 1
        li      t2, VIRTIO0 + SLOTS * STRIDE
1:      lw      t0, MAGIC(s2)
        li      t1, VIRT_MAGIC
        bne     t0, t1, 2f
        lw      t0, VERSION(s2)
        li      t1, 2
        bne     t0, t1, 2f
        lw      t0, DEVICE_ID(s2)
        li      t1, ENTROPY_ID
        beq     t0, t1, 3f
2:      li      t1, STRIDE
        add     s2, s2, t1
        addi    s0, s0, 1
        bltu    s2, t2, 1b
        la      a0, msg_norng
        call    puts
        li      a0, 2
        j       fail
3:      ret

/* setup: as guests/virtio-irq's (reset, rings cleared, ACK, DRIVER, VERSION_1 only,
 * FEATURES_OK read back, queue 0 of 8, DRIVER_OK). Fails 3. */
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
        sw      zero, DRV_FEAT_SEL(s2)
        sw      zero, DRV_FEATURES(s2)
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
        call    puts
        li      a0, 3
        j       fail

/* fail(a0 = code): "intcount: FAIL", poweroff with (code << 16) | FAIL. */
fail:
        csrw    mie, zero
        mv      s3, a0
        la      a0, msg_fail
        call    puts
        slli    a0, s3, 16
        li      t1, TEST_FAIL
        or      a0, a0, t1
        li      t0, SIFIVE_TEST
        sw      a0, 0(t0)
1:      j       1b

/* The trap handler: machine external (claim, InterruptStatus, InterruptACK, complete) or
 * machine timer (the watchdog: parked, recorded). Anything else fails 5. */
        .balign 4
trap:
        addi    sp, sp, -32
        sd      ra, 0(sp)
        sd      a0, 8(sp)
        sd      t0, 16(sp)
        sd      t1, 24(sp)
        csrr    t0, mcause
        bgez    t0, unexpected          /* bit 63 clear: an exception */
        slli    t0, t0, 1
        srli    t0, t0, 1
        li      t1, 11
        beq     t0, t1, on_external
        li      t1, 7
        bne     t0, t1, unexpected
        li      t0, CLINT_MTIMECMP      /* the watchdog: MTIP low again */
        li      t1, -1
        sd      t1, 0(t0)
        li      t0, 1
        sd      t0, SEEN_TIMEOUT(s9)
        j       trap_done
on_external:
        li      t0, PLIC_CLAIM0
        lw      a0, 0(t0)               /* claim */
        beqz    a0, spurious
        lw      t1, INT_STATUS(s2)
        sw      t1, INT_ACK(s2)         /* the line drops once nothing is left set */
        sw      a0, 0(t0)               /* complete */
        bne     a0, s0, spurious        /* not our source (nothing else is enabled) */
        beqz    t1, spurious            /* the line was up with nothing to say */
        ld      t0, SEEN_COUNT(s9)
        addi    t0, t0, 1
        sd      t0, SEEN_COUNT(s9)
        j       trap_done
spurious:
        ld      t0, SEEN_SPURIOUS(s9)
        addi    t0, t0, 1
        sd      t0, SEEN_SPURIOUS(s9)
trap_done:
        ld      ra, 0(sp)
        ld      a0, 8(sp)
        ld      t0, 16(sp)
        ld      t1, 24(sp)
        addi    sp, sp, 32
        mret
unexpected:
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
key_rounds:         .asciz "intcount.rounds="
msg_found:          .asciz "intcount: virtio-rng at "
msg_source:         .asciz ", PLIC source "
msg_requests_start: .asciz " requests\r\n"
msg_comma:          .asciz ", "
msg_prefix:         .asciz "intcount: "
msg_interrupts:     .asciz " interrupts\r\n"
msg_round:          .asciz "intcount: round "
msg_lost_irq:       .asciz " lost its interrupt\r\n"
msg_never:          .asciz " never completed\r\n"
msg_requests:       .asciz " requests, "
msg_interrupts_c:   .asciz " interrupts, "
msg_lost:           .asciz " lost, "
msg_spurious:       .asciz " spurious, longest wait "
msg_ms:             .asciz " ms\r\n"
msg_pass:           .asciz "intcount: pass\r\n"
msg_fail:           .asciz "intcount: FAIL\r\n"
msg_norng:          .asciz "intcount: no virtio-rng in virtio-mmio slots 0..7\r\n"
msg_refused:        .asciz "intcount: device setup refused\r\n"
msg_trap:           .asciz "intcount: unexpected trap mcause="
msg_mepc:           .asciz " mepc="
msg_mtval:          .asciz " mtval="
msg_crlf:           .asciz "\r\n"

        .section .bss
        .balign 16
seen:   .space 24
stack:  .space 1024
stack_top:
