/*
 * virtio-hostile: a driver that lies, against the virtio-rng device in virtio-mmio slot 7
 * (0x10008000: Splitvisor's `rng: true`, and QEMU's first -device virtio-rng-device).
 * RV64I only, M-mode, no firmware, no interrupts (the device's PLIC line is never enabled).
 *
 * 1. Magic, version and device id, printed; anything but "virt", 2, 4 fails with code 2.
 * 2. The honest path (virtio 1.2 §3.1.1): reset, ACKNOWLEDGE, DRIVER, VERSION_1 only
 *    (DriverFeatures word 1 = 1, word 0 = 0), FEATURES_OK read back, queue 0 with 8
 *    entries, QueueReady, DRIVER_OK; one 16-byte device-writable buffer, a notify, and
 *    used.idx polled (bounded) for "ok: <used len>".
 * 3. Five hostile cases, each after a reset and a fresh setup; each prints Status after
 *    polling it (bounded: one second of mtime) for DEVICE_NEEDS_RESET (0x40):
 *    (a) desc 0 with NEXT pointing at itself, (b) a buffer at 0x400000000000, far past RAM,
 *    (c) avail.idx = 100 on a queue of 8, (d) QueueNum 6 then QueueReady (its read-back
 *    printed) then DRIVER_OK, (e) a notify of queue 3, which the device does not have;
 *    after (e) the honest request again, which must still work.
 * 4. A last reset, "virtio-hostile: done", poweroff with pass. Setup that fails (reset not
 *    reading 0, FEATURES_OK refused, no VERSION_1, a queue too small) fails with code 3.
 */
        .equ UART0,         0x10000000
        .equ UART_THR,      0
        .equ UART_LSR,      5
        .equ LSR_THRE,      0x20
        .equ CLINT_MTIME,   0x200bff8
        .equ SIFIVE_TEST,   0x100000
        .equ TEST_PASS,     0x5555
        .equ TEST_FAIL,     0x3333

        .equ VIRTIO7,       0x10008000
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

        .equ VIRT_MAGIC,    0x74726976   /* "virt" */
        .equ ENTROPY_ID,    4
        .equ S_ACK,         0x01
        .equ S_DRIVER,      0x02
        .equ S_DRIVER_OK,   0x04
        .equ S_FEATURES_OK, 0x08
        .equ S_NEEDS_RESET, 0x40
        .equ F_NEXT,        1
        .equ F_WRITE,       2

        /* Rings and the buffer, 1 MiB into RAM (inside 64 MiB and QEMU's default 128 MiB). */
        .equ RING,          0x80100000
        .equ DESC,          RING            /* 8 x 16 bytes, 16-aligned */
        .equ AVAIL,         RING + 0x100    /* flags, idx, ring[8], used_event */
        .equ USED,          RING + 0x200    /* flags, idx, ring[8] of {id, len} */
        .equ BUF,           RING + 0x400
        .equ RING_BYTES,    0x800
        .equ BUF_LEN,       16
        .equ FAR_AWAY,      0x400000000000  /* no RAM, no device: 64 TiB */

        .equ WAIT_TICKS,    10000000        /* 1 s of the 10 MHz timebase */
        .equ POLL_CAP,      10000000        /* a second bound, should mtime stand still */

        .section .text.start, "ax"
        .globl _start
_start:
        la      sp, stack_top
        li      s1, UART0
        li      s2, VIRTIO7
        la      a0, msg_banner
        call    puts

        /* 1. who is there */
        call    virtio_identify

        /* 2. the honest path */
        call    negotiate
        mv      s3, a0
        la      a0, msg_features
        call    puts
        mv      a0, s3
        call    put_status_line
        li      a0, 8
        call    queue_setup
        call    driver_ok
        call    honest_request

        /* 3a. a chain that loops: desc 0 -> desc 0 */
        call    setup8
        li      a0, BUF
        li      a1, F_WRITE | F_NEXT
        li      a2, 0
        li      a3, 1
        call    post
        la      a0, msg_loop
        call    report

        /* 3b. a buffer outside RAM */
        call    setup8
        li      a0, FAR_AWAY
        li      a1, F_WRITE
        li      a2, 0
        li      a3, 1
        call    post
        la      a0, msg_far
        call    report

        /* 3c. avail.idx 100 on a queue of 8 */
        call    setup8
        li      a0, BUF
        li      a1, F_WRITE
        li      a2, 0
        li      a3, 100
        call    post
        la      a0, msg_race
        call    report

        /* 3d. QueueNum 6: not a power of two (§2.7: a split queue's size is) */
        call    negotiate
        li      a0, 6
        call    queue_setup
        lw      s3, QUEUE_READY(s2)
        call    driver_ok
        la      a0, msg_num6
        call    puts
        mv      a0, s3
        call    putdec
        la      a0, msg_status
        call    report

        /* 3e. a doorbell for queue 3, then the honest request on queue 0 */
        call    setup8
        fence
        li      t0, 3
        sw      t0, QUEUE_NOTIFY(s2)
        la      a0, msg_notify3
        call    report
        call    honest_request

        /* 4. leave the device reset */
        call    reset_dev
        li      a0, 3
        bnez    a1, fail
        la      a0, msg_done
        call    puts
        li      t0, SIFIVE_TEST
        li      t1, TEST_PASS
        sw      t1, 0(t0)
1:      j       1b

/* fail(a0 = code): "fail <code>", poweroff with (code << 16) | FAIL. */
fail:
        mv      s3, a0
        la      a0, msg_fail
        call    puts
        mv      a0, s3
        call    putdec
        la      a0, msg_crlf
        call    puts
        slli    a0, s3, 16
        li      t1, TEST_FAIL
        or      a0, a0, t1
        li      t0, SIFIVE_TEST
        sw      a0, 0(t0)
2:      j       2b

/* reset_dev: Status = 0, polled until it reads 0 (bounded). a1 = what it last read. */
reset_dev:
        sw      zero, STATUS(s2)
        li      t1, POLL_CAP
1:      lw      a1, STATUS(s2)
        beqz    a1, 2f
        addi    t1, t1, -1
        bnez    t1, 1b
2:      ret

/* negotiate: reset, clear the rings, ACK, DRIVER, VERSION_1 only, FEATURES_OK read back.
 * a0 = Status read back. Fails with code 3 when a step is refused. */
negotiate:
        addi    sp, sp, -16
        sd      ra, 0(sp)
        call    reset_dev
        li      a0, 3
        bnez    a1, fail
        li      t0, RING
        li      t1, RING + RING_BYTES
1:      sd      zero, 0(t0)
        addi    t0, t0, 8
        bltu    t0, t1, 1b
        fence
        li      t0, S_ACK
        sw      t0, STATUS(s2)
        li      t0, S_ACK | S_DRIVER
        sw      t0, STATUS(s2)
        li      t0, 1
        sw      t0, DEV_FEAT_SEL(s2)
        lw      t1, DEV_FEATURES(s2)
        andi    t1, t1, 1               /* VIRTIO_F_VERSION_1 is bit 32: word 1, bit 0 */
        li      a0, 3
        beqz    t1, fail
        sw      zero, DRV_FEAT_SEL(s2)
        sw      zero, DRV_FEATURES(s2)
        li      t0, 1
        sw      t0, DRV_FEAT_SEL(s2)
        sw      t0, DRV_FEATURES(s2)
        li      t0, S_ACK | S_DRIVER | S_FEATURES_OK
        sw      t0, STATUS(s2)
        lw      t1, STATUS(s2)          /* §3.1.1: FEATURES_OK must still be set */
        andi    t0, t1, S_FEATURES_OK
        li      a0, 3
        beqz    t0, fail
        mv      a0, t1
        ld      ra, 0(sp)
        addi    sp, sp, 16
        ret

/* queue_setup(a0 = QueueNum): queue 0 at DESC/AVAIL/USED, then QueueReady = 1. */
queue_setup:
        sw      zero, QUEUE_SEL(s2)
        lw      t0, QUEUE_NUM_MAX(s2)
        li      t1, 8
        bgeu    t0, t1, 1f
        li      a0, 3
        j       fail
1:      sw      a0, QUEUE_NUM(s2)
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
        ret

driver_ok:
        li      t0, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK
        sw      t0, STATUS(s2)
        ret

/* setup8: negotiate, queue 0 of 8 entries, DRIVER_OK. */
setup8:
        addi    sp, sp, -16
        sd      ra, 0(sp)
        call    negotiate
        li      a0, 8
        call    queue_setup
        call    driver_ok
        ld      ra, 0(sp)
        addi    sp, sp, 16
        ret

/* post(a0 = buffer, a1 = flags, a2 = next, a3 = avail.idx): desc 0 = {a0, 16, a1, a2},
 * avail.ring[0] = 0, then avail.idx, then a notify of queue 0. */
post:
        li      t0, DESC
        sd      a0, 0(t0)
        li      t1, BUF_LEN
        sw      t1, 8(t0)
        sh      a1, 12(t0)
        sh      a2, 14(t0)
        li      t0, AVAIL
        sh      zero, 4(t0)
        fence   w, w                    /* §2.7.13: the ring entry before the idx */
        sh      a3, 2(t0)
        fence                           /* the idx before the doorbell */
        sw      zero, QUEUE_NOTIFY(s2)
        ret

/* honest_request: one 16-byte writable buffer, used.idx polled for 1 s; "ok: <len>". */
honest_request:
        addi    sp, sp, -16
        sd      ra, 0(sp)
        li      a0, BUF
        li      a1, F_WRITE
        li      a2, 0
        li      a3, 1
        call    post
        li      t0, CLINT_MTIME
        ld      t1, 0(t0)
        li      t2, WAIT_TICKS
        add     t1, t1, t2
        li      t3, POLL_CAP
        li      t4, USED
1:      fence
        lhu     t2, 2(t4)
        bnez    t2, 2f
        ld      t2, 0(t0)
        bgeu    t2, t1, 3f
        addi    t3, t3, -1
        bnez    t3, 1b
3:      la      a0, msg_no_used         /* no used entry: say so and go on */
        call    puts
        lw      a0, STATUS(s2)
        call    put_status_line
        j       4f
2:      fence
        lwu     t2, 8(t4)               /* used.ring[0].len */
        mv      s3, t2
        la      a0, msg_ok
        call    puts
        mv      a0, s3
        call    putdec
        la      a0, msg_crlf
        call    puts
4:      ld      ra, 0(sp)
        addi    sp, sp, 16
        ret

/* report(a0 = label): prints it, then Status once DEVICE_NEEDS_RESET is set or 1 s has
 * passed, whichever comes first. */
report:
        addi    sp, sp, -16
        sd      ra, 0(sp)
        call    puts
        li      t0, CLINT_MTIME
        ld      t1, 0(t0)
        li      t2, WAIT_TICKS
        add     t1, t1, t2
        li      t3, POLL_CAP
1:      lw      a0, STATUS(s2)
        andi    t2, a0, S_NEEDS_RESET
        bnez    t2, 2f
        ld      t2, 0(t0)
        bgeu    t2, t1, 2f
        addi    t3, t3, -1
        bnez    t3, 1b
2:      call    put_status_line
        ld      ra, 0(sp)
        addi    sp, sp, 16
        ret

/* put_status_line(a0): "0x<2 hex digits>\r\n". */
put_status_line:
        addi    sp, sp, -16
        sd      ra, 0(sp)
        li      a1, 2
        call    puthex
        la      a0, msg_crlf
        call    puts
        ld      ra, 0(sp)
        addi    sp, sp, 16
        ret

#include "../console.inc"
#include "../virtio.inc"

        .section .rodata
msg_banner:   .asciz "virtio-hostile: virtio-rng at 0x10008000\r\n"
msg_magic:    .asciz "magic="
msg_version:  .asciz " version="
msg_device:   .asciz " device="
msg_crlf:     .asciz "\r\n"
msg_features: .asciz "features VERSION_1 only, FEATURES_OK read back: status="
msg_ok:       .asciz "ok: "
msg_no_used:  .asciz "no used entry after 1 s: status="
msg_loop:     .asciz "(a) desc 0 chained to itself: status="
msg_far:      .asciz "(b) buffer at 0x400000000000, outside RAM: status="
msg_race:     .asciz "(c) avail.idx 100 on a queue of 8: status="
msg_num6:     .asciz "(d) QueueNum 6: QueueReady="
msg_status:   .asciz " status="
msg_notify3:  .asciz "(e) notify of queue 3, never set up: status="
msg_done:     .asciz "virtio-hostile: done\r\n"
msg_fail:     .asciz "fail "

        .section .bss
        .balign 16
stack:  .space 1024
stack_top:
