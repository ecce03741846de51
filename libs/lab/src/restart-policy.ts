// When a supervised service that died comes back: compose's `restart: unless-stopped` with
// a backoff, as Docker's daemon does it (the delay doubles from `initialMs` up to `maxMs`,
// and goes back to `initialMs` once the service has stayed up for `resetAfterMs`). Pure:
// the supervisor asks, the numbers are tested without processes.

export interface RestartPolicy {
  initialMs: number;
  maxMs: number;
  /** Up this long, a service is healthy again: its next crash waits `initialMs`. */
  resetAfterMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = { initialMs: 500, maxMs: 10_000, resetAfterMs: 30_000 };

export function checkRestartPolicy(p: RestartPolicy): RestartPolicy {
  for (const k of ['initialMs', 'maxMs', 'resetAfterMs'] as const) {
    if (!Number.isFinite(p[k]) || p[k] < 0) throw new Error(`restart policy ${k} ${p[k]}: must be a number of ms >= 0`);
  }
  if (p.maxMs < p.initialMs) throw new Error(`restart policy maxMs ${p.maxMs}: must be >= initialMs ${p.initialMs}`);
  return p;
}

/** One service's backoff: how long to wait before the next restart. */
export class Backoff {
  private nextMs: number;

  constructor(private readonly policy: RestartPolicy = DEFAULT_RESTART_POLICY) {
    this.nextMs = checkRestartPolicy(policy).initialMs;
  }

  /** The delay before restarting a service that ran `upMs` before it died; the next one doubles. */
  delayAfter(upMs: number): number {
    if (upMs >= this.policy.resetAfterMs) this.nextMs = this.policy.initialMs;
    const d = this.nextMs;
    this.nextMs = Math.min(this.policy.maxMs, Math.max(1, this.nextMs * 2));
    return d;
  }
}
