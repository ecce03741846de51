// The hypervisor's SBI (RISC-V SBI spec 2.0): what a guest kernel in VS-mode asks of the
// layer below it with ECALL, as KVM answers it in vcpu_sbi*.c. One dispatcher for every
// mode whose guest has no firmware of its own (hw now; trap and pv later): the extension
// and function are decoded here, the effects (timer, console, reset) are the monitor's.
//
// Calling convention (SBI 2.0 ch. 3): a7 = extension (EID), a6 = function (FID), a0-a5 the
// arguments; the answer is a0 = error, a1 = value. The legacy extensions (EID 0x00-0x08,
// ch. 5) return one value in a0 and have no FID.

export const SBI_SUCCESS = 0n;
export const SBI_ERR_FAILED = -1n;
export const SBI_ERR_NOT_SUPPORTED = -2n;
export const SBI_ERR_INVALID_PARAM = -3n;
export const SBI_ERR_ALREADY_AVAILABLE = -6n;

export const SbiExt = {
  Base: 0x10,
  Time: 0x54494d45,
  Ipi: 0x735049,
  Rfence: 0x52464e43,
  Hsm: 0x48534d,
  Srst: 0x53525354,
  Dbcn: 0x4442434e,
  LegacySetTimer: 0x00,
  LegacyPutchar: 0x01,
  LegacyGetchar: 0x02,
  LegacyClearIpi: 0x03,
  LegacySendIpi: 0x04,
  LegacyRemoteFenceI: 0x05,
  LegacyRemoteSfenceVma: 0x06,
  LegacyRemoteSfenceVmaAsid: 0x07,
  LegacyShutdown: 0x08,
} as const;

/** Extensions answered, by name: the rows of the monitor's per-extension counters. */
export const SBI_EXTENSIONS = ['base', 'time', 'ipi', 'rfence', 'hsm', 'srst', 'dbcn', 'legacy', 'unknown'] as const;
export type SbiExtensionName = (typeof SBI_EXTENSIONS)[number];

/** SBI 2.0 base: spec version 2.0 (bits 30:24 major, 23:0 minor). */
const SPEC_VERSION = 2n << 24n;
/**
 * sbi_get_impl_id: not one of the registry's (0 BBL, 1 OpenSBI, 2 Xvisor, 3 KVM, ...): we
 * are none of those, so an unregistered value, "SV" in ASCII. Linux prints it at boot.
 */
export const SPLITVISOR_SBI_IMPL_ID = 0x5356n;
const IMPL_VERSION = 1n;

/** The system reset types and reasons of SRST (SBI 2.0 ch. 10). */
export const ResetType = { Shutdown: 0, ColdReboot: 1, WarmReboot: 2 } as const;

/** What the monitor does for the calls; the dispatcher only decodes and checks. */
export interface SbiHost {
  /** The only hart's id (a VM has one vCPU so far). */
  readonly hartId: number;
  /** Programs the guest's timer: VSTIP rises when `time` >= deadline; clears it now. */
  setTimer(deadline: bigint): void;
  /** Raises the guest's supervisor software interrupt (hvip.VSSIP). */
  sendIpi(): void;
  /** SFENCE.VMA / FENCE.I on the guest's behalf. */
  flushTlb(): void;
  fenceI(): void;
  /** Shutdown (exit code: 0, or 1 for a system failure) or reboot. Ends the vCPU. */
  systemReset(type: 'shutdown' | 'reboot', failure: boolean): void;
  /** Writes guest bytes at guest-physical `gpa` to the console; the count written, or an
   *  SBI error when the range is not guest RAM. */
  consoleWrite(gpa: bigint, length: bigint): { error: bigint; count: bigint };
  consoleWriteByte(byte: number): void;
  /** Reads up to `length` waiting console bytes into guest RAM at `gpa`. */
  consoleRead(gpa: bigint, length: bigint): { error: bigint; count: bigint };
  /** One console byte, or -1 when none waits (legacy getchar). */
  consoleGetByte(): number;
}

export interface SbiAnswer {
  error: bigint;
  value: bigint;
  /** Legacy calls return only a0 (= error here); a1 is left as it was. */
  legacy: boolean;
  /** The counter row the call goes to. */
  ext: SbiExtensionName;
}

const answer = (ext: SbiExtensionName, error: bigint, value = 0n): SbiAnswer => ({ error, value, legacy: false, ext });
const legacy = (value: bigint): SbiAnswer => ({ error: value, value: 0n, legacy: true, ext: 'legacy' });
const u64 = (x: bigint) => BigInt.asUintN(64, x);
const XLEN_MASK = (1n << 64n) - 1n;

/** Whether an extension is answered (sbi_probe_extension). */
export function sbiProbe(eid: bigint): boolean {
  const e = Number(u64(eid));
  if (u64(eid) > 0xffffffffn) return false;
  return (
    e === SbiExt.Base ||
    e === SbiExt.Time ||
    e === SbiExt.Ipi ||
    e === SbiExt.Rfence ||
    e === SbiExt.Hsm ||
    e === SbiExt.Srst ||
    e === SbiExt.Dbcn ||
    (e >= SbiExt.LegacySetTimer && e <= SbiExt.LegacyShutdown)
  );
}

/**
 * Serves one ECALL from VS-mode: `a` is a0..a7 as read from the hart. Never throws for a
 * guest's values: an unknown extension or function is SBI_ERR_NOT_SUPPORTED, a bad
 * argument SBI_ERR_INVALID_PARAM, as the spec asks.
 */
export function serveSbi(a: readonly bigint[], host: SbiHost): SbiAnswer {
  const eidRaw = u64(a[7]!);
  const fid = Number(u64(a[6]!) & 0xffffffffn);
  if (eidRaw > 0xffffffffn) return answer('unknown', SBI_ERR_NOT_SUPPORTED);
  const eid = Number(eidRaw);
  switch (eid) {
    case SbiExt.Base:
      return base(fid, a);
    case SbiExt.Time:
      if (fid !== 0) return answer('time', SBI_ERR_NOT_SUPPORTED);
      host.setTimer(u64(a[0]!));
      return answer('time', SBI_SUCCESS);
    case SbiExt.Ipi: {
      if (fid !== 0) return answer('ipi', SBI_ERR_NOT_SUPPORTED);
      const hit = hartsNamed(a[0]!, a[1]!, host.hartId);
      if (hit === 'invalid') return answer('ipi', SBI_ERR_INVALID_PARAM);
      if (hit) host.sendIpi();
      return answer('ipi', SBI_SUCCESS);
    }
    case SbiExt.Rfence:
      return rfence(fid, a, host);
    case SbiExt.Hsm:
      return hsm(fid, a, host);
    case SbiExt.Srst: {
      if (fid !== 0) return answer('srst', SBI_ERR_NOT_SUPPORTED);
      const type = u64(a[0]!);
      const reason = u64(a[1]!);
      // Reset types 0-2 and reasons 0 (none) / 1 (system failure) are the spec's; the
      // rest are reserved or vendor-specific: INVALID_PARAM (SBI 2.0 10.1).
      if (type > 2n || reason > 1n) return answer('srst', SBI_ERR_INVALID_PARAM);
      host.systemReset(type === 0n ? 'shutdown' : 'reboot', reason === 1n);
      return answer('srst', SBI_SUCCESS);
    }
    case SbiExt.Dbcn:
      return dbcn(fid, a, host);
    case SbiExt.LegacySetTimer:
      host.setTimer(u64(a[0]!));
      return legacy(0n);
    case SbiExt.LegacyPutchar:
      host.consoleWriteByte(Number(u64(a[0]!) & 0xffn));
      return legacy(0n);
    case SbiExt.LegacyGetchar:
      return legacy(BigInt(host.consoleGetByte()));
    case SbiExt.LegacyClearIpi:
      return legacy(0n);
    case SbiExt.LegacySendIpi:
      // The argument is a pointer to a mask in guest memory; with one hart, any IPI is to it.
      host.sendIpi();
      return legacy(0n);
    case SbiExt.LegacyRemoteFenceI:
      host.fenceI();
      return legacy(0n);
    case SbiExt.LegacyRemoteSfenceVma:
    case SbiExt.LegacyRemoteSfenceVmaAsid:
      host.flushTlb();
      return legacy(0n);
    case SbiExt.LegacyShutdown:
      host.systemReset('shutdown', false);
      return legacy(0n);
    default:
      return answer('unknown', SBI_ERR_NOT_SUPPORTED);
  }
}

function base(fid: number, a: readonly bigint[]): SbiAnswer {
  switch (fid) {
    case 0:
      return answer('base', SBI_SUCCESS, SPEC_VERSION);
    case 1:
      return answer('base', SBI_SUCCESS, SPLITVISOR_SBI_IMPL_ID);
    case 2:
      return answer('base', SBI_SUCCESS, IMPL_VERSION);
    case 3:
      return answer('base', SBI_SUCCESS, sbiProbe(a[0]!) ? 1n : 0n);
    case 4: // mvendorid, marchid, mimpid: the hart's, which are 0 (not implemented)
    case 5:
    case 6:
      return answer('base', SBI_SUCCESS, 0n);
    default:
      return answer('base', SBI_ERR_NOT_SUPPORTED);
  }
}

/**
 * Does (hart_mask, hart_mask_base) name hart `id`? 'invalid' when it names a hart that
 * does not exist (SBI 2.0 3.2: base = -1 means every hart, the mask is then ignored).
 */
export function hartsNamed(mask: bigint, maskBase: bigint, id: number): boolean | 'invalid' {
  if (u64(maskBase) === XLEN_MASK) return true;
  const b = u64(maskBase);
  const m = u64(mask);
  if (m === 0n) return false;
  const bit = BigInt(id) - b;
  const others = bit >= 0n && bit < 64n ? m & ~(1n << bit) : m;
  if (others !== 0n) return 'invalid';
  return true;
}

function rfence(fid: number, a: readonly bigint[], host: SbiHost): SbiAnswer {
  // 0 fence.i, 1 sfence.vma, 2 sfence.vma.asid; 3-6 are the HFENCEs, for a guest that is
  // itself a hypervisor: this one offers no H extension to its guests.
  if (fid > 2) return answer('rfence', SBI_ERR_NOT_SUPPORTED);
  const hit = hartsNamed(a[0]!, a[1]!, host.hartId);
  if (hit === 'invalid') return answer('rfence', SBI_ERR_INVALID_PARAM);
  if (hit) {
    if (fid === 0) host.fenceI();
    else host.flushTlb();
  }
  return answer('rfence', SBI_SUCCESS);
}

function hsm(fid: number, a: readonly bigint[], host: SbiHost): SbiAnswer {
  const hart = u64(a[0]!);
  switch (fid) {
    case 0: // hart_start: the only hart runs already
      return answer('hsm', hart === BigInt(host.hartId) ? SBI_ERR_ALREADY_AVAILABLE : SBI_ERR_INVALID_PARAM);
    case 1: // hart_stop: the last running hart may not stop (the VM would be gone unseen)
      return answer('hsm', SBI_ERR_FAILED);
    case 2: // hart_get_status: STARTED (0)
      return hart === BigInt(host.hartId) ? answer('hsm', SBI_SUCCESS, 0n) : answer('hsm', SBI_ERR_INVALID_PARAM);
    case 3: {
      // hart_suspend: the default retentive suspend (type 0) is a WFI; the non-retentive
      // ones (0x80000000) would resume elsewhere: not offered.
      const type = u64(a[0]!);
      if (type === 0n) return answer('hsm', SBI_SUCCESS);
      return answer('hsm', type < 0x80000000n ? SBI_ERR_INVALID_PARAM : SBI_ERR_NOT_SUPPORTED);
    }
    default:
      return answer('hsm', SBI_ERR_NOT_SUPPORTED);
  }
}

function dbcn(fid: number, a: readonly bigint[], host: SbiHost): SbiAnswer {
  switch (fid) {
    case 0: {
      const r = host.consoleWrite(u64(a[1]!) | (u64(a[2]!) << 64n), u64(a[0]!));
      return answer('dbcn', r.error, r.count);
    }
    case 1: {
      const r = host.consoleRead(u64(a[1]!) | (u64(a[2]!) << 64n), u64(a[0]!));
      return answer('dbcn', r.error, r.count);
    }
    case 2:
      host.consoleWriteByte(Number(u64(a[0]!) & 0xffn));
      return answer('dbcn', SBI_SUCCESS);
    default:
      return answer('dbcn', SBI_ERR_NOT_SUPPORTED);
  }
}

/** A 64-bit time value (set_timer, stimecmp) in time ticks; Infinity past what a number holds exactly. */
export function deadlineTicks(x: bigint): number {
  return x >= BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(x);
}

/** The registers an SBI call reads and writes (Hart's, narrowed). */
export interface SbiRegisters {
  getReg(i: number): bigint;
  setReg(i: number, v: bigint): void;
}

/** Serves the ECALL in a0..a7 of `regs` through `host`, writes the answer back (a0, and a1
 *  unless legacy) and counts it by extension; the caller moves the pc past the ECALL. */
export function callSbi(regs: SbiRegisters, host: SbiHost, counts: Record<SbiExtensionName, number>): void {
  const a: bigint[] = [];
  for (let r = 10; r <= 17; r++) a.push(regs.getReg(r));
  const ans = serveSbi(a, host);
  counts[ans.ext]++;
  regs.setReg(10, ans.error);
  if (!ans.legacy) regs.setReg(11, ans.value);
}
