/*
 * The console: an interrupt-driven ns16550a (receive and transmit rings, PLIC source from the
 * DTB), and the machine's end (pv->system_reset, the sifive test device for a failure code).
 * The FIFO is on, so one THRE interrupt lets 16 bytes go without reading LSR for each: on
 * Splitvisor every LSR read is an exit, a THR write is posted.
 */
#include "kernel.h"

#define RBR 0
#define THR 0
#define IER 1
#define IIR 2
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define IER_RDI 0x01
#define IER_THRI 0x02
#define FIFO_DEPTH 16

static volatile uint8_t *uart;
static char txbuf[4096];
static uint32_t tx_head, tx_tail; /* free-running: bytes in ring = head - tail */
static char rxbuf[256];
static uint32_t rx_head, rx_tail;
static int tx_busy; /* bytes were written and a THRE interrupt will follow */
static int ready;

static uint8_t rd(int r) { return uart[r]; }
static void wr(int r, uint8_t v) { uart[r] = v; }

void console_init(void) {
  uart = (volatile uint8_t *)boot.uart.base;
  wr(IER, 0);
  wr(FCR, 0x07); /* FIFO on, both cleared */
  wr(LCR, 0x03); /* 8N1; the divisor is the firmware's */
  wr(MCR, 0x0b); /* DTR, RTS, OUT2 (the interrupt line on a PC; harmless here) */
  ready = 1;
}

/* Called with the UART's interrupt enabled in the PLIC (after plic_init). */
void console_enable_irq(void) {
  plic_enable(boot.uart.irq);
  wr(IER, IER_RDI | IER_THRI);
}

/* Up to FIFO_DEPTH bytes into an empty transmitter. */
static void tx_start(void) {
  if (tx_head == tx_tail) {
    tx_busy = 0;
    return;
  }
  if (!(rd(LSR) & LSR_THRE)) {
    tx_busy = 1;
    return;
  }
  for (int i = 0; i < FIFO_DEPTH && tx_head != tx_tail; i++) wr(THR, (uint8_t)txbuf[tx_tail++ % sizeof txbuf]);
  tx_busy = 1;
  wakeup(&tx_tail);
}

static void poll_out(char c) {
  while (!(rd(LSR) & LSR_THRE)) {
  }
  wr(THR, (uint8_t)c);
}

void console_flush_polling(void) {
  if (!ready) return;
  while (tx_head != tx_tail) poll_out(txbuf[tx_tail++ % sizeof txbuf]);
  while (!(rd(LSR) & 0x40)) { /* TEMT: the last byte has left */
  }
}

void console_putc(char c) {
  if (!ready) return;
  if (tx_head - tx_tail == sizeof txbuf) console_flush_polling(); /* full: the kernel is ahead of the wire */
  txbuf[tx_head++ % sizeof txbuf] = c;
  if (!tx_busy) tx_start();
}

void console_write(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) console_putc(s[i]);
}

void console_intr(void) {
  (void)rd(IIR); /* acknowledges a THRE interrupt */
  uint8_t lsr;
  while ((lsr = rd(LSR)) & LSR_DR) {
    char c = (char)rd(RBR);
    if (rx_head - rx_tail < sizeof rxbuf) rxbuf[rx_head++ % sizeof rxbuf] = c;
  }
  if (rx_head != rx_tail) wakeup(&rx_head);
  if (lsr & LSR_THRE) tx_start();
}

int console_read(char *buf, size_t n) {
  while (rx_head == rx_tail) {
    sleep_on(&rx_head);
    if (myproc() && myproc()->killed) return -1;
  }
  size_t i = 0;
  while (i < n && rx_head != rx_tail) buf[i++] = rxbuf[rx_tail++ % sizeof rxbuf];
  return (int)i;
}

void console_drain(void) {
  while (tx_head != tx_tail) sleep_on(&tx_tail);
}

uint64_t console_lsr(void) { return rd(LSR); }

void machine_exit(int code) {
  pv->csr_clear(PV_SSTATUS, 2); /* SIE off: nothing more runs */
  console_flush_polling();
  if (code != 0 && boot.test.base) /* QEMU and Splitvisor: (code << 16) | 0x3333 is "fail, code" */
    *(volatile uint32_t *)boot.test.base = ((uint32_t)code << 16) | 0x3333;
  pv->system_reset(code ? 1 : 0);
  for (;;) pv->wfi();
}
