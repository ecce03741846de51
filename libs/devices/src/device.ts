// The one interface every device model implements (STYLE.md 1). A device sees offsets into
// its own window, never absolute addresses, so the same model can sit at any base the
// machine table gives it. Results are values, not exceptions: a guest that pokes a
// register the wrong way is ordinary input on the hot path, not an error of ours.
import { hex, type MmioOffset } from '@splitvisor/platform';

/** Sizes a device is ever asked for; the bus splits 8-byte accesses into two 4-byte ones. */
export type DeviceAccessSize = 1 | 2 | 4;

/** A system event an access caused, as KVM_EXIT_SYSTEM_EVENT: the vCPU stops at once. */
export type SystemEvent =
  | { readonly kind: 'poweroff'; readonly exitCode: number; /** the value written */ readonly value: number }
  | { readonly kind: 'reset'; /** the value written */ readonly value: number };

export type DeviceResult = { readonly ok: true; readonly value: number; readonly event?: SystemEvent } | { readonly ok: false; readonly reason: string };

export interface MmioDevice {
  /** Short name for errors, logs and per-device counters (e.g. "uart0"). */
  readonly name: string;
  read(offset: MmioOffset, size: DeviceAccessSize): DeviceResult;
  /** `value` holds `size` bytes, zero-extended. Writes answer value 0. */
  write(offset: MmioOffset, size: DeviceAccessSize, value: number): DeviceResult;
  /** Back to the power-on state, as on a system reset. */
  reset(): void;
}

const OK_ZERO: DeviceResult = Object.freeze({ ok: true, value: 0 });

export function done(value = 0): DeviceResult {
  return value === 0 ? OK_ZERO : { ok: true, value };
}

export function refused(reason: string): DeviceResult {
  return { ok: false, reason };
}

/** "4-byte write of 0x12 at offset 0x3": the shape every refusal reason starts with. */
export function describeAccess(kind: 'read' | 'write', offset: number, size: number, value?: number): string {
  return kind === 'read' ? `${size}-byte read at offset ${hex(offset)}` : `${size}-byte write of ${hex(value ?? 0)} at offset ${hex(offset)}`;
}
