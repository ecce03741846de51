// Durations as people type them on the command line: 500ms, 3s, 1.5s, 2m.
import { FaultError } from './errors.js';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000 } as const;

/** `text` in milliseconds, or a FaultError naming `field` and the value. */
export function parseDuration(text: string, field: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text.trim());
  if (!m) throw new FaultError(`${field}: "${text}" is not a duration (e.g. 500ms, 3s, 2m)`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]);
}

/** A duration as `parseDuration` reads it back: 250ms, 3s, 1.5s, 2m. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000 || ms % 60_000 !== 0) return `${Number((ms / 1000).toFixed(1))}s`;
  return `${ms / 60_000}m`;
}

/** A duration in [min, max] ms, or a FaultError naming the bounds. */
export function boundedDuration(text: string, field: string, minMs: number, maxMs: number): number {
  const ms = parseDuration(text, field);
  if (ms < minMs || ms > maxMs) throw new FaultError(`${field}: ${text} is outside ${formatDuration(minMs)}..${formatDuration(maxMs)}`);
  return ms;
}
