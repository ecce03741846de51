// Device state a backend saves in a shared store (NATS KV) so that another process can take
// the device over: reading it back is parsing input. Helpers that refuse a record naming
// the field and the value, shared by the device models that save state.

/** A record that cannot be taken, with the field and value that made it so. */
export class SavedStateError extends Error {
  constructor(
    readonly field: string,
    readonly value: unknown,
    why: string,
  ) {
    super(`saved state: ${field}=${showValue(value)}: ${why}`);
    this.name = 'SavedStateError';
  }
}

/** A value as a refusal shows it: JSON, cut at 60 characters. */
export function showValue(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** JSON text as an object, or a SavedStateError. */
export function parseRecord(text: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new SavedStateError('(record)', text, `not JSON: ${(e as Error).message}`);
  }
  return savedObject(raw, '(record)');
}

export function savedObject(v: unknown, field: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new SavedStateError(field, v, 'must be an object');
  return v as Record<string, unknown>;
}

/** o[key] as an integer in [0, max], or a SavedStateError naming `prefix + key`. */
export function savedUint(o: Record<string, unknown>, key: string, max: number, prefix = ''): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) throw new SavedStateError(`${prefix}${key}`, v, `must be an integer 0..${max}`);
  return v;
}
