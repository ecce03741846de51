// Spin loops on guest RAM while a device works: poll-idle.ts's counterpart for a driver that
// waits by reading memory, not a register. U-Boot's virtio drivers ring the doorbell, then
// spin on the used ring (`while (!virtqueue_get_buf(vq, NULL));`) until the device has
// answered. Here that loop held a host core for the whole request, on a 2-core machine the
// core io-backend and mmu needed to move the request's data: `bench virtio`'s 16 MiB `load`
// took 0.23 s with the vCPU spinning, 0.17 s with its thread reniced to 19 by hand.
//
// The loop can end only through something the vCPU does not do itself: a DMA write to the
// page it reads (mmu recalls that page from this vCPU first, and a recall wakes an idle
// vCPU), an interrupt, a pause or stop, or time (a loop that reads the guest's clock keeps
// it in a register and so does not look the same twice, below). So once the vCPU is seen
// spinning it sleeps, as in WFI, until one of those comes, or a short cap passes.
//
// Seen spinning: the batch ended on its budget without any exit or posted write, a
// doorbell was rung not long before (its probes that found nothing not yet used up), and
// stepping the hart one instruction at a time from where the batch ended comes back to
// that pc within MAX_STEPS instructions with every register, the pc and the privilege as
// they were, with no exit, posted write, trap or clock read on the way. A loop that changed
// nothing a register holds between two passes, and left the vCPU for nothing, repeats
// itself until the outside changes. What it leaves out: stores to RAM are not watched, so a
// loop that counts in memory rather than in a register (a `volatile` delay loop) is taken
// for a spin and slowed by at most CAP_MS a probe; it still runs, as on a loaded host.
// Nothing here allocates but the hand-back of a step's exit; a probe costs at most MAX_STEPS single steps, and runs only
// after a doorbell, so a guest computing with no device at work never pays for it.
//
// Measured: `node scripts/bench/virtio.mjs` (16 MiB `load`, warm, 5 runs) and `node
// scripts/bench/io.mjs --only=load`; the numbers are in the README.

/** What a probe needs of the hart (Hart from @splitvisor/riscv). */
export interface SteppableHart<E extends { kind: string }> {
  run(budget: number): E;
  getPc(): number;
  registersUnchanged(snap: Int32Array): boolean;
  readonly stats: { readonly traps: number };
  readonly timeReads: number;
}

/** Instructions a probe steps before it gives up: a polling loop is tens (U-Boot's wait
 *  on a used ring is 40, call and return included). */
export const MAX_STEPS = 128;
/** Batches after a doorbell that may be probed and found not spinning: the wait for the
 *  device is right after it. A guest that rings and goes on computing (an interrupt-driven
 *  driver) pays at most this many probes a doorbell. */
export const PROBES_PER_DOORBELL = 2;
/** Longest sleep of a spinning vCPU with no wake (the loop may count in RAM). */
export const CAP_MS = 20;

export type ProbeResult<E> = { kind: 'spin' } | { kind: 'no' } | { kind: 'exit'; exit: E };

const SPIN = Object.freeze({ kind: 'spin' as const });
const NO = Object.freeze({ kind: 'no' as const });

export class RamSpinProbe {
  private probesLeft = 0;
  private readonly snap: Int32Array;
  /** Probes made and spins found (tests; the exit table counts the sleeps as poll-idle). */
  readonly counts = { probes: 0, spins: 0 };

  constructor(snapshotWords: number) {
    this.snap = new Int32Array(snapshotWords);
  }

  /** A doorbell was rung: the batches after it may be a wait for the device. */
  doorbell(): void {
    this.probesLeft = PROBES_PER_DOORBELL;
  }

  /** Whether to probe after a batch that ended on its budget with nothing leaving the vCPU. */
  due(): boolean {
    return this.probesLeft > 0;
  }

  /**
   * Steps `hart` until it is back at its pc. `sideEffects()` counts what left the vCPU
   * (exits, posted writes) and `clockReads()` the guest's reads of its clock (CLINT loads
   * included). A step that ends otherwise than on its budget (WFI, a stop, a fatal error)
   * is handed back for the caller's loop to handle as it would after a batch.
   */
  probe<E extends { kind: string }>(hart: SteppableHart<E>, sideEffects: () => number, clockReads: () => number): ProbeResult<E> {
    this.counts.probes++;
    const pc = hart.getPc();
    const fx = sideEffects();
    const clock = clockReads();
    const traps = hart.stats.traps;
    hart.registersUnchanged(this.snap);
    for (let i = 0; i < MAX_STEPS; i++) {
      const e = hart.run(1);
      if (e.kind !== 'budget') {
        this.probesLeft = 0;
        return { kind: 'exit', exit: e };
      }
      if (sideEffects() !== fx || clockReads() !== clock || hart.stats.traps !== traps) break;
      if (hart.getPc() === pc) {
        if (!hart.registersUnchanged(this.snap)) break;
        this.counts.spins++;
        // Still waiting after the sleep: probe again at the next batch.
        this.probesLeft = PROBES_PER_DOORBELL;
        return SPIN;
      }
    }
    this.probesLeft--;
    return NO;
  }
}
