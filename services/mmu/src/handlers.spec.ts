// The handlers over real gRPC on loopback: a real RpcServer, a real generated client.
import { afterEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { DRAM_BASE, PAGE_SIZE, gpa } from '@splitvisor/platform';
import { protos, type MmuV1 } from '@splitvisor/proto';
import { RpcClient, RpcError, RpcServer } from '@splitvisor/rpc';
import { silentLogger } from '@splitvisor/testing';
import { FramePool } from './frame-pool.js';
import { mmuHandlers } from './handlers.js';
import { Mmu } from './mmu.js';

const MIB = 1024 * 1024;
const BASE_GFN = DRAM_BASE / PAGE_SIZE;
const log = silentLogger('mmu-test');

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function startMmu(poolMib = 64) {
  const pool = FramePool.ofMib(poolMib);
  const mmu = new Mmu(pool);
  const server = new RpcServer({ name: 'splitvisor.mmu.v1.Mmu', listen: '127.0.0.1:0', log });
  server.add(protos().mmu.Mmu.service, mmuHandlers(mmu, log));
  const port = await server.start();
  cleanups.push(() => server.stop(100));
  const client = new RpcClient<MmuV1.MmuClient>(protos().mmu.Mmu, `127.0.0.1:${port}`, { deadlineMs: 3000 });
  cleanups.push(() => client.close());
  return { mmu, pool, client };
}

type Client = RpcClient<MmuV1.MmuClient>;

/** Streams `chunks` as one LoadImage call. */
function loadImage(client: Client, chunks: MmuV1.LoadImageChunk[]): Promise<MmuV1.LoadImageReply__Output> {
  return new Promise((resolve, reject) => {
    const stream = client.raw.LoadImage(new grpc.Metadata(), { deadline: Date.now() + 3000 }, (err, res) =>
      err ? reject(RpcError.fromGrpc(err)) : resolve(res!),
    );
    for (const c of chunks) stream.write(c);
    stream.end();
  });
}

async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(RpcError);
  return { code: (e as RpcError).code, message: (e as RpcError).message };
}

/** An image of `n` bytes no page of which repeats. */
function image(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i += 4) b.writeUInt32LE((i * 2654435761) >>> 0, i);
  return b;
}

describe('mmu handlers over real gRPC', () => {
  it('loads an image in chunks and fetches it back byte for byte; untouched pages come back zero', async () => {
    const { client } = await startMmu();
    await client.call('CreateVm', { vmId: 'web-1', ramBase: DRAM_BASE, ramSize: 64 * MIB });
    const img = image(3 * PAGE_SIZE + 1000);
    const chunks: MmuV1.LoadImageChunk[] = [];
    for (let off = 0; off < img.length; off += 5000) {
      chunks.push({ vmId: off === 0 ? 'web-1' : '', addr: DRAM_BASE + off, data: img.subarray(off, off + 5000) });
    }
    expect(chunks.length).toBeGreaterThan(2);
    expect(await loadImage(client, chunks)).toEqual({ bytesLoaded: img.length });

    const { pages } = await client.call('FetchPages', { vmId: 'web-1', gfn: BASE_GFN, count: 5 });
    expect(pages.map((p) => [p.gfn, p.zero, p.data.length])).toEqual([
      [BASE_GFN, false, PAGE_SIZE],
      [BASE_GFN + 1, false, PAGE_SIZE],
      [BASE_GFN + 2, false, PAGE_SIZE],
      [BASE_GFN + 3, false, PAGE_SIZE],
      [BASE_GFN + 4, true, 0],
    ]);
    const back = Buffer.concat(pages.slice(0, 4).map((p) => p.data));
    expect(back.subarray(0, img.length).equals(img)).toBe(true);
    expect(back.subarray(img.length).every((x) => x === 0)).toBe(true);

    const stats = await client.call('GetVmStats', { vmId: 'web-1' });
    expect(stats).toEqual({
      vmId: 'web-1',
      residentPages: 4,
      firstTouchFaults: 5,
      fetches: 5,
      writeBacks: 0,
      limitPages: 16384,
      recalls: 0,
      updateRecalls: 0,
      streamedRecalls: 0,
      recalledPages: 0,
      dmaReadBytes: 0,
      dmaWriteBytes: 0,
      dmaWriteRepeats: 0,
      heldModified: 0,
      heldShared: 5, // the fetch was for read: the default holder "cpu" has Shared copies
      dirtyLogging: false,
      recovering: false,
      recallLatency: { samples: 0, p50Us: 0, p99Us: 0, meanUs: 0 },
    });
  });

  it('writes pages back and fetches what was written; a zero write-back frees the frame', async () => {
    const { client, pool } = await startMmu();
    await client.call('CreateVm', { vmId: 'vm', ramBase: DRAM_BASE, ramSize: MIB });
    const p = image(PAGE_SIZE);
    await client.call('WriteBack', { vmId: 'vm', pages: [{ gfn: BASE_GFN + 7, data: p }] });
    expect(pool.usedBy('vm')).toBe(1);
    const { pages } = await client.call('FetchPages', { vmId: 'vm', gfn: BASE_GFN + 7, count: 1, write: true });
    expect(pages[0]!.zero).toBe(false);
    expect(pages[0]!.data.equals(p)).toBe(true);

    // The holder that has the page Modified gives it back as zero.
    await client.call('WriteBack', { vmId: 'vm', holder: 'cpu', pages: [{ gfn: BASE_GFN + 7, zero: true }] });
    expect(pool.usedBy('vm')).toBe(0);
    const again = await client.call('FetchPages', { vmId: 'vm', gfn: BASE_GFN + 7, count: 1 });
    expect(again.pages).toEqual([{ gfn: BASE_GFN + 7, zero: true, keep: false, data: Buffer.alloc(0) }]);
    expect(await client.call('GetVmStats', { vmId: 'vm' })).toMatchObject({ residentPages: 0, writeBacks: 2, fetches: 2, firstTouchFaults: 1 });
  });

  it('names the addresses when a chunk or a fetch falls outside RAM', async () => {
    const { client, pool } = await startMmu();
    await client.call('CreateVm', { vmId: 'vm', ramBase: DRAM_BASE, ramSize: 64 * MIB });
    expect(await refusal(loadImage(client, [{ vmId: 'vm', addr: DRAM_BASE - PAGE_SIZE, data: Buffer.alloc(2 * PAGE_SIZE) }]))).toEqual({
      code: 'INVALID_ARGUMENT',
      message: 'image chunk [0x7ffff000, 0x80001000) lies outside RAM [0x80000000, 0x84000000)',
    });
    expect(pool.used).toBe(0);
    expect(await refusal(client.call('FetchPages', { vmId: 'vm', gfn: 0x84000, count: 1 }))).toEqual({
      code: 'INVALID_ARGUMENT',
      message: 'fetch of page at 0x84000000 (gfn 0x84000) lies outside RAM [0x80000000, 0x84000000)',
    });
    expect(await refusal(client.call('FetchPages', { vmId: 'vm', gfn: BASE_GFN, count: 257 }))).toEqual({
      code: 'INVALID_ARGUMENT',
      message: 'fetch count 257 must be between 1 and 256',
    });
    expect((await refusal(client.call('FetchPages', { vmId: 'vm', gfn: BASE_GFN, count: 0 }))).code).toBe('INVALID_ARGUMENT');
    expect(await refusal(client.call('WriteBack', { vmId: 'vm', pages: [{ gfn: BASE_GFN, data: Buffer.alloc(10) }] }))).toEqual({
      code: 'INVALID_ARGUMENT',
      message: 'write-back of page at 0x80000000 carries 10 bytes; a page is exactly 4096',
    });
    // uint64 values far beyond RAM, even beyond 2^53, are refused, not wrapped into range.
    expect((await refusal(client.call('FetchPages', { vmId: 'vm', gfn: '18446744073709551615', count: 1 }))).code).toBe('INVALID_ARGUMENT');
  });

  it('serves DMA on a stream: each request answered with its seq as the unary call would be, a refusal as its code', async () => {
    const { client } = await startMmu();
    await client.call('CreateVm', { vmId: 'vm', ramBase: DRAM_BASE, ramSize: MIB });
    await client.call('AttachDevice', { vmId: 'vm', backend: 'io-backend' });
    const md = new grpc.Metadata();
    md.set('x-splitvisor-caller', 'io-backend');
    const stream = client.raw.DmaStream(md);
    const replies = new Map<number, MmuV1.DmaStreamReply__Output>();
    stream.on('data', (r: MmuV1.DmaStreamReply__Output) => replies.set(Number(r.seq), r));
    const ended = new Promise<void>((resolve) => stream.on('end', resolve));
    stream.write({ seq: 1, write: { vmId: 'vm', segments: [{ addr: DRAM_BASE + 0x10, data: Buffer.from('stream') }], writeId: 0 } });
    stream.write({ seq: 2, read: { vmId: 'vm', segments: [{ addr: DRAM_BASE + 0x10, length: 6 }] } });
    stream.write({ seq: 3, read: { vmId: 'vm', segments: [{ addr: DRAM_BASE + MIB - 2, length: 4 }] } });
    stream.write({ seq: 4, read: { vmId: 'nope', segments: [] } });
    stream.write({ seq: 5 });
    stream.end();
    await ended;
    expect(replies.get(1)).toMatchObject({ write: { bytesWritten: 6 }, errorCode: '' });
    expect(Buffer.from(replies.get(2)!.read!.data[0]!).toString()).toBe('stream');
    expect(replies.get(3)).toMatchObject({ errorCode: 'INVALID_ARGUMENT', read: null });
    expect(replies.get(3)!.errorMessage).toMatch(/0x800ffffe/);
    expect(replies.get(4)).toMatchObject({ errorCode: 'NOT_FOUND' });
    expect(replies.get(5)).toMatchObject({
      errorCode: 'INVALID_ARGUMENT',
      errorMessage: 'DmaStream seq 5: a request is a read or a write, this one is neither',
    });
    // A caller the VM was not given to: refused per request, as DmaRead refuses it.
    const other = new grpc.Metadata();
    other.set('x-splitvisor-caller', 'someone-else');
    const s2 = client.raw.DmaStream(other);
    const r2 = new Promise<MmuV1.DmaStreamReply__Output>((resolve) => s2.once('data', resolve));
    s2.write({ seq: 9, read: { vmId: 'vm', segments: [{ addr: DRAM_BASE, length: 1 }] } });
    expect(await r2).toMatchObject({ seq: 9, errorCode: 'PERMISSION_DENIED' });
    s2.end();
  });

  it('refuses bad CreateVm requests with typed errors naming the field', async () => {
    const { client } = await startMmu(16);
    await client.call('CreateVm', { vmId: 'vm', ramBase: DRAM_BASE, ramSize: MIB });
    expect(await refusal(client.call('CreateVm', { vmId: 'vm', ramBase: DRAM_BASE, ramSize: MIB }))).toEqual({
      code: 'ALREADY_EXISTS',
      message: 'vm "vm" already exists',
    });
    expect(await refusal(client.call('CreateVm', { vmId: 'No/Good', ramBase: DRAM_BASE, ramSize: MIB }))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/^vmId: "No\/Good" must be/),
    });
    expect(await refusal(client.call('CreateVm', { vmId: 'x', ramBase: DRAM_BASE, ramSize: 100 }))).toEqual({
      code: 'INVALID_ARGUMENT',
      message: 'ramSize 0x64 is not page-aligned (4096)',
    });
    expect((await refusal(client.call('CreateVm', { vmId: 'x', ramBase: DRAM_BASE, ramSize: 0 }))).message).toBe('ramSize must be greater than 0');
    expect((await refusal(client.call('CreateVm', { vmId: 'x', ramBase: 2 ** 48 - PAGE_SIZE, ramSize: 2 * PAGE_SIZE }))).message).toMatch(
      /ends above the 48-bit guest-physical space/,
    );
    expect(await refusal(client.call('CreateVm', { vmId: 'x', ramBase: DRAM_BASE, ramSize: 17 * MIB }))).toEqual({
      code: 'RESOURCE_EXHAUSTED',
      message: 'vm "x" asks for 17 MiB of RAM but the host pool holds 16 MiB',
    });
  });

  it('answers NOT_FOUND for an unknown VM on every call', async () => {
    const { client } = await startMmu();
    const nf = { code: 'NOT_FOUND', message: 'vm "ghost" not found' };
    expect(await refusal(client.call('FetchPages', { vmId: 'ghost', gfn: BASE_GFN, count: 1 }))).toEqual(nf);
    expect(await refusal(client.call('WriteBack', { vmId: 'ghost', pages: [] }))).toEqual(nf);
    expect(await refusal(client.call('ReleaseVm', { vmId: 'ghost' }))).toEqual(nf);
    expect(await refusal(client.call('GetVmStats', { vmId: 'ghost' }))).toEqual(nf);
    expect(await refusal(loadImage(client, [{ vmId: 'ghost', addr: DRAM_BASE, data: Buffer.alloc(1) }]))).toEqual(nf);
  });

  it('refuses a stream whose first chunk names no VM or whose later chunk names another', async () => {
    const { client } = await startMmu();
    await client.call('CreateVm', { vmId: 'a', ramBase: DRAM_BASE, ramSize: MIB });
    await client.call('CreateVm', { vmId: 'b', ramBase: DRAM_BASE, ramSize: MIB });
    expect(await refusal(loadImage(client, [{ addr: DRAM_BASE, data: Buffer.alloc(1) }]))).toEqual({
      code: 'INVALID_ARGUMENT',
      message: 'the first image chunk must name vmId',
    });
    const mixed = [
      { vmId: 'a', addr: DRAM_BASE, data: Buffer.alloc(1) },
      { vmId: 'b', addr: DRAM_BASE, data: Buffer.alloc(1) },
    ];
    expect(await refusal(loadImage(client, mixed))).toEqual({
      code: 'INVALID_ARGUMENT',
      message: 'image chunk names vm "b" but this stream loads vm "a"',
    });
    // A header chunk with no data needs no address; an empty stream loads nothing.
    expect(await loadImage(client, [{ vmId: 'a' }, { addr: DRAM_BASE, data: Buffer.from('hi') }])).toEqual({ bytesLoaded: 2 });
    expect(await loadImage(client, [])).toEqual({ bytesLoaded: 0 });
  });

  it('stays healthy after a stream is cancelled midway or refused midway', async () => {
    const { client, mmu } = await startMmu();
    await client.call('CreateVm', { vmId: 'vm', ramBase: DRAM_BASE, ramSize: MIB });

    const cancelled = new Promise<grpc.ServiceError | null>((resolve) => {
      const stream = client.raw.LoadImage(new grpc.Metadata(), { deadline: Date.now() + 3000 }, (err) => resolve(err));
      stream.write({ vmId: 'vm', addr: DRAM_BASE, data: Buffer.alloc(PAGE_SIZE, 7) });
      setTimeout(() => stream.cancel(), 100);
    });
    expect((await cancelled)?.code).toBe(grpc.status.CANCELLED);

    // A refused chunk in the middle: what came before stays, what came after is not applied.
    const midway = loadImage(client, [
      { vmId: 'vm', addr: DRAM_BASE + PAGE_SIZE, data: Buffer.alloc(PAGE_SIZE, 1) },
      { addr: DRAM_BASE + MIB, data: Buffer.alloc(1) },
      { addr: DRAM_BASE + 2 * PAGE_SIZE, data: Buffer.alloc(PAGE_SIZE, 2) },
    ]);
    expect((await refusal(midway)).message).toBe('image chunk [0x80100000, 0x80100001) lies outside RAM [0x80000000, 0x80100000)');
    expect(mmu.vm('vm').space.read(gpa(DRAM_BASE + PAGE_SIZE), 1)[0]).toBe(1);
    expect(mmu.vm('vm').space.read(gpa(DRAM_BASE + 2 * PAGE_SIZE), 1)[0]).toBe(0);

    // The service still loads and serves.
    expect(await loadImage(client, [{ vmId: 'vm', addr: DRAM_BASE + 3 * PAGE_SIZE, data: Buffer.from('ok') }])).toEqual({ bytesLoaded: 2 });
    const { pages } = await client.call('FetchPages', { vmId: 'vm', gfn: BASE_GFN + 3, count: 1 });
    expect(pages[0]!.data.subarray(0, 2).toString()).toBe('ok');
  });

  it("reserves each VM's RAM at create: one that does not fit is refused there, and a guest filling its RAM leaves another its own", async () => {
    const { client, pool } = await startMmu(2); // 512 frames
    await client.call('CreateVm', { vmId: 'big', ramBase: DRAM_BASE, ramSize: MIB });
    await client.call('CreateVm', { vmId: 'small', ramBase: DRAM_BASE, ramSize: MIB });
    expect(await refusal(client.call('CreateVm', { vmId: 'late', ramBase: DRAM_BASE, ramSize: MIB }))).toEqual({
      code: 'RESOURCE_EXHAUSTED',
      message: 'vm "late" asks for 1 MiB of RAM but only 0 MiB of the host pool\'s 2 MiB are free (2 MiB reserved by 2 VMs)',
    });
    const all = Array.from({ length: 256 }, (_, i) => ({ gfn: BASE_GFN + i, data: Buffer.alloc(PAGE_SIZE, 1) }));
    await client.call('WriteBack', { vmId: 'big', pages: all });
    expect(pool.available).toBe(0);
    // Every page of the other VM still has its frame waiting.
    await client.call('WriteBack', { vmId: 'small', pages: all });
    expect(pool.usedBy('small')).toBe(256);
    // replace (a reboot): the memory is dropped and the reservation kept in one step.
    expect((await refusal(client.call('CreateVm', { vmId: 'small', ramBase: DRAM_BASE, ramSize: MIB }))).code).toBe('ALREADY_EXISTS');
    await client.call('CreateVm', { vmId: 'small', ramBase: DRAM_BASE, ramSize: MIB, replace: true });
    expect(pool.usedBy('small')).toBe(0);
    expect(pool.reservedBy('small')).toBe(256);
    expect((await refusal(client.call('CreateVm', { vmId: 'late', ramBase: DRAM_BASE, ramSize: MIB }))).code).toBe('RESOURCE_EXHAUSTED');
    expect(await client.call('ReleaseVm', { vmId: 'big' })).toEqual({ framesFreed: 256 });
    await client.call('CreateVm', { vmId: 'late', ramBase: DRAM_BASE, ramSize: MIB });
    expect(pool.reserved).toBe(512);
  });

  it('releases a VM: frames go back, stats are gone, the id can be reused', async () => {
    const { client, pool } = await startMmu();
    await client.call('CreateVm', { vmId: 'vm', ramBase: DRAM_BASE, ramSize: MIB });
    await loadImage(client, [{ vmId: 'vm', addr: DRAM_BASE, data: Buffer.alloc(10 * PAGE_SIZE, 3) }]);
    expect(await client.call('GetVmStats', { vmId: 'vm' })).toMatchObject({ residentPages: 10, limitPages: 256 });
    expect(await client.call('ReleaseVm', { vmId: 'vm' })).toEqual({ framesFreed: 10 });
    expect(pool.used).toBe(0);
    expect((await refusal(client.call('GetVmStats', { vmId: 'vm' }))).code).toBe('NOT_FOUND');
    await client.call('CreateVm', { vmId: 'vm', ramBase: DRAM_BASE, ramSize: MIB });
    expect(await client.call('GetVmStats', { vmId: 'vm' })).toMatchObject({ residentPages: 0, fetches: 0 });
  });
});
