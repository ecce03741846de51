// One link fault as dom0 hands it to every service: the link, the kind (Toxiproxy's words)
// with its parameters, and the wall-clock deadline at which each service drops it by itself.
// `parseFault` reads the command line's words (`<link> <kind> [params] --for <dur>`).
import { boundedDuration, formatDuration, parseDuration } from './duration.js';
import { FaultError } from './errors.js';
import { parseLink } from './link.js';

export const FAULT_KINDS = ['latency', 'bandwidth', 'drop', 'duplicate', 'reorder', 'partition'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Every link fault ends: by default after this, at most after FAULT_MAX_MS. */
export const FAULT_DEFAULT_MS = 30_000;
export const FAULT_MAX_MS = 10 * 60_000;
export const LATENCY_MAX_MS = 60_000;
/** How long a reordered message is held back when the fault does not say. */
export const REORDER_DEFAULT_MS = 50;

export interface FaultSpec {
  id: string;
  link: string;
  kind: FaultKind;
  latencyMs: number;
  jitterMs: number;
  /** bandwidth: what the link carries per second in this process (each message waits its
   *  turn and its own size's time, as Toxiproxy's bandwidth toxic). */
  bytesPerSecond: number;
  /** drop, duplicate, reorder: the chance per call or message, 0 < p <= 1. (reorder holds
   *  such a message back by latencyMs, out of the subject's queue: those after it overtake
   *  it, as netem's reorder.) */
  probability: number;
  /** Wall clock (ms since the epoch): the lab's services share a host clock (or NTP). */
  expiresAtMs: number;
  seed: number;
}

export type FaultRequest = Omit<FaultSpec, 'id' | 'expiresAtMs' | 'seed'> & { forMs: number };

function probability(text: string | undefined, kind: string): number {
  if (text === undefined) throw new FaultError(`${kind}: missing its probability (e.g. 0.1 or 10%)`);
  const m = /^(\d+(?:\.\d+)?)(%?)$/.exec(text);
  const p = m ? Number(m[1]) / (m[2] ? 100 : 1) : NaN;
  if (!(p > 0 && p <= 1)) throw new FaultError(`${kind}: probability "${text}" is not in (0, 1] (e.g. 0.1 or 10%)`);
  return p;
}

/** `<link> <kind> [params]` and the --for text (undefined: the default). */
export function parseFault(words: readonly string[], forText: string | undefined): FaultRequest {
  const [linkText, kindText, ...params] = words;
  if (linkText === undefined) throw new FaultError('link: missing (e.g. cpu:io-backend)');
  const link = parseLink(linkText);
  if (kindText === undefined) throw new FaultError(`kind: missing (${FAULT_KINDS.join(', ')})`);
  if (!(FAULT_KINDS as readonly string[]).includes(kindText)) throw new FaultError(`kind: "${kindText}" is not a fault kind (${FAULT_KINDS.join(', ')})`);
  const kind = kindText as FaultKind;
  const forMs = forText === undefined ? FAULT_DEFAULT_MS : boundedDuration(forText, 'for', 1, FAULT_MAX_MS);
  const base = { link: link.name, kind, latencyMs: 0, jitterMs: 0, probability: 0, bytesPerSecond: 0, forMs };
  const most = kind === 'latency' || kind === 'reorder' ? 2 : kind === 'partition' ? 0 : 1;
  if (params.length > most) throw new FaultError(`${kind}: unexpected parameter "${params[most]}"`);
  switch (kind) {
    case 'latency': {
      if (params[0] === undefined) throw new FaultError('latency: missing its delay (e.g. 200ms, then optionally a jitter, e.g. 20ms)');
      const latencyMs = boundedDuration(params[0], 'latency', 0, LATENCY_MAX_MS);
      const jitterMs = params[1] === undefined ? 0 : parseDuration(params[1], 'jitter');
      if (jitterMs > latencyMs) throw new FaultError(`jitter: ${params[1]} is more than the latency ${params[0]}`);
      return { ...base, latencyMs, jitterMs };
    }
    case 'bandwidth': {
      const m = params[0] === undefined ? null : /^(\d+(?:\.\d+)?)(B|KB|MB)\/s$/.exec(params[0]);
      const rate = m ? Math.round(Number(m[1]) * { B: 1, KB: 1000, MB: 1_000_000 }[m[2] as 'B' | 'KB' | 'MB']) : NaN;
      if (!(rate >= 1 && rate <= 1_000_000_000)) throw new FaultError(`bandwidth: "${params[0] ?? ''}" is not a rate from 1B/s to 1000MB/s (e.g. 64KB/s)`);
      return { ...base, bytesPerSecond: rate };
    }
    case 'drop':
    case 'duplicate':
      if (kind === 'duplicate' && link.kind === 'rpc') throw new FaultError(`duplicate: only on NATS links (a gRPC call is not sent twice), not ${link.name}`);
      return { ...base, probability: probability(params[0], kind) };
    case 'reorder': {
      if (link.kind === 'rpc') throw new FaultError(`reorder: only on NATS links (each gRPC call has its own answer), not ${link.name}`);
      const latencyMs = params[1] === undefined ? REORDER_DEFAULT_MS : boundedDuration(params[1], 'reorder', 1, LATENCY_MAX_MS);
      return { ...base, probability: probability(params[0], kind), latencyMs };
    }
    case 'partition':
      if (link.kind === 'nats') throw new FaultError(`partition: cuts two services apart, so it takes a gRPC link (e.g. cpu:mmu), not ${link.name}`);
      return base;
  }
}

/** A spec checked as a service receives it (it came from dom0, but over a network). */
export function checkSpec(s: FaultSpec): FaultSpec {
  parseLink(s.link);
  if (!(FAULT_KINDS as readonly string[]).includes(s.kind)) throw new FaultError(`kind: "${s.kind}" is not a fault kind`);
  if (!/^[a-z0-9-]{1,32}$/.test(s.id)) throw new FaultError(`id: "${s.id}" is not a fault id`);
  return s;
}

/** How a fault reads in `fault list` and in the errors it causes: "latency 200ms±20ms on cpu:io-backend". */
export function describeFault(s: Pick<FaultSpec, 'link' | 'kind' | 'latencyMs' | 'jitterMs' | 'probability' | 'bytesPerSecond'>): string {
  switch (s.kind) {
    case 'bandwidth':
      return `bandwidth ${s.bytesPerSecond >= 1_000_000 ? `${s.bytesPerSecond / 1_000_000}MB/s` : s.bytesPerSecond >= 1000 ? `${s.bytesPerSecond / 1000}KB/s` : `${s.bytesPerSecond}B/s`} on ${s.link}`;
    case 'latency':
      return `latency ${formatDuration(s.latencyMs)}${s.jitterMs ? `±${formatDuration(s.jitterMs)}` : ''} on ${s.link}`;
    case 'drop':
    case 'duplicate':
      return `${s.kind} ${Number((s.probability * 100).toFixed(2))}% on ${s.link}`;
    case 'reorder':
      return `reorder ${Number((s.probability * 100).toFixed(2))}% by ${formatDuration(s.latencyMs)} on ${s.link}`;
    case 'partition':
      return `partition ${s.link}`;
  }
}
