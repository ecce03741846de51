/*
 * virtio-irq: virtio completions arrive as interrupts, end to end. RV64I + Zicsr, M-mode,
 * no firmware. The device is the virtio-rng in virtio-mmio slot 7 (0x10008000, PLIC
 * source 8: Splitvisor's `rng: true`, QEMU's first -device virtio-rng-device).
 *
 * 1. Magic, version and device id, printed; anything but "virt", 2, 4 fails with code 2.
 * 2. Setup as guests/virtio-hostile's honest path (virtio 1.2 §3.1.1): reset, ACKNOWLEDGE,
 *    DRIVER, VERSION_1 only, FEATURES_OK read back, queue 0 of 8 entries, DRIVER_OK.
 *    Setup that is refused fails with code 3.
 * 3. PLIC source 8 for context 0 (hart 0, M-mode): priority 1, enable bit 8, threshold 0;
 *    mie.MEIE (and mie.MTIE for the deadline below), mtvec = trap.
 * 4. Three rounds: a 16-byte device-writable buffer posted, a notify, then WFI until the
 *    handler has taken a used-buffer interrupt, bounded by a CLINT deadline (mtimecmp one
 *    second ahead). mstatus.MIE is set only between WFIs, so an interrupt that arrives
 *    between the check and the WFI still wakes it. Each round prints
 *    "irq: source=8 status=0x1 used=<used.idx> len=<used len>" and the PLIC pending bit
 *    of source 8 as the handler read it after its complete ("line low after ACK: pending=0":
 *    the ACK dropped the line). No interrupt within the second: what the device and the
 *    PLIC show, and fail with code 4.
 * 5. The handler claims, reads InterruptStatus, writes it to InterruptACK, completes the
 *    claim, reads the pending bit, and records all of it. A claim of 0 or an InterruptStatus
 *    of 0 is counted as spurious; the count is printed before the poweroff with pass.
 *    Any exception or unexpected interrupt prints "unexpected trap" and fails with code 5.
 */
        .equ UART0,         0x10000000
        .equ UART_THR,      0
        .equ UART_LSR,      5
        .equ LSR_THRE,      0x20
        .equ CLINT_MTIMECMP, 0x2004000
        .equ CLINT_MTIME,   0x200bff8
        .equ PLIC_PRIO8,    0x0c000020   /* priority of source 8 */
        .equ PLIC_PENDING0, 0x0c001000   /* pending bits 0..31 */
        .equ PLIC_ENABLE0,  0x0c002000   /* context 0 enable bits 0..31 */
        .equ PLIC_THRESH0,  0x0c200000
        .equ PLIC_CLAIM0,   0x0c200004
        .equ SOURCE,        8
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

        /* Rings and the buffer, 1 MiB into RAM (inside 64 MiB and QEMU's default 128 MiB). */
        .equ RING,          0x80100000
        .equ DESC,          RING            /* 8 x 16 bytes */
        .equ AVAIL,         RING + 0x100    /* flags, idx, ring[8], used_event */
        .equ USED,          RING + 0x200    /* flags, idx, ring[8] of {id, len} */
        .equ BUF,           RING + 0x400
        .equ RING_BYTES,    0x800
        .equ BUF_LEN,       16
        .equ QSIZE,         8
        .equ ROUNDS,        3

        .equ WAIT_TICKS,    10000000        /* 1 s of the 10 MHz timebase */
        .equ POLL_CAP,      10000000

        /* What the handler records (offsets into `seen`). */
        .equ SEEN_COUNT,    0               /* used-buffer interrupts taken */
        .equ SEEN_SOURCE,   8               /* the last claim */
        .equ SEEN_STATUS,   16              /* InterruptStatus read under it */
        .equ SEEN_PENDING,  24              /* PLIC pending bit 8 after the complete */
        .equ SEEN_SPURIOUS, 32              /* claims of 0, or InterruptStatus 0 */
        .equ SEEN_TIMEOUT,  40              /* the deadline passed */

        .section .text.start, "ax"
        .globl _start
_start:
        la      sp, stack_top
        li      s1, UART0
        li      s2, VIRTIO7
        la      s9, seen
        la      t0, trap
        csrw    mtvec, t0
        la      a0, msg_banner
        call    puts

        /* 1. who is there */
        call    virtio_identify

        /* 2. the device, as virtio-hostile's honest path sets it up */
        call    setup

        /* 3. PLIC source 8 to hart 0's M-mode context; the timer parked */
        li      t0, CLINT_MTIMECMP
        li      t1, -1
        sd      t1, 0(t0)
        li      t0, PLIC_PRIO8
        li      t1, 1
        sw      t1, 0(t0)
        li      t0, PLIC_ENABLE0
        li      t1, 1 << SOURCE
        sw      t1, 0(t0)
        li      t0, PLIC_THRESH0
        sw      zero, 0(t0)
        li      t0, 0x880               /* mie.MEIE | mie.MTIE */
        csrw    mie, t0

        /* 4. three requests, each completed by an interrupt */
        li      s3, 0                   /* rounds done */
round:
        addi    s3, s3, 1
        sd      zero, SEEN_COUNT(s9)
        sd      zero, SEEN_TIMEOUT(s9)
        li      t0, CLINT_MTIME         /* the deadline: one second from now */
        ld      t1, 0(t0)
        li      t2, WAIT_TICKS
        add     t1, t1, t2
        li      t0, CLINT_MTIMECMP
        sd      t1, 0(t0)
        call    post
        li      t3, POLL_CAP            /* should WFI return for no reason, for ever */
1:      ld      t0, SEEN_COUNT(s9)
        bnez    t0, 2f
        ld      t0, SEEN_TIMEOUT(s9)
        bnez    t0, timeout
        addi    t3, t3, -1
        beqz    t3, timeout
        wfi
        csrsi   mstatus, 8              /* take what woke us ... */
        csrci   mstatus, 8              /* ... and only here */
        j       1b
2:      li      t0, CLINT_MTIMECMP      /* park the timer */
        li      t1, -1
        sd      t1, 0(t0)
        call    report
        li      t0, ROUNDS
        bltu    s3, t0, round

        /* 5. what else came */
        la      a0, msg_spurious
        call    puts
        ld      a0, SEEN_SPURIOUS(s9)
        call    putdec
        la      a0, msg_crlf
        call    puts
        csrw    mie, zero
        sw      zero, STATUS(s2)        /* leave the device reset */
        la      a0, msg_done
        call    puts
        li      t0, SIFIVE_TEST
        li      t1, TEST_PASS
        sw      t1, 0(t0)
3:      j       3b

/* No interrupt by the deadline: what the device, the ring and the PLIC show; fail 4. */
timeout:
        la      a0, msg_timeout
        call    puts
        lw      a0, INT_STATUS(s2)
        li      a1, 1
        call    puthex
        la      a0, msg_used
        call    puts
        li      t0, USED
        lhu     a0, 2(t0)
        call    putdec
        la      a0, msg_plic_pending
        call    puts
        li      t0, PLIC_PENDING0
        lw      a0, 0(t0)
        srli    a0, a0, SOURCE
        andi    a0, a0, 1
        call    putdec
        la      a0, msg_crlf
        call    puts
        li      a0, 4
        j       fail

/* report: "irq: source=<s> status=0x<st> used=<used.idx> len=<len>" and the pending line. */
report:
        addi    sp, sp, -16
        sd      ra, 0(sp)
        la      a0, msg_irq
        call    puts
        ld      a0, SEEN_SOURCE(s9)
        call    putdec
        la      a0, msg_status
        call    puts
        ld      a0, SEEN_STATUS(s9)
        li      a1, 1
        call    puthex
        la      a0, msg_used
        call    puts
        fence
        li      t4, USED
        lhu     s4, 2(t4)
        mv      a0, s4
        call    putdec
        la      a0, msg_len
        call    puts
        addi    t0, s4, -1
        andi    t0, t0, QSIZE - 1
        slli    t0, t0, 3
        add     t0, t0, t4
        lwu     a0, 8(t0)               /* used.ring[idx - 1].len */
        call    putdec
        la      a0, msg_crlf
        call    puts
        la      a0, msg_low
        call    puts
        ld      a0, SEEN_PENDING(s9)
        call    putdec
        la      a0, msg_crlf
        call    puts
        ld      ra, 0(sp)
        addi    sp, sp, 16
        ret

/* post: desc 0 = {BUF, 16, WRITE}, avail.ring[(s3 - 1) % 8] = 0, avail.idx = s3, notify. */
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
        sw      zero, QUEUE_NOTIFY(s2)
        ret

/* setup: reset, clear the rings, ACK, DRIVER, VERSION_1 only, FEATURES_OK read back,
 * queue 0 of 8 at DESC/AVAIL/USED, QueueReady, DRIVER_OK. Fails with code 3. */
setup:
        sw      zero, STATUS(s2)
        li      t1, POLL_CAP
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
        li      a0, 3
        j       fail

/* fail(a0 = code): "fail <code>", poweroff with (code << 16) | FAIL. */
fail:
        csrw    mie, zero
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
4:      j       4b

/* The trap handler: machine external (claim, InterruptStatus, InterruptACK, complete,
 * pending) or machine timer (the deadline: timer parked, timeout recorded). */
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
        li      t0, CLINT_MTIMECMP      /* the deadline: MTIP low again */
        li      t1, -1
        sd      t1, 0(t0)
        li      t0, 1
        sd      t0, SEEN_TIMEOUT(s9)
        j       trap_done
on_external:
        li      t0, PLIC_CLAIM0
        lw      a0, 0(t0)               /* claim */
        beqz    a0, spurious
        sd      a0, SEEN_SOURCE(s9)
        lw      t1, INT_STATUS(s2)
        sw      t1, INT_ACK(s2)         /* the line drops once nothing is left set */
        sw      a0, 0(t0)               /* complete */
        beqz    t1, spurious            /* the line was up with nothing to say */
        sd      t1, SEEN_STATUS(s9)
        li      t0, PLIC_PENDING0
        lw      t0, 0(t0)
        srli    t0, t0, SOURCE
        andi    t0, t0, 1
        sd      t0, SEEN_PENDING(s9)
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
        la      a0, msg_unexpected
        call    puts
        li      a0, 5
        j       fail

#include "../console.inc"
#include "../virtio.inc"

        .section .rodata
msg_banner:       .asciz "virtio-irq: virtio-rng at 0x10008000, PLIC source 8\r\n"
msg_magic:        .asciz "magic="
msg_version:      .asciz " version="
msg_device:       .asciz " device="
msg_crlf:         .asciz "\r\n"
msg_irq:          .asciz "irq: source="
msg_status:       .asciz " status="
msg_used:         .asciz " used="
msg_len:          .asciz " len="
msg_low:          .asciz "line low after ACK: pending="
msg_timeout:      .asciz "no interrupt within 1 s: InterruptStatus="
msg_plic_pending: .asciz " PLIC pending="
msg_spurious:     .asciz "spurious interrupts: "
msg_done:         .asciz "virtio-irq: done\r\n"
msg_unexpected:   .asciz "unexpected trap\r\n"
msg_fail:         .asciz "fail "

        .section .bss
        .balign 16
seen:   .space 48
stack:  .space 1024
stack_top:
