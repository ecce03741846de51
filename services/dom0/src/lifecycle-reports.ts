// What dom0 believes of a lifecycle report (issue 11, item 8). The subject says which VM and
// which service reported (sv.vm.<id>.lifecycle.<source>; NATS lets each service publish
// only on its own), so a body naming another VM or another source is refused, logged and
// counted, as is a kind its source has no business reporting. Only the cpu's own exit
// report ends or restarts a VM: io-backend's POWEROFF or RESET (the guest's write to the
// sifive test device) gives the cause, kept until the cpu's report confirms it, and never
// ends a VM by itself. A cause the cpu does not confirm in time (a forged report, or a lost
// one) is logged and counted as unconfirmed.
import type { EventsV1 } from '@splitvisor/proto';
import { lifecycleOfSubject, type LifecycleSource } from '@splitvisor/bus';
import type { Logger } from '@splitvisor/log';
import type { VmState } from './vm-state.js';

/** What the guest (or its vCPU) did, as far as the policies are concerned. */
export type GuestEnd = 'poweroff' | 'reset' | 'crash';

/** The cpu's exit report as a guest end: the cause the vCPU stopped for is its reason's
 *  first word (cpu vm-manager: `<cause>: <why>`); anything but poweroff or reset is a crash. */
export function classifyExit(reason: string): GuestEnd {
  if (reason.startsWith('poweroff')) return 'poweroff';
  if (reason.startsWith('reset')) return 'reset';
  return 'crash';
}

/** A report as dom0 acts on it. */
export type Report =
  /** Not believed: logged and counted. */
  | { kind: 'refused'; vm: string | undefined; why: string }
  /** Believed, nothing to act on (dom0's own events; a cause awaiting the cpu). */
  | { kind: 'noted' }
  /** The cpu says the VM's vCPU stopped: the VM's policy applies. */
  | { kind: 'exit'; vm: string; end: GuestEnd; reason: string; exitCode: number; at: number };

export interface ReportCounts {
  /** Reports whose body disagreed with their subject, or of a kind their source may not report. */
  refused: number;
  /** io-backend's POWEROFF or RESET that no cpu exit report followed. */
  unconfirmed: number;
}

/** The kinds each data-plane service may report; dom0's own events are its announcements. */
const MAY_REPORT: Record<Exclude<LifecycleSource, 'dom0'>, readonly EventsV1.LifecycleKind__Output[]> = {
  cpu: ['LIFECYCLE_VCPU_EXITED'],
  'io-backend': ['LIFECYCLE_POWEROFF', 'LIFECYCLE_RESET'],
};

/** How long the cpu's report may follow io-backend's before the cause counts as unconfirmed. */
export const DEFAULT_CONFIRM_MS = 5000;

interface Cause {
  end: 'poweroff' | 'reset';
  reason: string;
  timer: NodeJS.Timeout;
}

/** Bounds what is kept of a hostile body's string in a log line. */
const clip = (s: string) => (s.length > 80 ? `${s.slice(0, 80)}…` : s);
/** The same, quoted, for a message. */
const quote = (s: string) => JSON.stringify(clip(s));

export class LifecycleReports {
  private readonly causes = new Map<string, Cause>();
  private readonly counts = new Map<string, ReportCounts>();
  /** Over every VM, those dom0 knows nothing of included. */
  readonly total: ReportCounts = { refused: 0, unconfirmed: 0 };

  constructor(
    private readonly log: Logger,
    /** The state of dom0's VM of this name, if any (counts are kept for known VMs only). */
    private readonly stateOf: (vm: string) => VmState | undefined,
    private readonly confirmMs = DEFAULT_CONFIRM_MS,
  ) {}

  /** The counts of one VM (zeros when none). */
  of(vm: string): ReportCounts {
    return { ...(this.counts.get(vm) ?? { refused: 0, unconfirmed: 0 }) };
  }

  private live(vm: string): boolean {
    const s = this.stateOf(vm);
    return s === 'running' || s === 'paused';
  }

  private count(vm: string | undefined, what: keyof ReportCounts): void {
    this.total[what]++;
    if (vm === undefined || this.stateOf(vm) === undefined) return;
    const c = this.counts.get(vm) ?? { refused: 0, unconfirmed: 0 };
    c[what]++;
    this.counts.set(vm, c);
  }

  /** Reads one stored report: `subject` is where it was published, the only part NATS vouches for. */
  read(ev: EventsV1.LifecycleEvent__Output, subject: string): Report {
    const from = lifecycleOfSubject(subject);
    const refuse = (vm: string | undefined, why: string): Report => {
      this.count(vm, 'refused');
      this.log.warn(
        { subject, vm, body: { vmId: clip(ev.vmId), source: clip(ev.source), kind: ev.kind }, refused: this.total.refused },
        `lifecycle report refused: ${why}`,
      );
      return { kind: 'refused', vm, why };
    };
    if (!from) return refuse(undefined, 'its subject is not sv.vm.<id>.lifecycle.<cpu|io-backend|dom0>');
    if (ev.vmId !== from.vm) return refuse(from.vm, `its body names vm ${quote(ev.vmId)}, its subject vm "${from.vm}"`);
    if (ev.source !== from.source) return refuse(from.vm, `its body says ${quote(ev.source)} reported it, its subject ${from.source}`);
    if (from.source === 'dom0') return { kind: 'noted' };
    if (!MAY_REPORT[from.source].includes(ev.kind)) return refuse(from.vm, `${from.source} may not report ${ev.kind}`);
    if (from.source === 'io-backend') {
      this.noteCause(from.vm, ev.kind === 'LIFECYCLE_POWEROFF' ? 'poweroff' : 'reset', ev.reason);
      return { kind: 'noted' };
    }
    // The cpu's exit: the guest's own account of why, when io-backend gave one that agrees.
    const end = classifyExit(ev.reason);
    const cause = this.takeCause(from.vm);
    const reason = cause && cause.end === end ? cause.reason : ev.reason;
    return { kind: 'exit', vm: from.vm, end, reason, exitCode: ev.exitCode, at: ev.at };
  }

  private noteCause(vm: string, end: 'poweroff' | 'reset', reason: string): void {
    if (!this.live(vm)) return;
    this.takeCause(vm);
    const timer = setTimeout(() => {
      if (this.causes.get(vm)?.timer !== timer) return;
      this.causes.delete(vm);
      if (!this.live(vm)) return;
      this.count(vm, 'unconfirmed');
      this.log.warn(
        { vm, end, reason: clip(reason), unconfirmed: this.total.unconfirmed },
        `io-backend reported the guest's ${end} but vm "${vm}"'s vCPU did not exit within ${this.confirmMs} ms: not acted on (a forged or lost report)`,
      );
    }, this.confirmMs);
    timer.unref();
    this.causes.set(vm, { end, reason, timer });
  }

  private takeCause(vm: string): Cause | undefined {
    const c = this.causes.get(vm);
    if (!c) return undefined;
    clearTimeout(c.timer);
    this.causes.delete(vm);
    return c;
  }

  /** A VM destroyed: its counts and any cause waiting go with it. */
  forget(vm: string): void {
    this.takeCause(vm);
    this.counts.delete(vm);
  }

  stop(): void {
    for (const vm of [...this.causes.keys()]) this.takeCause(vm);
  }
}
