// What the bench scripts compute the same way: the median of their samples, and the load
// average they print beside it (the machine is shared).
import { loadavg } from 'node:os';

/** The median of `xs` (the mean of the two middle ones for an even count). */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The 1, 5 and 15 minute load averages, as `uptime` prints them. */
export const loadAverage = () => loadavg().map((l) => l.toFixed(1)).join(' ');
