/*
 * virtio-legacy: a driver that never accepts VIRTIO_F_VERSION_1, as drivers written for
 * QEMU's legacy virtio-mmio are (they write only the low feature word), against a modern
 * (version 2) transport. RV64I + Zicsr (mtime only), M-mode, no interrupts.
 *
 * 1. Every virtio-mmio slot 0..7 (0x10001000 + N * 0x1000): "slot N: device=D" (0: empty),
 *    so where each device sits is part of the output (QEMU's bus=virtio-mmio-bus.N,
 *    Splitvisor's slot: N). A slot that is not a version 2 transport fails with code 2.
 * 2. For every device found: reset, ACKNOWLEDGE, DRIVER, the low word of DeviceFeatures with
 *    xv6's mask (RO, SCSI, CONFIG_WCE, MQ, ANY_LAYOUT, INDIRECT_DESC, EVENT_IDX cleared)
 *    written back to DriverFeatures word 0 only, FEATURES_OK, Status read back and printed:
 *    0x0b when the device took the driver, 0x03 when it refused.
 * 3. Taken: queue 0 of 8 entries, DRIVER_OK, one request, used.idx polled for at most 10 s
 *    of mtime (fail code 3 when it does not move):
 *      virtio-rng (4): 16 device-writable bytes; prints the used length.
 *      virtio-blk (2): VIRTIO_BLK_T_IN of sector 0; prints the status byte, the used length
 *                      and the sector's first 16 bytes as two little-endian words.
 *      anything else:  no request.
 *    Then the device is reset (Status 0).
 * 4. "virtio-legacy: done", poweroff with pass.
 */
        .equ UART0,         0x10000000
        .equ UART_THR,      0
        .equ UART_LSR,      5
        .equ LSR_THRE,      0x20
        .equ CLINT_MTIME,   0x200bff8
        .equ SIFIVE_TEST,   0x100000
        .equ TEST_PASS,     0x5555
        .equ TEST_FAIL,     0x3333
        .equ WAIT_TICKS,    100000000    /* 10 s of the 10 MHz timebase */

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
        .equ BLOCK_ID,      2
        .equ ENTROPY_ID,    4
        .equ S_ACK,         0x01
        .equ S_DRIVER,      0x02
        .equ S_DRIVER_OK,   0x04
        .equ S_FEATURES_OK, 0x08
        .equ F_NEXT,        1
        .equ F_WRITE,       2
        /* xv6's virtio_disk_init mask: RO 5, SCSI 7, CONFIG_WCE 11, MQ 12, ANY_LAYOUT 27,
         * INDIRECT_DESC 28, EVENT_IDX 29 */
        .equ LEGACY_CLEAR,  (1 << 5) | (1 << 7) | (1 << 11) | (1 << 12) | (1 << 27) | (1 << 28) | (1 << 29)

        /* Rings and buffers, 1 MiB into RAM (inside 64 MiB and QEMU's default 128 MiB). */
        .equ RING,          0x80100000
        .equ DESC,          RING            /* 8 x 16 bytes */
        .equ AVAIL,         RING + 0x100    /* flags, idx, ring[8], used_event */
        .equ USED,          RING + 0x200    /* flags, idx, ring[8] of {id, len} */
        .equ HDR,           RING + 0x400    /* virtio_blk_req header, 16 bytes */
        .equ BLK_STATUS,    RING + 0x410
        .equ BUF,           RING + 0x600    /* 512 bytes */
        .equ RING_BYTES,    0x800
        .equ QSIZE,         8

        .section .text.start, "ax"
        .globl _start
_start:
        la      sp, stack_top
        li      s1, UART0
        la      a0, msg_hello
        call    puts

        /* 1. what sits in each slot */
        li      s9, 0                   /* slot */
1:      jal     ra, slot_base
        lw      t0, MAGIC(s2)
        li      t1, VIRT_MAGIC
        li      a0, 2
        bne     t0, t1, fail
        lw      t0, VERSION(s2)
        li      t1, 2
        bne     t0, t1, fail
        la      a0, msg_slot
        call    puts
        mv      a0, s9
        call    putdec
        la      a0, msg_device
        call    puts
        lw      a0, DEVICE_ID(s2)
        call    putdec
        la      a0, msg_crlf
        call    puts
        addi    s9, s9, 1
        li      t0, SLOTS
        blt     s9, t0, 1b

        /* 2 and 3. every device, as a legacy driver */
        li      s9, 0
2:      jal     ra, slot_base
        lw      s10, DEVICE_ID(s2)
        beqz    s10, 3f
        jal     ra, legacy_device
3:      addi    s9, s9, 1
        li      t0, SLOTS
        blt     s9, t0, 2b

        la      a0, msg_done
        call    puts
        li      t0, SIFIVE_TEST
        li      t1, TEST_PASS
        sw      t1, 0(t0)
4:      j       4b

/* s2 = the base of slot s9. Uses t0. */
slot_base:
        li      s2, VIRTIO0
        slli    t0, s9, 12              /* STRIDE = 0x1000 */
        add     s2, s2, t0
        ret

/* legacy_device: the device in slot s9 (base s2, id s10) as a driver without VERSION_1. */
legacy_device:
        addi    sp, sp, -16
        sd      ra, 0(sp)
        sw      zero, STATUS(s2)        /* reset */
        li      t0, S_ACK
        sw      t0, STATUS(s2)
        li      t0, S_ACK | S_DRIVER
        sw      t0, STATUS(s2)
        sw      zero, DEV_FEAT_SEL(s2)
        lw      t1, DEV_FEATURES(s2)
        li      t0, LEGACY_CLEAR
        not     t0, t0
        and     t1, t1, t0
        sw      zero, DRV_FEAT_SEL(s2)
        sw      t1, DRV_FEATURES(s2)    /* the low word only: bit 32 never written */
        li      t0, S_ACK | S_DRIVER | S_FEATURES_OK
        sw      t0, STATUS(s2)
        lw      s3, STATUS(s2)
        la      a0, msg_slot
        call    puts
        mv      a0, s9
        call    putdec
        la      a0, msg_features
        call    puts
        mv      a0, s3
        li      a1, 2
        call    puthex
        la      a0, msg_crlf
        call    puts
        andi    t0, s3, S_FEATURES_OK
        beqz    t0, 9f
        li      t0, ENTROPY_ID
        beq     s10, t0, 5f
        li      t0, BLOCK_ID
        bne     s10, t0, 9f

        /* virtio-blk: T_IN of sector 0: header (read), 512 bytes (write), status (write) */
        jal     ra, queue_setup
        li      t0, HDR
        sd      zero, 0(t0)             /* type 0 = T_IN, reserved 0 */
        sd      zero, 8(t0)             /* sector 0 */
        li      t1, 0xff
        li      t0, BLK_STATUS
        sb      t1, 0(t0)
        li      a0, 0
        li      a1, HDR
        li      a2, 16
        li      a3, F_NEXT
        li      a4, 1
        jal     ra, desc
        li      a0, 1
        li      a1, BUF
        li      a2, 512
        li      a3, F_NEXT | F_WRITE
        li      a4, 2
        jal     ra, desc
        li      a0, 2
        li      a1, BLK_STATUS
        li      a2, 1
        li      a3, F_WRITE
        li      a4, 0
        jal     ra, desc
        jal     ra, submit
        la      a0, msg_blk
        call    puts
        li      t0, BLK_STATUS
        lbu     a0, 0(t0)
        call    putdec
        la      a0, msg_len
        call    puts
        li      t0, USED + 8
        lwu     a0, 0(t0)
        call    putdec
        la      a0, msg_data
        call    puts
        li      t0, BUF
        ld      a0, 0(t0)
        li      a1, 16
        call    puthex
        la      a0, msg_space
        call    puts
        li      t0, BUF
        ld      a0, 8(t0)
        li      a1, 16
        call    puthex
        la      a0, msg_crlf
        call    puts
        j       9f

        /* virtio-rng: 16 device-writable bytes */
5:      jal     ra, queue_setup
        li      a0, 0
        li      a1, BUF
        li      a2, 16
        li      a3, F_WRITE
        li      a4, 0
        jal     ra, desc
        jal     ra, submit
        la      a0, msg_rng
        call    puts
        li      t0, USED + 8
        lwu     a0, 0(t0)
        call    putdec
        la      a0, msg_crlf
        call    puts

9:      sw      zero, STATUS(s2)        /* reset: the next device starts clean */
        ld      ra, 0(sp)
        addi    sp, sp, 16
        ret

/* queue_setup: rings zeroed, queue 0 of QSIZE at DESC/AVAIL/USED, ready, DRIVER_OK. */
queue_setup:
        li      t0, RING
        li      t1, RING + RING_BYTES
1:      sd      zero, 0(t0)
        addi    t0, t0, 8
        bltu    t0, t1, 1b
        sw      zero, QUEUE_SEL(s2)
        li      t0, QSIZE
        sw      t0, QUEUE_NUM(s2)
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

/* desc(a0 = index, a1 = addr, a2 = len, a3 = flags, a4 = next). Uses t0. */
desc:
        slli    t0, a0, 4
        li      a5, DESC
        add     t0, t0, a5
        sd      a1, 0(t0)
        sw      a2, 8(t0)
        sh      a3, 12(t0)
        sh      a4, 14(t0)
        ret

/* submit: descriptor 0 into avail ring slot 0, avail.idx = 1, notify queue 0, then poll
 * used.idx until 1 for at most 10 s of mtime (fail 3): QEMU answers at once, but a VM's
 * first DMA here waited over a second on a loaded host. Uses t0-t3. */
submit:
        li      t0, AVAIL
        sh      zero, 4(t0)             /* ring[0] = head 0 */
        fence   w, w
        li      t1, 1
        sh      t1, 2(t0)               /* idx */
        fence   w, w
        sw      zero, QUEUE_NOTIFY(s2)
        li      t2, CLINT_MTIME
        ld      t3, 0(t2)
        li      t0, WAIT_TICKS
        add     t3, t3, t0
1:      fence                           /* as a driver's barrier before it looks again */
        li      t0, USED
        lhu     t1, 2(t0)
        li      t0, 1
        beq     t1, t0, 2f
        ld      t0, 0(t2)
        bltu    t0, t3, 1b
        li      a0, 3
        j       fail
2:      fence   r, r
        ret

/* fail(a0 = code): "fail <code>", then poweroff with (code << 16) | 0x3333. */
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
1:      j       1b

#include "../console.inc"

        .section .rodata
msg_hello:      .asciz "virtio-legacy: drivers that write only the low feature word\r\n"
msg_slot:       .asciz "slot "
msg_device:     .asciz ": device="
msg_features:   .asciz ": FEATURES_OK without VERSION_1, status read back="
msg_blk:        .asciz "  blk read of sector 0: status="
msg_len:        .asciz " len="
msg_data:       .asciz " data="
msg_space:      .asciz " "
msg_rng:        .asciz "  rng: len="
msg_crlf:       .asciz "\r\n"
msg_done:       .asciz "virtio-legacy: done\r\n"
msg_fail:       .asciz "fail "

        .section .bss
        .balign 16
stack:  .space 1024
stack_top:
