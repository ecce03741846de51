// The memory logic's own errors. It knows nothing of gRPC (DESIGN.md, "Shape of the code"):
// each error says what kind of refusal it is, and the handlers turn the kind into a status.

export type MemErrorKind = 'invalid' | 'not-found' | 'exists' | 'exhausted';

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

const MIB = 1024 * 1024;

/** Bytes as MiB for messages: whole numbers plain, fractions to three places. */
export function mib(bytes: number): string {
  const m = bytes / MIB;
  return `${Number.isInteger(m) ? m : Number(m.toFixed(3))} MiB`;
}
