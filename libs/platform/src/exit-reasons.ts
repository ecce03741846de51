// The exit table's rows (DESIGN.md "cpu": every exit counted by reason, as `perf kvm stat`).
// One table for the cpu, which counts them in a typed array indexed by row, and for what
// shows them (dom0's top and stats, the benches): names, kinds and order come from here.

/**
 * - `remote`: the exit leaves the cpu process (the vCPU blocks on io-backend or mmu);
 * - `local`: handled inside the vCPU's worker by the cpu's monitor, no network;
 * - `posted`: not an exit at all, a store the vCPU posted and went on (counted so the
 *   table shows where the guest's device writes went; no time);
 * - `shadowed`: not an exit either, a device load the vCPU served from the read shadow
 *   io-backend granted it (issue 17, speed 1; no time).
 */
export type ExitKind = 'remote' | 'local' | 'posted' | 'shadowed';

export interface ExitReasonRow {
  /** The row's name in GetVmStats and JSON. */
  readonly name: string;
  /** A short column label for tables (top). */
  readonly label: string;
  readonly kind: ExitKind;
  readonly what: string;
}

/** The rows in GetVmStats' order; an index into this table is the row's counter. The last
 *  six are the mode monitors' (issues 13, 14): they stay 0 in `emulate`. */
export const EXIT_REASON_TABLE = [
  { name: 'mmio-read', label: 'MMIO-R', kind: 'remote', what: 'a load from a device in io-backend' },
  { name: 'mmio-write', label: 'MMIO-W', kind: 'remote', what: 'a store to a device in io-backend' },
  { name: 'page-fetch', label: 'FETCH', kind: 'remote', what: 'a page of guest RAM fetched from mmu' },
  { name: 'wfi', label: 'WFI', kind: 'local', what: 'the hart idles until an interrupt' },
  { name: 'mmio-coalesced', label: 'COALESCED', kind: 'posted', what: 'a device store posted to the coalesced ring' },
  { name: 'doorbell', label: 'DOORBELL', kind: 'posted', what: 'a virtqueue notify posted as a doorbell' },
  { name: 'mmio-shadowed', label: 'SHADOWED', kind: 'shadowed', what: "a device load served from io-backend's read shadow" },
  { name: 'poll-idle', label: 'POLLIDLE', kind: 'local', what: 'the hart, spinning on a shadowed register, idles until it may change' },
  { name: 'priv-insn', label: 'PRIV', kind: 'local', what: 'a privileged instruction emulated by the monitor (trap)' },
  { name: 'sbi-call', label: 'SBI', kind: 'local', what: "an SBI call served by the monitor (hw, trap, pv's hypercalls)" },
  { name: 'shadow-fault', label: 'SHADOW', kind: 'local', what: 'a shadow page table filled from the guest tables (trap)' },
  { name: 'guest-page-fault', label: 'GPF', kind: 'local', what: 'a G-stage fault mapped by the monitor (hw)' },
  { name: 'virq-inject', label: 'VIRQ', kind: 'local', what: 'a virtual interrupt delivered to the guest (trap, pv)' },
  { name: 'vtrap', label: 'VTRAP', kind: 'local', what: "an exception the monitor delivered to the guest's own handler (trap, pv)" },
] as const satisfies readonly ExitReasonRow[];

export type ExitReason = (typeof EXIT_REASON_TABLE)[number]['name'];

/** The row names in order. */
export const EXIT_REASONS: readonly ExitReason[] = EXIT_REASON_TABLE.map((r) => r.name);

/** Rows by number, for the hot path (an index, no lookup by name per exit). */
export const Reason = {
  MmioRead: 0,
  MmioWrite: 1,
  PageFetch: 2,
  Wfi: 3,
  MmioCoalesced: 4,
  Doorbell: 5,
  MmioShadowed: 6,
  PollIdle: 7,
  PrivInsn: 8,
  SbiCall: 9,
  ShadowFault: 10,
  GuestPageFault: 11,
  VirqInject: 12,
  VirtualTrap: 13,
} as const satisfies Record<string, number>;
export type ReasonIndex = (typeof Reason)[keyof typeof Reason];

/** The row named `name`, or undefined (a row a newer cpu added). */
export function exitReasonRow(name: string): ExitReasonRow | undefined {
  return EXIT_REASON_TABLE.find((r) => r.name === name);
}

/** Whether a row counts real exits (not posted stores, not shadowed loads); an unknown row counts. */
export function isRealExit(name: string): boolean {
  const kind = exitReasonRow(name)?.kind;
  return kind !== 'posted' && kind !== 'shadowed';
}
