// gRPC adapters: each handler turns a request into one call on the Mmu and its MemError
// into a status code. Nothing here decides anything about memory.
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '@splitvisor/log';
import type { MmuV1 } from '@splitvisor/proto';
import { gpa } from '@splitvisor/platform';
import {
  RpcError,
  alreadyExists,
  failedPrecondition,
  invalidArgument,
  notFound,
  resourceExhausted,
  toRpcError,
  unary,
  unavailable,
  vmIdArg,
} from '@splitvisor/rpc';
import { MemError, invalid } from './errors.js';
import type { Mmu } from './mmu.js';
import { DEFAULT_HOLDER, type DmaSegment, type VmMemory } from './vm-memory.js';
import { callerIdentity, type Identify } from './caller.js';
import type { StreamRecaller } from './recall-stream.js';

/** A MemError as the RpcError of the same meaning; anything else becomes INTERNAL. */
export function toStatus(e: unknown): RpcError {
  if (e instanceof MemError) {
    switch (e.kind) {
      case 'invalid':
        return invalidArgument(e.message);
      case 'not-found':
        return notFound(e.message);
      case 'exists':
        return alreadyExists(e.message);
      case 'exhausted':
        return resourceExhausted(e.message);
      case 'denied':
        return new RpcError('PERMISSION_DENIED', e.message);
      case 'unavailable':
        return unavailable(e.message);
      case 'precondition':
        return failedPrecondition(e.message);
    }
  }
  return toRpcError(e);
}

/** `unary`, with the memory logic's errors mapped to their status codes. */
function memUnary<Req, Res>(fn: (req: Req, call: grpc.ServerUnaryCall<Req, Res>) => Res | Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return unary(async (req: Req, call) => {
    try {
      return await fn(req, call);
    } catch (e) {
      throw toStatus(e);
    }
  });
}

/**
 * Mmu.DmaStream: each request served as DmaRead or DmaWrite would be, as it comes (several
 * at once, as unary calls would be), its reply or its error written with its seq. `caller`
 * is who opened the stream. The stream ends once the caller has ended it and every reply
 * is written.
 */
function serveDmaStream(mmu: Mmu, caller: string, call: grpc.ServerDuplexStream<MmuV1.DmaStreamRequest__Output, MmuV1.DmaStreamReply>): void {
  let inFlight = 0;
  let ended = false;
  const serve = async (req: MmuV1.DmaStreamRequest__Output): Promise<MmuV1.DmaStreamReply> => {
    try {
      if (req.read && !req.write) {
        return { seq: req.seq, read: { data: await mmu.vm(req.read.vmId).dmaRead(caller, segmentsOf(req.read.segments)) } };
      }
      if (req.write && !req.read) {
        const w = req.write;
        return { seq: req.seq, write: { bytesWritten: await mmu.vm(w.vmId).dmaWrite(caller, segmentsOf(w.segments), w.writeId) } };
      }
      throw invalidArgument(`DmaStream seq ${req.seq}: a request is a read or a write, this one is ${req.read ? 'both' : 'neither'}`);
    } catch (e) {
      const status = toStatus(e);
      return { seq: req.seq, errorCode: status.code, errorMessage: status.message };
    }
  };
  call.on('data', (req: MmuV1.DmaStreamRequest__Output) => {
    inFlight++;
    void serve(req).then((reply) => {
      inFlight--;
      if (!call.cancelled && !call.writableEnded) call.write(reply);
      if (ended && inFlight === 0 && !call.writableEnded) call.end();
    });
  });
  call.on('end', () => {
    ended = true;
    if (inFlight === 0 && !call.writableEnded) call.end();
  });
  call.on('error', () => undefined); // the caller went away: its replies have nowhere to go
}

/** A holder name, '' becoming the default; it is a NATS subject token, so checked as one. */
function holderOf(raw: string, fallback = DEFAULT_HOLDER): string {
  return raw === '' ? fallback : vmIdArg(raw, 'holder');
}

/** A request's segments: the wire's numbers are guest-physical addresses from here on. */
function segmentsOf(segs: readonly MmuV1.DmaSegment__Output[]): DmaSegment[] {
  return segs.map((s) => ({ addr: gpa(s.addr), length: s.length, data: s.data }));
}

/** LoadImage: the first chunk names the VM; each chunk is written as it arrives (the
 *  stream paused meanwhile), so an image never sits whole in the mmu's memory. The first
 *  refused chunk ends the call; what earlier chunks wrote stays (the loader reloads or
 *  releases the VM). */
function loadImage(mmu: Mmu, log: Logger): grpc.handleClientStreamingCall<MmuV1.LoadImageChunk__Output, MmuV1.LoadImageReply> {
  return (call, callback) => {
    let vm: VmMemory | undefined;
    let loaded = 0;
    let done = false;
    let chain = Promise.resolve();
    const finish = (err: RpcError | null) => {
      if (done) return;
      done = true;
      if (err) callback(err.toServiceError() as grpc.ServiceError);
      else callback(null, { bytesLoaded: loaded });
    };
    call.on('data', (chunk: MmuV1.LoadImageChunk__Output) => {
      call.pause();
      chain = chain
        .then(async () => {
          if (done) return;
          if (!vm) {
            if (!chunk.vmId) throw invalid('the first image chunk must name vmId');
            vm = mmu.vm(chunk.vmId);
          } else if (chunk.vmId && chunk.vmId !== vm.vmId) {
            throw invalid(`image chunk names vm "${chunk.vmId.slice(0, 80)}" but this stream loads vm "${vm.vmId}"`);
          }
          loaded += await vm.write(gpa(chunk.addr), chunk.data, 'image chunk');
        })
        .catch((e: unknown) => finish(toStatus(e)))
        .finally(() => call.resume());
    });
    call.on('end', () => void chain.then(() => finish(null)));
    // The client went away mid-stream: nothing to answer, and nothing left half-done,
    // since every chunk is applied whole or not at all.
    call.on('cancelled', () => {
      if (!done) log.debug({ vm: vm?.vmId, loaded }, 'image stream cancelled');
      done = true;
    });
    call.on('error', (e: Error) => {
      log.debug({ vm: vm?.vmId, err: e.message }, 'image stream failed');
      finish(toRpcError(e));
    });
  };
}

export interface HandlerOptions {
  /** How a DMA caller is identified (its certificate under TLS, else metadata). */
  identify?: Identify;
  /** The recaller that takes page caches' streams (Mmu.RecallStream); without it the
   *  call is refused UNIMPLEMENTED and recalls go over NATS alone. */
  recallStreams?: StreamRecaller;
}

export function mmuHandlers(mmu: Mmu, log: Logger, opts: HandlerOptions = {}): MmuV1.MmuHandlers {
  const identify = opts.identify ?? callerIdentity;
  return {
    CreateVm: memUnary((req: MmuV1.CreateVmRequest__Output) => {
      const vm = mmu.createVm(req.vmId, req.ramBase, req.ramSize, { replace: req.replace });
      log.info({ vm: vm.vmId, ram: vm.space.describeRam(), limitPages: vm.space.limitPages, replaced: req.replace, pool: mmu.totals() }, 'vm created');
      return {};
    }),
    LoadImage: loadImage(mmu, log),
    FetchPages: memUnary(async (req: MmuV1.FetchPagesRequest__Output): Promise<MmuV1.FetchPagesReply> => {
      const g = await mmu.vm(req.vmId).fetch(holderOf(req.holder), req.gfn, req.count, req.write);
      return { pages: g.pages, grant: g.grant, epoch: g.epoch };
    }),
    WriteBack: memUnary(async (req: MmuV1.WriteBackRequest__Output): Promise<MmuV1.WriteBackReply> => {
      const vm = mmu.vm(req.vmId);
      const stale = await vm.writeBack(holderOf(req.holder, ''), req.pages, {
        keepShared: req.keepShared,
        releaseAll: req.releaseAll,
        epoch: req.epoch,
      });
      if (stale) log.debug({ vm: vm.vmId, holder: req.holder, stale }, 'stale write-back pages dropped');
      return { epoch: mmu.epoch };
    }),
    ReleaseVm: memUnary((req: MmuV1.ReleaseVmRequest__Output) => {
      const framesFreed = mmu.releaseVm(req.vmId);
      opts.recallStreams?.releaseVm(req.vmId);
      log.info({ vm: req.vmId, framesFreed }, 'vm released');
      return { framesFreed };
    }),
    GetVmStats: memUnary((req: MmuV1.GetVmStatsRequest__Output): MmuV1.MemStats => {
      const vm = mmu.vm(req.vmId);
      return { vmId: req.vmId, ...vm.stats(), recallLatency: vm.recallLatency(req.resetLatency) };
    }),
    ProbeRecall: memUnary((req: MmuV1.ProbeRecallRequest__Output) => mmu.vm(req.vmId).probeRecall(holderOf(req.holder), req.count)),
    Reregister: memUnary(async (req: MmuV1.ReregisterRequest__Output): Promise<MmuV1.ReregisterReply> => {
      const vm = mmu.vm(req.vmId);
      const holder = holderOf(req.holder);
      const pages = await vm.reregister(holder, req.modified, req.shared, req.reset);
      if (!req.reset || req.modified.length + req.shared.length > 0) {
        log.info({ vm: vm.vmId, holder, modified: req.modified.length, shared: req.shared.length }, 'page cache re-registered');
      }
      return { epoch: mmu.epoch, pages };
    }),
    AttachDevice: memUnary((req: MmuV1.AttachDeviceRequest__Output) => {
      const vm = mmu.vm(req.vmId);
      vm.attachDevice(holderOf(req.backend, 'io-backend'));
      log.info({ vm: vm.vmId, backend: req.backend || 'io-backend' }, 'device backend attached');
      return {};
    }),
    DetachDevice: memUnary((req: MmuV1.AttachDeviceRequest__Output) => {
      mmu.vm(req.vmId).detachDevice(holderOf(req.backend, 'io-backend'));
      return {};
    }),
    DmaRead: memUnary(async (req: MmuV1.DmaReadRequest__Output, call): Promise<MmuV1.DmaReadReply> => ({
      data: await mmu.vm(req.vmId).dmaRead(identify(call), segmentsOf(req.segments)),
    })),
    DmaWrite: memUnary(async (req: MmuV1.DmaWriteRequest__Output, call): Promise<MmuV1.DmaWriteReply> => ({
      bytesWritten: await mmu.vm(req.vmId).dmaWrite(identify(call), segmentsOf(req.segments), req.writeId),
    })),
    DmaStream: (call) => serveDmaStream(mmu, identify(call), call),
    RecallStream: (call) => {
      if (opts.recallStreams) opts.recallStreams.serve(call);
      else call.emit('error', new RpcError('UNIMPLEMENTED', 'this mmu recalls over NATS only').toServiceError());
    },
    StartDirtyLog: memUnary(async (req: MmuV1.DirtyLogRequest__Output) => {
      await mmu.vm(req.vmId).startDirtyLog();
      return {};
    }),
    StopDirtyLog: memUnary(async (req: MmuV1.DirtyLogRequest__Output) => {
      await mmu.vm(req.vmId).stopDirtyLog();
      return {};
    }),
    GetDirtyLog: memUnary(async (req: MmuV1.GetDirtyLogRequest__Output): Promise<MmuV1.DirtyBitmap> => {
      const vm = mmu.vm(req.vmId);
      const { bitmap, dirty } = await vm.getDirtyLog(req.clear);
      return { firstGfn: vm.space.firstGfn, pages: vm.space.pageCount, bitmap, dirty };
    }),
    SnapshotMemory: memUnary(async (req: MmuV1.SnapshotRequest__Output): Promise<MmuV1.SnapshotReply> => {
      const vm = mmu.vm(req.vmId);
      const info = await vm.snapshot(mmu.snapshotPath(req.name));
      log.info({ vm: vm.vmId, ...info }, 'memory snapshot written');
      return info;
    }),
    RestoreMemory: memUnary(async (req: MmuV1.RestoreRequest__Output): Promise<MmuV1.RestoreReply> => {
      const vm = mmu.vm(req.vmId);
      const r = await vm.restore(mmu.snapshotPath(req.name), req.sha256 || undefined);
      log.info({ vm: vm.vmId, name: req.name, ...r }, 'memory restored from snapshot');
      return r;
    }),
  };
}
