// What a vCPU asks of the world outside its process (STYLE.md 6): each port is named for
// what the vCPU uses, not for the service that provides it. adapters.ts gives one
// implementation of each over gRPC and NATS; specs give in-process fakes
// (vcpu-host.spec.ts), so a VcpuHost runs without a network.
import type { EventsV1, IoV1, MmuV1 } from '@splitvisor/proto';

/** Guest RAM's home, for one VM's page cache: runs of pages fetched and given back. Calls
 *  fail with an RpcError (UNAVAILABLE while the home restarts: the cache retries). */
export interface GuestPages {
  /** Where the pages live, for messages. */
  readonly address: string;
  /** Brings [gfn, gfn + count) for a read (shared copies) or a write (the only copies). */
  fetch(gfn: number, count: number, write: boolean, deadlineMs: number): Promise<FetchedRun>;
  /** Gives pages back (Modified ones with their bytes); `releaseAll`: the cache holds
   *  nothing after this run. */
  writeBack(pages: MmuV1.Page[], releaseAll: boolean, epoch: string, deadlineMs: number): Promise<void>;
  /** Tells a home that lost its directory every page this cache holds. */
  reregister(modified: number[], shared: number[], deadlineMs: number): Promise<void>;
}

export type FetchedRun = Pick<MmuV1.FetchPagesReply__Output, 'pages' | 'grant' | 'epoch'>;

/** The home's requests to this cache: recalls of pages it holds, and news of a restart. */
export interface PageRecalls {
  /** Answers each recall with `answer` and reports each new epoch of the home; returns
   *  the way to stop listening. */
  listen(answer: (req: MmuV1.RecallRequest__Output) => Promise<MmuV1.RecallReply>, restarted: (epoch: string) => void): () => void;
}

/** The device model, for one vCPU's MMIO: accesses in order, posted writes in line with them. */
export interface MmioPort {
  /** Where the devices live, for messages. */
  readonly address: string;
  /** One access, after the posted writes given with it. Rejects (an RpcError) when no answer came. */
  access(req: MmioAccess): Promise<IoV1.MmioReply__Output>;
  /** Posted writes alone, sent when called (on the exit stream, in line with `access`): applied
   *  after everything sent before and before anything sent after. Resolves once applied. */
  post(writes: IoV1.PostedWrite[]): Promise<void>;
  /** The vCPU is gone: what is in flight is rejected. */
  close(): void;
}

export type MmioAccess = Pick<IoV1.MmioRequest, 'addr' | 'size' | 'write' | 'valueLo' | 'valueHi' | 'posted'>;

/** The eventfds behind virtio doorbells (ioeventfd). */
export interface Doorbells {
  /** Rings until acknowledged (at least once) or `deadlineMs`; resolves with the attempts. */
  ring(bell: EventsV1.Doorbell, deadlineMs: number): Promise<number>;
}

/** The VM's interrupt lines as level state (irqfd-like). */
export interface IrqLineSource {
  /** Calls `onLine` with every change from now on (once this resolves); returns the stop. */
  follow(onLine: (l: EventsV1.IrqLine__Output) => void): Promise<() => void>;
  /** Every line's level now, as the devices report them (rejects when nobody answers). */
  current(): Promise<EventsV1.IrqLine__Output[]>;
  /** Calls `fn` whenever changes may have been missed (the link to the devices came back);
   *  returns the stop. */
  onGap(fn: () => void): () => void;
}

/** io-backend's revokes of the read shadows it granted on MMIO replies (issue 17, speed 1). */
export interface ShadowRevokes {
  /** Answers each revoke with `answer`'s acknowledgement (given once the grant is dropped);
   *  resolves, with the way to stop, once revokes are heard. */
  listen(answer: (r: EventsV1.ShadowRevoke__Output) => EventsV1.ShadowRevokeAck): Promise<() => void>;
  /** Calls `cut` when revokes can no longer be heard (the link to NATS lost) and `back`
   *  once they are again; returns the way to stop. */
  watch?(cut: () => void, back: () => void): () => void;
}

/** Everything one vCPU reaches outside its process. */
export interface VcpuPorts {
  pages: GuestPages;
  recalls: PageRecalls;
  mmio: MmioPort;
  doorbells: Doorbells;
  irqLines: IrqLineSource;
  /** Absent: no read shadow is taken (every device load exits). */
  shadowRevokes?: ShadowRevokes;
}
