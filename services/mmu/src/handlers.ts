// gRPC adapters: each handler turns a request into one call on the Mmu and its MemError
// into a status code. Nothing here decides anything about memory.
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '@splitvisor/log';
import type { MmuV1 } from '@splitvisor/proto';
import { RpcError, alreadyExists, invalidArgument, notFound, resourceExhausted, toRpcError, unary } from '@splitvisor/rpc';
import { MemError, invalid } from './errors.js';
import type { Mmu } from './mmu.js';
import type { AddressSpace } from './address-space.js';

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
    }
  }
  return toRpcError(e);
}

/** `unary`, with the memory logic's errors mapped to their status codes. */
function memUnary<Req, Res>(fn: (req: Req) => Res): grpc.handleUnaryCall<Req, Res> {
  return unary((req: Req) => {
    try {
      return fn(req);
    } catch (e) {
      throw toStatus(e);
    }
  });
}

/** LoadImage: the first chunk names the VM; each chunk is written as it arrives, so an
 *  image never sits whole in the mmu's memory. The first refused chunk ends the call;
 *  what earlier chunks wrote stays (the loader reloads or releases the VM). */
function loadImage(mmu: Mmu, log: Logger): grpc.handleClientStreamingCall<MmuV1.LoadImageChunk__Output, MmuV1.LoadImageReply> {
  return (call, callback) => {
    let space: AddressSpace | undefined;
    let loaded = 0;
    let done = false;
    const finish = (err: RpcError | null) => {
      if (done) return;
      done = true;
      if (err) callback(err.toServiceError() as grpc.ServiceError);
      else callback(null, { bytesLoaded: loaded });
    };
    call.on('data', (chunk: MmuV1.LoadImageChunk__Output) => {
      if (done) return;
      try {
        if (!space) {
          if (!chunk.vmId) throw invalid('the first image chunk must name vmId');
          space = mmu.vm(chunk.vmId);
        } else if (chunk.vmId && chunk.vmId !== space.vmId) {
          throw invalid(`image chunk names vm "${chunk.vmId.slice(0, 80)}" but this stream loads vm "${space.vmId}"`);
        }
        loaded += space.write(chunk.addr, chunk.data, 'image chunk');
      } catch (e) {
        finish(toStatus(e));
      }
    });
    call.on('end', () => finish(null));
    // The client went away mid-stream: nothing to answer, and nothing left half-done,
    // since every chunk is applied whole or not at all.
    call.on('cancelled', () => {
      if (!done) log.debug({ vm: space?.vmId, loaded }, 'image stream cancelled');
      done = true;
    });
    call.on('error', (e: Error) => {
      log.debug({ vm: space?.vmId, err: e.message }, 'image stream failed');
      finish(toRpcError(e));
    });
  };
}

export function mmuHandlers(mmu: Mmu, log: Logger): MmuV1.MmuHandlers {
  return {
    CreateVm: memUnary((req: MmuV1.CreateVmRequest__Output) => {
      const space = mmu.createVm(req.vmId, req.ramBase, req.ramSize);
      log.info({ vm: space.vmId, ram: space.describeRam(), limitPages: space.limitPages }, 'vm created');
      return {};
    }),
    LoadImage: loadImage(mmu, log),
    FetchPages: memUnary((req: MmuV1.FetchPagesRequest__Output): MmuV1.FetchPagesReply => ({
      pages: mmu.vm(req.vmId).fetch(req.gfn, req.count, req.write),
    })),
    WriteBack: memUnary((req: MmuV1.WriteBackRequest__Output) => {
      mmu.vm(req.vmId).writeBack(req.pages);
      return {};
    }),
    ReleaseVm: memUnary((req: MmuV1.ReleaseVmRequest__Output) => {
      const framesFreed = mmu.releaseVm(req.vmId);
      log.info({ vm: req.vmId, framesFreed }, 'vm released');
      return { framesFreed };
    }),
    GetVmStats: memUnary((req: MmuV1.GetVmStatsRequest__Output): MmuV1.MemStats => ({
      vmId: req.vmId,
      ...mmu.vm(req.vmId).stats(),
    })),
  };
}
