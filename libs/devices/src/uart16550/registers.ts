// ns16550a register map and bits (TI PC16550D datasheet, table 2 and section 8; the same
// names as Linux include/uapi/linux/serial_reg.h and QEMU hw/char/serial.c).

/** Register offsets (regshift 0: one byte apart, as on the QEMU virt machine). */
export const REG = {
  RBR_THR_DLL: 0, // read RBR / write THR; DLL when LCR.DLAB
  IER_DLM: 1, // IER; DLM when LCR.DLAB
  IIR_FCR: 2, // read IIR / write FCR
  LCR: 3,
  MCR: 4,
  LSR: 5,
  MSR: 6,
  SCR: 7,
} as const;
export const REGISTER_COUNT = 8;

export const IER_RDI = 0x01; // received data available
export const IER_THRI = 0x02; // transmitter holding register empty
export const IER_RLSI = 0x04; // receiver line status
export const IER_MSI = 0x08; // modem status
export const IER_MASK = 0x0f;

/** IIR interrupt ids, in the datasheet's priority order (table 4). */
export const IIR_NO_INT = 0x01;
export const IIR_RLSI = 0x06; // 1st: receiver line status (OE, PE, FE, BI)
export const IIR_RDI = 0x04; // 2nd: received data at or above the trigger level
export const IIR_CTI = 0x0c; // 2nd: character timeout (data below the trigger level)
export const IIR_THRI = 0x02; // 3rd: THR empty
export const IIR_MSI = 0x00; // 4th: modem status
export const IIR_FIFO_ENABLED = 0xc0;

export const FCR_FE = 0x01;
export const FCR_RFR = 0x02; // clear receive FIFO
export const FCR_XFR = 0x04; // clear transmit FIFO
export const FCR_STICKY = 0xc9; // FE, DMA mode, trigger level: the bits that persist
/** RX trigger level from FCR bits 7:6 (16550A: 1, 4, 8, 14 bytes). */
export const FCR_TRIGGER = [1, 4, 8, 14] as const;

export const LCR_DLAB = 0x80;

export const MCR_DTR = 0x01;
export const MCR_RTS = 0x02;
export const MCR_OUT1 = 0x04;
export const MCR_OUT2 = 0x08;
export const MCR_LOOP = 0x10;
export const MCR_MASK = 0x1f;

export const LSR_DR = 0x01;
export const LSR_OE = 0x02;
export const LSR_PE = 0x04;
export const LSR_FE = 0x08;
export const LSR_BI = 0x10;
export const LSR_THRE = 0x20;
export const LSR_TEMT = 0x40;
export const LSR_INT_ANY = LSR_OE | LSR_PE | LSR_FE | LSR_BI;

export const MSR_DCTS = 0x01;
export const MSR_DDSR = 0x02;
export const MSR_TERI = 0x04;
export const MSR_DDCD = 0x08;
export const MSR_ANY_DELTA = 0x0f;
export const MSR_CTS = 0x10;
export const MSR_DSR = 0x20;
export const MSR_RI = 0x40;
export const MSR_DCD = 0x80;

/** Divisor latch at reset (QEMU serial_reset: 0x0c, i.e. 9600 baud from a 1.8432 MHz clock). */
export const DIVISOR_RESET = 0x0c;
