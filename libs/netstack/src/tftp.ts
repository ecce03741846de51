// TFTP packets (RFC 1350) with option extension (RFC 2347): blksize (2348), timeout and
// tsize (2349), windowsize (RFC 7440).
import { fail, ok, type Parsed } from './parse.js';

export const TFTP_PORT = 69;
export const OP_RRQ = 1;
export const OP_WRQ = 2;
export const OP_DATA = 3;
export const OP_ACK = 4;
export const OP_ERROR = 5;
export const OP_OACK = 6;

export const ERR_UNDEFINED = 0;
export const ERR_NOT_FOUND = 1;
export const ERR_ACCESS = 2;
export const ERR_ILLEGAL = 4;
export const ERR_UNKNOWN_TID = 5;
export const ERR_OPTION = 8;

export type TftpPacket =
  | { op: typeof OP_RRQ | typeof OP_WRQ; filename: string; mode: string; options: Map<string, string> }
  | { op: typeof OP_DATA; block: number; data: Uint8Array }
  | { op: typeof OP_ACK; block: number }
  | { op: typeof OP_ERROR; code: number; message: string }
  | { op: typeof OP_OACK; options: Map<string, string> };

const decoder = new TextDecoder('latin1');
const encoder = new TextEncoder();

/** NUL-terminated strings from `at` to the end; fails on a missing final NUL. */
function strings(b: Uint8Array, at: number): string[] | undefined {
  const out: string[] = [];
  while (at < b.length) {
    const nul = b.indexOf(0, at);
    if (nul < 0) return undefined;
    out.push(decoder.decode(b.subarray(at, nul)));
    at = nul + 1;
  }
  return out;
}

function optionMap(words: string[]): Map<string, string> {
  // Option names are case-insensitive (RFC 2347); keep them lower-case.
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < words.length; i += 2) m.set(words[i]!.toLowerCase(), words[i + 1]!);
  return m;
}

export function parseTftp(b: Uint8Array): Parsed<TftpPacket> {
  if (b.length < 4) return fail('tftp.truncated', `tftp: length=${b.length} < 4`);
  const op = (b[0]! << 8) | b[1]!;
  const word = (b[2]! << 8) | b[3]!;
  switch (op) {
    case OP_RRQ:
    case OP_WRQ: {
      const words = strings(b, 2);
      if (words === undefined || words.length < 2) return fail('tftp.request', `tftp: op=${op} request without NUL-terminated filename and mode`);
      if (words.length % 2 !== 0) return fail('tftp.request', `tftp: option "${words[words.length - 1]}" has no value`);
      return ok({ op, filename: words[0]!, mode: words[1]!.toLowerCase(), options: optionMap(words.slice(2)) });
    }
    case OP_DATA:
      return ok({ op, block: word, data: b.subarray(4) });
    case OP_ACK:
      return ok({ op, block: word });
    case OP_ERROR: {
      const nul = b.indexOf(0, 4);
      return ok({ op, code: word, message: decoder.decode(b.subarray(4, nul < 0 ? b.length : nul)) });
    }
    case OP_OACK: {
      const words = strings(b, 2);
      if (words === undefined || words.length % 2 !== 0) return fail('tftp.oack', 'tftp: OACK options are not name/value pairs');
      return ok({ op, options: optionMap(words) });
    }
    default:
      return fail('tftp.opcode', `tftp: opcode=${op}`);
  }
}

function withHeader(op: number, word: number, body: Uint8Array): Uint8Array {
  const b = new Uint8Array(4 + body.length);
  b[0] = op >>> 8;
  b[1] = op & 0xff;
  b[2] = (word >>> 8) & 0xff;
  b[3] = word & 0xff;
  b.set(body, 4);
  return b;
}

function nulStrings(words: string[]): Uint8Array {
  const parts = words.map((w) => encoder.encode(w));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length + 1, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length + 1;
  }
  return out;
}

export function buildData(block: number, data: Uint8Array): Uint8Array {
  return withHeader(OP_DATA, block, data);
}

export function buildAck(block: number): Uint8Array {
  return withHeader(OP_ACK, block, new Uint8Array(0));
}

export function buildError(code: number, message: string): Uint8Array {
  return withHeader(OP_ERROR, code, nulStrings([message]));
}

export function buildOack(options: Map<string, string>): Uint8Array {
  const body = nulStrings([...options].flat());
  const b = new Uint8Array(2 + body.length);
  b[1] = OP_OACK;
  b.set(body, 2);
  return b;
}

export function buildRequest(op: typeof OP_RRQ | typeof OP_WRQ, filename: string, mode: string, options = new Map<string, string>()): Uint8Array {
  const body = nulStrings([filename, mode, ...[...options].flat()]);
  const b = new Uint8Array(2 + body.length);
  b[1] = op;
  b.set(body, 2);
  return b;
}
