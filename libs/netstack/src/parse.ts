// Every parser returns a value or says why not: a reason code (the key under which the drop
// is counted) and a detail naming the field and the value that was refused.
export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string; detail: string };

export function ok<T>(value: T): Parsed<T> {
  return { ok: true, value };
}

export function fail<T = never>(reason: string, detail: string): Parsed<T> {
  return { ok: false, reason, detail };
}

export function hex(n: number, digits = 4): string {
  return '0x' + n.toString(16).padStart(digits, '0');
}

/** A minimal logger shape; a pino Logger fits it. */
export interface NetLog {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}
