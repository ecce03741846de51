// The memory logic's own errors. It knows nothing of gRPC (DESIGN.md, "Shape of the code"):
// each error says what kind of refusal it is, and the handlers turn the kind into a status.

export type MemErrorKind = 'invalid' | 'not-found' | 'exists' | 'exhausted' | 'denied' | 'unavailable' | 'precondition';

export class MemError extends Error {
  constructor(
    readonly kind: MemErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'MemError';
  }
}

export const invalid = (msg: string) => new MemError('invalid', msg);
export const missing = (msg: string) => new MemError('not-found', msg);
export const exists = (msg: string) => new MemError('exists', msg);
export const exhausted = (msg: string) => new MemError('exhausted', msg);
/** The caller may not do this (a device not attached to the VM, no identity). */
export const denied = (msg: string) => new MemError('denied', msg);
/** Someone this call depends on did not answer (a holder's recall); retrying may work. */
export const unavailable = (msg: string) => new MemError('unavailable', msg);
/** The VM is not in a state that allows this (restore into a running VM). */
export const precondition = (msg: string) => new MemError('precondition', msg);

const MIB = 1024 * 1024;

/** Bytes as MiB for messages: whole numbers plain, fractions to three places. */
export function mib(bytes: number): string {
  const m = bytes / MIB;
  return `${Number.isInteger(m) ? m : Number(m.toFixed(3))} MiB`;
}
