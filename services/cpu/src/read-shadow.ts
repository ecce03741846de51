// The host thread's side of the read shadow (issue 17, speed 1): it takes the grants that
// ride on io-backend's MMIO replies into the shared shadow (exit-channel/read-shadow.ts),
// drops a device's grant before each exit to that device (the reply grants again), and
// answers io-backend's revokes. Grants and revokes meet here, on one thread, in epochs: a
// revoke names the epoch it opens, a grant the epoch it was made in, and a grant older than
// the newest revoke heard for its device is ignored, since a reply can cross a revoke in
// flight. Without a revoke channel no grant is taken: nothing could take it back.
import type { EventsV1, IoV1 } from '@splitvisor/proto';
import type { Logger } from '@splitvisor/log';
import { hex, regionAt } from '@splitvisor/platform';
import { shadowClock, type ReadShadowWriter } from './exit-channel/index.js';
import type { ShadowRevokes } from './ports/index.js';

/** How long a grant without a lease of its own is served (an io-backend older than the
 *  lease field). A grant's lease is io-backend's to choose: it waits the lease and a margin
 *  for a revoke's answer, so a cpu that never hears the revoke (NATS cut) has stopped
 *  serving the grant by then. */
export const SHADOW_GRANT_MS = 200;
/** The longest lease served, whatever a grant says. */
export const SHADOW_LEASE_MAX_MS = 10_000;

export interface ShadowGrantStats {
  taken: number;
  /** Grants older than a revoke already heard. */
  stale: number;
  revoked: number;
  /** Times every grant was dropped because the link to NATS was lost. */
  cutOff: number;
}

export class ShadowGrants {
  /** Newest revoke epoch heard, per device base. */
  private readonly revokedEpoch = new Map<number, number>();
  private listening = false;
  /** The link to NATS is lost: a revoke could not reach this end. */
  private cut = false;
  private stopListening: (() => void) | undefined;
  private stopWatching: (() => void) | undefined;
  private stopped = false;
  readonly stats: ShadowGrantStats = { taken: 0, stale: 0, revoked: 0, cutOff: 0 };

  constructor(
    private readonly shadow: ReadShadowWriter,
    private readonly revokes: ShadowRevokes | undefined,
    private readonly log: Logger,
    /** Told after each revoke: a vCPU idling on a poll of the register must look again. */
    private readonly onRevoke: () => void = () => undefined,
  ) {}

  /** Starts answering revokes; grants are taken once that is live. */
  async start(): Promise<void> {
    if (!this.revokes) return;
    try {
      const stop = await this.revokes.listen((r) => this.revoke(r));
      if (this.stopped) return stop();
      this.stopListening = stop;
      this.listening = true;
      // Cut off from NATS, a revoke would be lost: every grant goes at once (rather than
      // after io-backend's revoke timeout), and none is taken until revokes are heard again.
      this.stopWatching = this.revokes.watch?.(
        () => {
          this.cut = true;
          this.shadow.dropAll();
          this.onRevoke();
          this.stats.cutOff++;
        },
        () => (this.cut = false),
      );
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'read shadow revokes not heard; every device load exits');
    }
  }

  stop(): void {
    this.stopped = true;
    this.listening = false;
    this.shadow.dropAll();
    this.stopListening?.();
    this.stopWatching?.();
  }

  /** An exit to the device holding `addr` is about to go out: its grant is dropped first. */
  beforeExit(addr: number): void {
    const r = regionAt(addr);
    if (r) this.shadow.drop(r.base);
  }

  /** The reply of an exit: its grant (if any) taken, unless a newer revoke was heard. */
  take(grant: IoV1.ReadShadowGrant__Output | null | undefined): void {
    if (!grant || !this.listening || this.cut || grant.valid === 0) return;
    // Only for a device io-backend holds, at its base: never RAM, the CLINT or the PLIC.
    const r = regionAt(grant.base);
    if (r?.home !== 'io-backend' || r.base !== grant.base) return;
    if (grant.epoch < (this.revokedEpoch.get(grant.base) ?? 0)) {
      this.stats.stale++;
      return;
    }
    const lease = Math.min(grant.leaseMs || SHADOW_GRANT_MS, SHADOW_LEASE_MAX_MS);
    if (this.shadow.install(grant.base, grant.valid, grant.values, shadowClock() + lease)) this.stats.taken++;
  }

  /** Every grant dropped (a reset or poweroff reply: the devices are not what they were). */
  dropAll(): void {
    this.shadow.dropAll();
  }

  /** io-backend takes a device's grant back: dropped now, before the answer. */
  revoke(r: EventsV1.ShadowRevoke__Output): EventsV1.ShadowRevokeAck {
    if (r.epoch > (this.revokedEpoch.get(r.base) ?? 0)) this.revokedEpoch.set(r.base, r.epoch);
    this.shadow.drop(r.base);
    this.onRevoke();
    this.stats.revoked++;
    this.log.trace({ base: hex(r.base), epoch: r.epoch }, 'read shadow revoked');
    return { epoch: r.epoch };
  }
}
