/*
 * posted: the stores Splitvisor posts instead of exiting (coalesced MMIO, doorbells), and
 * the order they must keep. RV64I only, no CSRs. Entered at 0x80000000 in M-mode.
 *
 * 1. Divisor latch: LCR.DLAB=1, then 2,049 1-byte stores at offset 0 (DLL, the offset of
 *    THR) without a read in between, more than the cpu's ring holds (it fills, and the
 *    store that finds it full exits carrying it); then a read of DLL must return the last
 *    one: posted stores are applied, in order, before the next exit. The volume goes to
 *    the divisor, not the console: QEMU's -nographic console drops bytes of a fast burst
 *    once its stdin is closed, which would make the reference flaky.
 * 2. Loopback (MCR.LOOP, FIFO on): three bytes stored to THR come back on RBR, in order,
 *    and LSR.DR says so: the read sees every store before it.
 * 3. 4 lines (264 bytes) to THR, as a 16550A driver with its FIFO on sends (Linux's
 *    8250 does): wait for LSR.THRE (FIFO empty), then up to 16 bytes without polling.
 * 4. A QueueNotify store (4 bytes at +0x050) to virtio-mmio slots 0 and 7 (empty on QEMU
 *    and on Splitvisor: the write is ignored, but it is a doorbell).
 * 5. "posted: ok", then poweroff with pass. A failed check powers off with fail code 2
 *    (divisor) or 3 (loopback) and prints nothing more.
 */
        .equ UART0,       0x10000000
        .equ THR,         0          /* DLL when LCR.DLAB=1 */
        .equ IER,         1          /* DLM when LCR.DLAB=1 */
        .equ FCR,         2
        .equ LCR,         3
        .equ MCR,         4
        .equ LSR,         5
        .equ LCR_DLAB,    0x80
        .equ LCR_8N1,     0x03
        .equ MCR_OUT2,    0x08
        .equ MCR_LOOP,    0x10
        .equ FCR_ON,      0x07       /* FIFO enable, clear receive and transmit FIFOs */
        .equ LSR_DR,      0x01
        .equ LSR_THRE,    0x20
        .equ VIRTIO0,     0x10001000
        .equ VIRTIO7,     0x10008000
        .equ QUEUE_NOTIFY, 0x050
        .equ SIFIVE_TEST, 0x100000
        .equ TEST_PASS,   0x5555
        .equ TEST_FAIL,   0x3333
        .equ LINES,       4

        .section .text.start, "ax"
        .globl _start
_start:
        li      s1, UART0

        /* 1. divisor latch through offset 0: 2,048 values, then the real one */
        li      t0, LCR_DLAB | LCR_8N1
        sb      t0, LCR(s1)
        li      t2, 2048
7:      sb      t2, THR(s1)             /* DLL: posted */
        addi    t2, t2, -1
        bnez    t2, 7b
        li      t0, 0x0c                /* 9600 baud at 1.8432 MHz */
        sb      t0, THR(s1)             /* DLL: posted */
        sb      zero, IER(s1)           /* DLM */
        lbu     t1, THR(s1)             /* DLL again: an exit, after the posted store */
        li      t0, LCR_8N1
        sb      t0, LCR(s1)
        li      t0, 0x0c
        li      a0, 2
        bne     t1, t0, fail

        /* 2. loopback: THR -> RBR */
        li      t0, FCR_ON
        sb      t0, FCR(s1)
        li      t0, MCR_LOOP | MCR_OUT2
        sb      t0, MCR(s1)
        li      t0, 'x'
        sb      t0, THR(s1)
        li      t0, 'y'
        sb      t0, THR(s1)
        li      t0, 'z'
        sb      t0, THR(s1)
        li      a0, 3
        lbu     t1, LSR(s1)
        andi    t1, t1, LSR_DR
        beqz    t1, fail
        li      t0, 'x'
        lbu     t1, THR(s1)
        bne     t1, t0, fail
        li      t0, 'y'
        lbu     t1, THR(s1)
        bne     t1, t0, fail
        li      t0, 'z'
        lbu     t1, THR(s1)
        bne     t1, t0, fail
        lbu     t1, LSR(s1)
        andi    t1, t1, LSR_DR
        bnez    t1, fail
        li      t0, MCR_OUT2
        sb      t0, MCR(s1)

        /* 3. the lines: "NN" + the body, for NN = 00..03, 16 bytes per LSR.THRE */
        li      s3, 0                   /* bytes the transmit FIFO still takes */
        li      s2, 0                   /* line number */
line:
        li      t0, 10
        li      t1, '0'
        mv      t2, s2
1:      blt     t2, t0, 2f              /* t1 = '0' + tens, t2 = ones */
        sub     t2, t2, t0
        addi    t1, t1, 1
        j       1b
2:      mv      a0, t1
        jal     t6, emit
        addi    a0, t2, '0'
        jal     t6, emit
        la      a0, body
        jal     ra, puts
        addi    s2, s2, 1
        li      t0, LINES
        blt     s2, t0, line

        /* 4. doorbells: queue 0 of slot 0, queue 1 of slot 7 */
        li      t0, VIRTIO0
        sw      zero, QUEUE_NOTIFY(t0)
        li      t0, VIRTIO7
        li      t1, 1
        sw      t1, QUEUE_NOTIFY(t0)

        /* 5. done */
        la      a0, ok_msg
        jal     ra, puts
        li      t0, SIFIVE_TEST
        li      t1, TEST_PASS
        sw      t1, 0(t0)
3:      j       3b

/* fail(a0 = code): poweroff with (code << 16) | FAIL */
fail:
        slli    a0, a0, 16
        li      t1, TEST_FAIL
        or      a0, a0, t1
        li      t0, SIFIVE_TEST
        sw      a0, 0(t0)
4:      j       4b

/* emit(a0 = byte), return address in t6: when the FIFO budget (s3) is spent, wait for
 * LSR.THRE (transmit FIFO empty) and take 16 more. Uses t3. */
emit:
        bnez    s3, 8f
9:      lbu     t3, LSR(s1)
        andi    t3, t3, LSR_THRE
        beqz    t3, 9b
        li      s3, 16
8:      sb      a0, THR(s1)
        addi    s3, s3, -1
        jr      t6

/* puts(a0 = NUL-terminated string) through emit. Uses t0, t1, t3, t6. */
puts:
        mv      t1, a0
5:      lbu     a0, 0(t1)
        beqz    a0, 6f
        jal     t6, emit
        addi    t1, t1, 1
        j       5b
6:      ret

        .section .rodata
body:   .asciz " the quick brown fox jumps over the lazy dog 0123456789 ABCDEF\r\n"
ok_msg: .asciz "posted: ok\r\n"
