// Pause-loop detection for device registers served from the read shadow: the software
// counterpart of Intel's PAUSE-loop exiting and AMD's pause filter (SDM vol. 3, 25.1.3;
// APM vol. 2, 15.14.4), which let a hypervisor deschedule a vCPU that spins. Here the spin
// is a driver polling a register for a change, U-Boot's prompt reading LSR until a key
// comes. Served from the shadow, such a loop costs no exit, but it burns a host core
// (QEMU's TCG burns one too). It can only end when something the vCPU does not do itself
// happens: the register's grant revoked (input arrived), an interrupt, a recall, a timer
// deadline, or time passing; the vCPU sleeps on the first four, and for at most a few ms
// for the last. A loop that never read the guest's clock (the `time` CSR, the CLINT) during
// its streak, and left the hart's registers as they were at the last sighting (no counter
// towards a timeout), cannot be waiting for time: its vCPU sleeps until the grant it reads
// from runs out, as in WFI. What it leaves out: a loop that also polls RAM another vCPU of this
// process writes (a device's DMA comes as a recall, which wakes it) sees that write up to
// one grant's lease (io-backend's, 1 s by default) late; a loop that counts in RAM rather than in a register, likewise.
//
// A loop is `reads` loads of one register, each seeing the same value, with nothing between
// them that leaves the vCPU (any exit, device store or posted write ends the streak), all
// within `windowMs`. The window keeps a guest that computes between two looks at LSR from
// being taken for a spinning one: 16 reads in 0.25 ms is a read every ~16 µs or less, a
// few hundred instructions. After each sleep the streak starts again, so the guest runs a
// full streak between two sleeps; that streak is most of what an idle vCPU costs, so it is
// short. Nothing here allocates; `performance.now()` is read twice per
// streak, not per load.

export interface PollIdleOptions {
  /** Reads of one unchanged register that make a loop (default 16). */
  reads?: number;
  /** ...all of them within this many ms (default 0.25). */
  windowMs?: number;
  /** The host clock in ms (default performance.now). */
  now?: () => number;
}

export class PollDetector {
  private readonly reads: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  private addr = -1;
  private lo = 0;
  private hi = 0;
  private count = 0;
  private since = 0;
  /** The clock-read count when the streak began. */
  private clockAt = 0;
  /** Whether the last loop found read the guest's clock during its streak. */
  loopReadClock = true;

  constructor(opts: PollIdleOptions = {}) {
    this.reads = opts.reads ?? 16;
    this.windowMs = opts.windowMs ?? 0.25;
    this.now = opts.now ?? (() => performance.now());
    if (!(this.reads >= 2)) throw new Error(`poll-idle: reads=${this.reads}, expected at least 2`);
    if (!(this.windowMs > 0)) throw new Error(`poll-idle: windowMs=${this.windowMs}, expected > 0`);
  }

  /** A load of `addr` served without an exit, which read lo/hi; `clockReads`, how many
   *  times the guest has read its clock so far (absent: unknown, taken as read). True when
   *  it completes a loop: the caller may idle, after which the streak starts again;
   *  `loopReadClock` then says whether the loop looked at the clock. */
  read(addr: number, lo: number, hi: number, clockReads = -1): boolean {
    if (addr !== this.addr || lo !== this.lo || hi !== this.hi || this.count === 0) {
      this.addr = addr;
      this.lo = lo;
      this.hi = hi;
      this.count = 1;
      this.since = this.now();
      this.clockAt = clockReads;
      return false;
    }
    if (++this.count < this.reads) return false;
    const spinning = this.now() - this.since <= this.windowMs;
    this.count = 0;
    this.loopReadClock = clockReads < 0 || clockReads !== this.clockAt;
    return spinning;
  }

  /** Something left the vCPU (an exit, a device store): whatever it polled may change. */
  reset(): void {
    this.count = 0;
  }
}
