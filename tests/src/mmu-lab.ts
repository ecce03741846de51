// Shared by the mmu-*.spec.ts whole-system tests: mmu, io-backend and cpu as real
// processes on a real NATS, driven over their own gRPC APIs (no dom0: these tests are
// about memory, and the lab's control plane is tested elsewhere), and guests/memcheck,
// which says everything it has to say in its own RAM, read back through mmu's DMA API.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { protos, type CpuV1, type MmuV1 } from '@splitvisor/proto';
import { RpcClient, RpcError, deadlineIn } from '@splitvisor/rpc';
import { REPO_ROOT, startTestLab, type TestLab } from '@splitvisor/testing';

export const RAM = 0x80000000;
export const MIB = 1024 * 1024;
export const PAGE = 4096;

/** guests/memcheck's layout (see its source). */
export const MEMCHECK = {
  image: readFileSync(join(REPO_ROOT, 'guests/memcheck/memcheck.bin')),
  config: 0x80001000,
  status: 0x80002000,
  mailbox: 0x80003000,
  regionA: 0x80010000,
  aWords: 32768,
  touch: 0x80100000,
} as const;

/** The word memcheck keeps at REGION_A + 8 * i. */
export function pattern(i: number): bigint {
  const x = BigInt(i);
  return ((x << 40n) ^ (x << 20n) ^ x ^ 0x5a5aa5a5n) & 0xffffffffffffffffn;
}

/** REGION_A as memcheck writes it. */
export function patternBytes(): Buffer {
  const b = Buffer.alloc(MEMCHECK.aWords * 8);
  for (let i = 0; i < MEMCHECK.aWords; i++) b.writeBigUInt64LE(pattern(i), i * 8);
  return b;
}

export interface MemcheckStatus {
  passes: number;
  errors: number;
  mailbox: bigint;
  wrongAt: number;
  touchTicks: number;
  phase: number;
  checksum: bigint;
}

/** Metadata naming the caller; '' names none. */
export function callerMeta(caller: string): grpc.Metadata {
  const md = new grpc.Metadata();
  if (caller) md.set('x-splitvisor-caller', caller);
  return md;
}

export class MemLab {
  readonly mmu: RpcClient<MmuV1.MmuClient>;
  readonly cpu: RpcClient<CpuV1.CpuClient>;

  private constructor(readonly t: TestLab) {
    this.mmu = new RpcClient<MmuV1.MmuClient>(protos().mmu.Mmu, t.addresses.mmu, { deadlineMs: 10_000 });
    this.cpu = new RpcClient<CpuV1.CpuClient>(protos().cpu.Cpu, t.addresses.cpu, { deadlineMs: 10_000 });
  }

  /** `serviceEnv`: extra environment per service (mmu's pool size, say). */
  static async start(serviceEnv: Partial<Record<'mmu' | 'io-backend' | 'cpu', Record<string, string>>> = {}): Promise<MemLab> {
    return new MemLab(await startTestLab({ only: ['mmu', 'io-backend', 'cpu'], serviceEnv }));
  }

  /** The service's log lines so far, for a failing test's message. */
  log(service: string): string {
    return this.t.lines
      .filter((l) => l.service === service)
      .map((l) => l.line)
      .join('\n');
  }

  async loadImage(vmId: string, chunks: { addr: number; data: Uint8Array }[]): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const call = this.mmu.raw.LoadImage(new grpc.Metadata(), { deadline: deadlineIn(10_000) }, (err) => (err ? reject(RpcError.fromGrpc(err)) : resolve()));
      chunks.forEach((c, i) => call.write({ vmId: i === 0 ? vmId : '', addr: c.addr, data: c.data }));
      call.end();
    });
  }

  /** Creates the VM in mmu with memcheck loaded (touching `touchBytes` first), lets
   *  io-backend DMA into it, and starts its vCPU. */
  async bootMemcheck(vmId: string, ramBytes: number, touchBytes = 0): Promise<void> {
    await this.mmu.call('CreateVm', { vmId, ramBase: RAM, ramSize: ramBytes });
    const config = Buffer.alloc(8);
    config.writeBigUInt64LE(BigInt(touchBytes));
    await this.loadImage(vmId, [
      { addr: RAM, data: MEMCHECK.image },
      { addr: MEMCHECK.config, data: config },
    ]);
    await this.mmu.call('AttachDevice', { vmId, backend: 'io-backend' });
    await this.cpu.call('StartVm', { vmId, ramBase: RAM, ramSize: ramBytes, entry: RAM, dtbAddr: 0, vcpus: 1 });
  }

  dmaRead(vmId: string, segments: { addr: number; length: number }[], caller = 'io-backend'): Promise<Buffer[]> {
    return this.mmu.call('DmaRead', { vmId, segments }, { metadata: callerMeta(caller) }).then((r) => r.data);
  }

  dmaWrite(vmId: string, segments: { addr: number; data: Uint8Array }[], caller = 'io-backend'): Promise<number> {
    return this.mmu.call('DmaWrite', { vmId, segments }, { metadata: callerMeta(caller) }).then((r) => r.bytesWritten);
  }

  /** memcheck's STATUS page, read as a device reads it (the guest holds it Modified). */
  async status(vmId: string): Promise<MemcheckStatus> {
    const [b] = await this.dmaRead(vmId, [{ addr: MEMCHECK.status, length: 64 }]);
    return {
      passes: Number(b!.readBigUInt64LE(0)),
      errors: Number(b!.readBigUInt64LE(8)),
      mailbox: b!.readBigUInt64LE(16),
      wrongAt: Number(b!.readBigUInt64LE(32)),
      touchTicks: Number(b!.readBigUInt64LE(40)),
      phase: Number(b!.readBigUInt64LE(48)),
      checksum: b!.readBigUInt64LE(56),
    };
  }

  /** Polls memcheck's status until `ok` says so. */
  async until(vmId: string, ok: (s: MemcheckStatus) => boolean, what: string, timeoutMs = 20_000): Promise<MemcheckStatus> {
    const end = Date.now() + timeoutMs;
    let s: MemcheckStatus | undefined;
    while (Date.now() < end) {
      s = await this.status(vmId);
      if (ok(s)) return s;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(
      `memcheck in ${vmId}: ${what} did not happen within ${timeoutMs} ms (last status ${JSON.stringify(s, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))})`,
    );
  }

  async close(): Promise<void> {
    this.mmu.close();
    this.cpu.close();
    await this.t.teardown();
  }
}

/** The RpcError a promise rejects with (or a failure when it resolves). */
export async function refusal(p: Promise<unknown>): Promise<RpcError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof RpcError)) throw new Error(`expected an RpcError, got ${String(e)}`);
  return e;
}
