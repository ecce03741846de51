// One adapter per port (ports.ts) over the lab's transports: mmu's gRPC API and its
// recalls (on a stream, and on NATS), io-backend's exit stream, doorbells and IRQ lines on
// NATS.
import type { IoV1, MmuV1 } from '@splitvisor/proto';
import {
  DoorbellCodec,
  IrqLevelsCodec,
  IrqLineCodec,
  IrqQueryCodec,
  MmuStartedCodec,
  RecallReplyCodec,
  RecallRequestCodec,
  ShadowRevokeAckCodec,
  ShadowRevokeCodec,
} from '@splitvisor/proto';
import type { RpcClient } from '@splitvisor/rpc';
import { subjects, type Bus } from '@splitvisor/bus';
import { MmioStream } from './mmio-stream.js';
import { RecallStreamClient } from './recall-stream.js';
import type { Doorbells, GuestPages, IrqLineSource, MmioPort, PageRecalls, ShadowRevokes, VcpuPorts } from './ports.js';

/** The cache's name in mmu's directory when none is given (a NATS subject token). */
export const DEFAULT_HOLDER = 'cpu';

/** A VM's pages at mmu, for the cache named `holder`. */
export function mmuGuestPages(mmu: RpcClient<MmuV1.MmuClient>, vmId: string, holder = DEFAULT_HOLDER): GuestPages {
  return {
    address: mmu.address,
    fetch: (gfn, count, write, deadlineMs) => mmu.call('FetchPages', { vmId, gfn, count, write, holder }, { deadlineMs, idempotent: true }),
    async writeBack(pages, releaseAll, epoch, deadlineMs) {
      await mmu.call('WriteBack', { vmId, holder, pages, releaseAll, epoch }, { deadlineMs, idempotent: true });
    },
    async reregister(modified, shared, deadlineMs) {
      await mmu.call('Reregister', { vmId, holder, modified, shared }, { deadlineMs, idempotent: true });
    },
  };
}

/** mmu's recalls for one cache (NATS request/reply) and its restart announcements. */
export function natsPageRecalls(bus: Bus, vmId: string, holder = DEFAULT_HOLDER): PageRecalls {
  return {
    listen(answer, restarted) {
      const subs = [
        bus.nc.subscribe(subjects.memRecall(vmId, holder), {
          callback: (err, m) => {
            if (err) return;
            let req: MmuV1.RecallRequest__Output;
            try {
              req = RecallRequestCodec.decode(m.data);
            } catch {
              return; // malformed: no answer
            }
            void answer(req).then((r) => m.respond(RecallReplyCodec.encode(r)));
          },
        }),
        bus.nc.subscribe(subjects.mmuStarted, {
          callback: (err, m) => {
            if (err) return;
            try {
              restarted(MmuStartedCodec.decode(m.data).epoch);
            } catch {
              // malformed: ignore
            }
          },
        }),
      ];
      return () => subs.forEach((s) => s.unsubscribe());
    },
  };
}

/** mmu's recalls for one cache: on a stream the cache keeps open to mmu (recall-stream.ts)
 *  and on NATS, where mmu sends them while that stream is not open. */
export function streamPageRecalls(mmu: RpcClient<MmuV1.MmuClient>, bus: Bus, vmId: string, holder = DEFAULT_HOLDER): PageRecalls {
  const nats = natsPageRecalls(bus, vmId, holder);
  return {
    listen(answer, restarted) {
      const stopNats = nats.listen(answer, restarted);
      const stream = new RecallStreamClient(mmu, vmId, holder, answer);
      return () => {
        stopNats();
        stream.close();
      };
    },
  };
}

/** One vCPU's MMIO on its exit stream to io-backend (mmio-stream.ts). */
export function streamMmioPort(io: RpcClient<IoV1.IoBackendClient>, vmId: string, vcpu: number, deadlineMs: number): MmioPort {
  const stream = new MmioStream(io, deadlineMs);
  return {
    address: io.address,
    access: (req) => stream.call({ vmId, vcpu, ...req }),
    async post(writes) {
      await stream.call({ vmId, vcpu, postedOnly: true, posted: writes });
    },
    close: () => stream.close(),
  };
}

/** Doorbells as acknowledged NATS messages. */
export function natsDoorbells(bus: Bus, vmId: string): Doorbells {
  return { ring: (bell, deadlineMs) => bus.publishAcked(subjects.doorbell(vmId), DoorbellCodec, bell, deadlineMs) };
}

/** A VM's IRQ lines on NATS: changes as events, the current levels on request. */
export function natsIrqLines(bus: Bus, vmId: string): IrqLineSource {
  return {
    async follow(onLine) {
      const stop = bus.subscribe(subjects.irq(vmId), IrqLineCodec, onLine);
      await bus.nc.flush();
      return stop;
    },
    current: async () => (await bus.request(subjects.irqQuery(vmId), IrqQueryCodec, { vmId }, IrqLevelsCodec, 2000)).lines,
    // Changes published while this cpu was cut off from NATS are gone (core NATS).
    onGap: (fn) => bus.onReconnect(fn),
  };
}

/** io-backend's read shadow revokes for one VM (NATS request/reply), answered at once. */
export function natsShadowRevokes(bus: Bus, vmId: string): ShadowRevokes {
  return {
    async listen(answer) {
      const stop = bus.serve(subjects.shadowRevoke(vmId), ShadowRevokeCodec, ShadowRevokeAckCodec, answer);
      // Live at the server before the first grant is taken.
      await bus.nc.flush();
      return stop;
    },
    watch(cut, back) {
      const offCut = bus.onDisconnect(cut);
      // onReconnect runs once the subscriptions are back at the server.
      const offBack = bus.onReconnect(back);
      return () => {
        offCut();
        offBack();
      };
    },
  };
}

/** The lab's clients a cpu holds, shared by its VMs. */
export interface VcpuBackends {
  mmu: RpcClient<MmuV1.MmuClient>;
  io: RpcClient<IoV1.IoBackendClient>;
  /** Deadline of one exit's call: past it the VM fails rather than hangs. */
  exitDeadlineMs: number;
  /** For recalls, doorbells and the VM's IRQ lines (NATS). */
  bus: Bus;
  /** mmu's recalls on a stream per VM (NATS while it is not open), or on NATS alone. */
  recallTransport?: RecallTransport;
}

export type RecallTransport = 'stream' | 'nats';

/** One VM's vCPU ports over the lab's clients. */
export function vcpuPorts(b: VcpuBackends, vmId: string): VcpuPorts {
  return {
    pages: mmuGuestPages(b.mmu, vmId),
    recalls: b.recallTransport === 'nats' ? natsPageRecalls(b.bus, vmId) : streamPageRecalls(b.mmu, b.bus, vmId),
    mmio: streamMmioPort(b.io, vmId, 0, b.exitDeadlineMs),
    doorbells: natsDoorbells(b.bus, vmId),
    irqLines: natsIrqLines(b.bus, vmId),
    shadowRevokes: natsShadowRevokes(b.bus, vmId),
  };
}
