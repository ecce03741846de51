// Every service follows dom0's table of link faults (issue 15): it applies those on the
// links it originates (libs/rpc's interceptor and libs/bus read the process's table), ends
// each at its deadline by itself, asks dom0 for the table when it starts or reconnects, and
// says what it holds when asked (`splitvisor fault list`).
import { FaultTableCodec, FaultsHeldCodec, type EventsV1 } from '@splitvisor/proto';
import { subjects, type Bus } from '@splitvisor/bus';
import { faultPlane, describeFault, type FaultKind, type FaultSpec } from '@splitvisor/faults';
import type { Logger } from '@splitvisor/log';

export function specOf(f: EventsV1.FaultSpec__Output): FaultSpec {
  return { ...f, kind: f.kind as FaultKind, expiresAtMs: Number(f.expiresAtMs) };
}

export function followFaults(bus: Bus, service: string, log: Logger): () => void {
  faultPlane.self = service;
  faultPlane.onExpired = (gone) => log.info({ faults: gone.map((s) => `${s.id}: ${describeFault(s)}`) }, 'link faults ended at their deadline');
  const apply = (t: EventsV1.FaultTable__Output) => {
    const before = new Set(faultPlane.list().map((s) => s.id));
    const refused = faultPlane.replace(t.faults.map(specOf));
    for (const r of refused) log.warn({ fault: r.spec.id, err: r.error }, 'refused a malformed link fault');
    const now = faultPlane.list();
    const added = now.filter((s) => !before.has(s.id));
    const kept = new Set(now.map((s) => s.id));
    const cleared = [...before].filter((id) => !kept.has(id));
    if (added.length) log.info({ faults: added.map((s) => `${s.id}: ${describeFault(s)}`) }, 'link faults on');
    if (cleared.length) log.info({ faults: cleared }, 'link faults cleared');
  };
  const stops = [
    bus.subscribe(subjects.faultTable, FaultTableCodec, apply),
    bus.serve(subjects.faultHeld, FaultTableCodec, FaultsHeldCodec, () => {
      const held = faultPlane.applied();
      return { service, pid: process.pid, ids: held.map((s) => s.id), hits: held.map((s) => s.hits) };
    }),
  ];
  // dom0 may be down (or be this process, not serving yet): the table then comes with its next change.
  const sync = () => void bus.request(subjects.faultSync, FaultTableCodec, { faults: [] }, FaultTableCodec, 2000).then(apply, () => undefined);
  sync();
  stops.push(bus.onReconnect(sync));
  return () => {
    for (const s of stops) s();
    faultPlane.remove();
  };
}
