// The mip bits the CLINT and PLIC drive (privileged spec 1.12, 3.1.9). The same numbers as
// `Irq` in @splitvisor/riscv, repeated here on purpose: this lib does not depend on the
// hart engine, the cpu service connects the two (onIrq -> hart.setPendingInterrupt).
export const IRQ_M_SOFT = 3;
export const IRQ_M_TIMER = 7;
export const IRQ_S_EXT = 9;
export const IRQ_M_EXT = 11;

/** Callback of an interrupt source: drive `bit` of `hart`'s mip to `level`. */
export type HartIrqSink = (hart: number, bit: number, level: boolean) => void;
