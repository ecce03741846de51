// io-backend's side of the UART read shadow (issue 17, speed 1). Each reply to an access
// of the UART carries a grant: the registers whose reads have no side effect now, with
// their values (libs/devices uart16550/read-shadow.ts says which and why), so the vCPU
// serves them without an exit. Before io-backend applies a change a granted register would
// show (host input arriving, a restore), it asks the cpu to drop the grant
// (sv.vm.<vm>.io.shadow.revoke, request/reply) and applies the change once answered, or
// without an answer once the grant's lease and REVOKE_MARGIN_MS have passed (the cpu serves
// a grant its lease at most, from when it took it).
//
// The lease is a trade. The vCPU of a guest idle at a prompt, polling LSR, sleeps until its
// grant runs out and then exits to renew it: a lease of 200 ms cost 5 such wake-ups and
// exits a second, ~1% of a core across the cpu and io-backend; 1 s costs one. What a longer
// lease costs: while a revoke is lost (a cut NATS link, `fault shadow:<vm>`), input waits
// the lease and the margin; and a guest loop that polls LSR and also watches RAM another
// vCPU writes sees that write up to one lease late (services/cpu/src/poll-idle.ts).
// While a change waits for its revoke, replies carry no grant: a grant made then would
// show the state before the change.
//
// Epochs order grants and revokes that cross in flight: a revoke opens a new epoch, a grant
// carries the epoch it was made in, and the cpu ignores a grant older than the newest
// revoke it heard. A restarted io-backend starts from the clock (µs-scale), above any epoch
// of its predecessor's.
//
// What the vCPU does without an exit is never a change here: its posted writes are THR
// bytes (instant, LSR unchanged; loopback, where they would fill the FIFO, is never
// granted RBR, LSR or MSR) and DLL (never granted).
import type { Logger } from '@splitvisor/log';
import type { IoV1 } from '@splitvisor/proto';
import { uartReadShadow, type Uart16550 } from '@splitvisor/devices';

/** How long the cpu may serve a grant by default (io-backend's --shadow-lease-ms). */
export const SHADOW_LEASE_MS = 1000;
/** The bounds of a lease: long enough to be worth a grant, short enough that a lost revoke
 *  (input waiting the lease out) stays a pause rather than a hang. */
export const SHADOW_LEASE_RANGE_MS = { min: 10, max: 10_000 } as const;
/** What is wrong with a lease of `ms` (not a whole number of ms in the range), or undefined. */
export function leaseOutOfRange(ms: number): string | undefined {
  const { min, max } = SHADOW_LEASE_RANGE_MS;
  return Number.isInteger(ms) && ms >= min && ms <= max ? undefined : `${ms} ms is outside ${min}..${max} ms`;
}
/** How much longer than the lease a change waits for the cpu's answer to its revoke: a
 *  grant made before the revoke may still be on its way to the cpu, whose lease starts when
 *  it takes it. */
export const REVOKE_MARGIN_MS = 800;

/** Asks the cpu to drop its grant of this device, opening `epoch`; rejects without an answer. */
export type ShadowRevoker = (epoch: number) => Promise<void>;

export interface ShadowGrantStats {
  /** Replies that carried a grant. */
  grants: number;
  /** Revokes asked for, and the ones not answered in time (the change went ahead anyway). */
  revokes: number;
  revokesUnanswered: number;
}

export class UartShadowGrants {
  /** How long a change waits for the answer to its revoke (the lease and the margin). */
  readonly revokeTimeoutMs: number;
  private epoch = Date.now() * 1000;
  /** A grant may be held by the cpu (one was given since the last revoke). */
  private outstanding = false;
  /** Changes waiting for (or applying after) their revoke. */
  private waiting = 0;
  private chain: Promise<void> = Promise.resolve();
  readonly stats: ShadowGrantStats = { grants: 0, revokes: 0, revokesUnanswered: 0 };

  constructor(
    private readonly uart: Uart16550,
    private readonly base: number,
    private readonly revoker: ShadowRevoker,
    private readonly log: Logger,
    private readonly leaseMs = SHADOW_LEASE_MS,
  ) {
    const bad = leaseOutOfRange(leaseMs);
    if (bad) throw new RangeError(`read shadow lease ${bad}`);
    this.revokeTimeoutMs = leaseMs + REVOKE_MARGIN_MS;
  }

  /** The grant for the reply to an access of the UART that was just applied, or undefined. */
  grant(): IoV1.ReadShadowGrant | undefined {
    if (this.waiting > 0) return undefined;
    const s = uartReadShadow(this.uart);
    if (s.mask === 0) return undefined;
    this.outstanding = true;
    this.stats.grants++;
    return { base: this.base, valid: s.mask, values: Buffer.from(s.values), epoch: this.epoch, leaseMs: this.leaseMs };
  }

  /**
   * Applies `apply` (a change to the UART a granted register could show) after every change
   * asked for before it, once the cpu dropped its grant. `always`: revoke even if this
   * process gave no grant (a restore: the grant may be a predecessor's).
   */
  change(apply: () => void, always = false): Promise<void> {
    this.waiting++;
    const run = this.chain
      .then(async () => {
        if (this.outstanding || always) {
          this.outstanding = false;
          await this.revoke();
        }
        apply();
      })
      .finally(() => this.waiting--);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async revoke(): Promise<void> {
    const epoch = ++this.epoch;
    this.stats.revokes++;
    try {
      await this.revoker(epoch);
    } catch (e) {
      // No cpu answered (none runs the VM, NATS is away): its grant, if any, expires.
      if (this.stats.revokesUnanswered++ < 5)
        this.log.warn({ err: (e as Error).message, epoch }, 'read shadow revoke unanswered; change applied after the timeout');
    }
  }
}
