// misa (priv 1.12, 3.1.1): what this hart implements, fixed (writes are ignored). Kept
// apart from csr.ts so trap.ts and the extension engines can read it without an import
// cycle.

/** Extension bits (bit n = letter 'A' + n): I, S and U here; the engine of each
 *  unprivileged extension (M, A, F, D, C) adds its letter where it is implemented. */
export const MISA_LO = (1 << 8) | (1 << 18) | (1 << 20) | /* M, A, F, D, C */ (1 << 12) | (1 << 0) | (1 << 5) | (1 << 3) | (1 << 2);
/** misa.MXL = 2 (RV64) in bits 63:62. */
export const MISA_HI = 0x80000000 | 0;

const MISA_C = 1 << 2;

/** xepc and the targets of jumps are IALIGN-aligned: bit 1 is writable only with C
 *  (priv 3.1.14), bit 0 never. */
export const EPC_MASK = (MISA_LO & MISA_C) !== 0 ? ~1 : ~3;
