import { describe, expect, it } from 'vitest';
import { silentLogger } from '@splitvisor/testing';
import type { EventsV1 } from '@splitvisor/proto';
import { UART0 } from '@splitvisor/platform';
import { ReadShadowReader, ReadShadowWriter, SHADOW_BYTES, shadowClock } from './exit-channel/index.js';
import { SHADOW_GRANT_MS, SHADOW_LEASE_MAX_MS, ShadowGrants } from './read-shadow.js';
import type { ShadowRevokes } from './ports/index.js';

const LSR = UART0.base + 5;
const grant = (epoch: number, lsr = 0x60) => ({ base: UART0.base, valid: 1 << 5, values: Buffer.from([0, 0, 0, 0, 0, lsr, 0, 0]), epoch, leaseMs: 0 });

async function setup(revokes: boolean) {
  const buf = new SharedArrayBuffer(SHADOW_BYTES);
  let answer: ((r: EventsV1.ShadowRevoke__Output) => EventsV1.ShadowRevokeAck) | undefined;
  const link = { cut: () => undefined as void, back: () => undefined as void };
  const port: ShadowRevokes = {
    listen: (a) => {
      answer = a;
      return Promise.resolve(() => (answer = undefined));
    },
    watch: (cut, back) => {
      link.cut = cut;
      link.back = back;
      return () => undefined;
    },
  };
  const wakes = { count: 0 };
  const g = new ShadowGrants(new ReadShadowWriter(buf), revokes ? port : undefined, silentLogger(), () => wakes.count++);
  await g.start();
  const reader = new ReadShadowReader(buf);
  const out = new Int32Array(2);
  const served = () => (reader.serve(LSR, 1, out) ? out[0] : undefined);
  /** How long from now the grant serving LSR runs (0: none). */
  const leaseLeft = () => (reader.expiresAt(LSR) === 0 ? 0 : reader.expiresAt(LSR) - shadowClock());
  const revoke = (epoch: number) => answer!({ vmId: 'vm', base: UART0.base, epoch });
  return { g, served, leaseLeft, revoke, link, wakes };
}

describe('ShadowGrants (the cpu host thread)', () => {
  it('takes a grant from a reply, and drops it on a revoke and before an exit to the device', async () => {
    const { g, served, revoke } = await setup(true);
    g.take(grant(1));
    expect(served()).toBe(0x60);
    expect(revoke(2)).toEqual({ epoch: 2 });
    expect(served()).toBeUndefined();
    g.take(grant(2, 0x61)); // made after that revoke
    expect(served()).toBe(0x61);
    g.beforeExit(UART0.base + 3);
    expect(served()).toBeUndefined();
  });

  it("serves a grant for io-backend's lease: the grant's own, 200 ms without one, 10 s at most", async () => {
    const { g, served, leaseLeft } = await setup(true);
    g.take({ ...grant(1), leaseMs: 1000 });
    expect(leaseLeft()).toBeGreaterThan(900);
    expect(leaseLeft()).toBeLessThanOrEqual(1000);
    g.take(grant(1)); // no lease: an io-backend from before the lease field
    expect(leaseLeft()).toBeGreaterThan(SHADOW_GRANT_MS - 100);
    expect(leaseLeft()).toBeLessThanOrEqual(SHADOW_GRANT_MS);
    g.take({ ...grant(1), leaseMs: 3_600_000 });
    expect(leaseLeft()).toBeLessThanOrEqual(SHADOW_LEASE_MAX_MS);
    // A lease that has run out serves nothing: the next load exits and renews it.
    g.take({ ...grant(1), leaseMs: 20 });
    expect(served()).toBe(0x60);
    await new Promise((r) => setTimeout(r, 60));
    expect(served()).toBeUndefined();
  });

  it('ignores a grant older than a revoke it heard (a reply that crossed the revoke)', async () => {
    const { g, served, revoke } = await setup(true);
    revoke(5);
    g.take(grant(4));
    expect(served()).toBeUndefined();
    expect(g.stats.stale).toBe(1);
  });

  it("takes no grant for what is not an io-backend device's base", async () => {
    const buf = await setup(true);
    buf.g.take({ ...grant(1), base: 0x2000000 }); // the CLINT, the cpu's own
    buf.g.take({ ...grant(1), base: UART0.base + 1 });
    expect(buf.g.stats.taken).toBe(0);
  });

  it('takes no grant without a way to hear revokes', async () => {
    const { g, served } = await setup(false);
    g.take(grant(1));
    expect(served()).toBeUndefined();
  });

  it('drops every grant, and wakes an idle vCPU, on a revoke and when the link to NATS is lost; takes none until it is back', async () => {
    const { g, served, revoke, link, wakes } = await setup(true);
    g.take(grant(1));
    revoke(2);
    expect(wakes.count).toBe(1);
    g.take(grant(2));
    link.cut();
    expect(served()).toBeUndefined();
    expect(wakes.count).toBe(2);
    g.take(grant(2)); // a reply that came while revokes could not
    expect(served()).toBeUndefined();
    link.back();
    g.take(grant(2));
    expect(served()).toBe(0x60);
    expect(g.stats).toMatchObject({ cutOff: 1, revoked: 1 });
  });

  it('drops every grant when it stops', async () => {
    const { g, served } = await setup(true);
    g.take(grant(1));
    g.stop();
    expect(served()).toBeUndefined();
  });
});
