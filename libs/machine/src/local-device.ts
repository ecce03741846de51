// The shape every cpu-local device has (STYLE.md 1, as @splitvisor/devices' MmioDevice):
// offsets into its own window, never absolute addresses, and a small tagged result rather
// than an exception. Unlike an io-side device these run inside the vCPU's loop on every
// guest access, so data moves through the hart's own `out` words and lo/hi halves (the
// PhysBus shape of @splitvisor/riscv) and a successful access allocates nothing.
import { hex, type MmioOffset } from '@splitvisor/platform';

/** Sizes a guest access may have (RV64 lb/lh/lw/ld and their stores). */
export type LocalAccessSize = 1 | 2 | 4 | 8;

/** A refusal is what the guest sees as an access fault, as QEMU's MEMTX_DECODE_ERROR. */
export type LocalResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** The one success value: shared and frozen, so the hot path allocates nothing. */
export const LOCAL_OK: LocalResult = Object.freeze({ ok: true });

export interface LocalDevice {
  /** Short name for errors and counters (e.g. "clint"). */
  readonly name: string;
  /** Bytes of the window the device decodes; the machine table gives the base. */
  readonly size: number;
  /** Fills out[0] (low word) and out[1] (high word, 0 below 8 bytes), zero-extended. */
  read(offset: MmioOffset, size: LocalAccessSize, out: Int32Array): LocalResult;
  /** `lo`/`hi` hold the store data zero-extended from `size` bytes (hi is 0 below 8). */
  write(offset: MmioOffset, size: LocalAccessSize, lo: number, hi: number): LocalResult;
  /** Back to the power-on state, re-announcing every interrupt line it drives. */
  reset(): void;
}

export function refuse(device: string, kind: 'read' | 'write', offset: number, size: number, why: string): LocalResult {
  return { ok: false, reason: `${device}: ${size}-byte ${kind} at offset ${hex(offset)} refused: ${why}` };
}

/** Fills a read's result words; returns LOCAL_OK so a read can end in one statement. */
export function answer(out: Int32Array, lo: number, hi: number): LocalResult {
  out[0] = lo;
  out[1] = hi;
  return LOCAL_OK;
}
