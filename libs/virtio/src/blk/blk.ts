// virtio-blk on a raw image file (virtio 1.2 §5.2). The backend is a node FileHandle: the
// host's file is the disk, as DESIGN.md says ("a flush is an fdatasync before the
// completion"). A request completes (status written, used entry pushed) only after the file
// operation it asked for has resolved.
//
// Capacity is the file's size in whole 512-byte sectors; a tail shorter than a sector
// cannot be addressed by the guest (reported as unreachableTailBytes).
import { readConfigLe } from '../config-space.js';
import { open, type FileHandle } from 'node:fs/promises';
import { DEVICE_ID, featureBit, hasFeature } from '../constants.js';
import type { VirtioContext, VirtioDevice } from '../device.js';
import { u64ToNumber, type GuestMemory, type GuestWrite } from '../memory.js';
import { QueueError } from '../queue/queue-error.js';
import { QueueRunners, type Completion } from '../queue/runner.js';
import { readSegments, segmentWrites, sliceSegments, writeSegments } from '../queue/segments.js';
import type { DescriptorChain, Segment } from '../queue/split-queue.js';
import {
  BLK_HEADER_BYTES,
  BLK_ID_BYTES,
  CONFIG,
  SECTOR_BYTES,
  VIRTIO_BLK_F_BLK_SIZE,
  VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_F_RO,
  VIRTIO_BLK_F_SEG_MAX,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
} from './layout.js';

export interface VirtioBlkOptions {
  /** Open the image read-only: VIRTIO_BLK_F_RO is offered and every T_OUT answers IOERR. */
  readOnly?: boolean;
  /** GET_ID's answer, at most 20 bytes of it (default ""). */
  serial?: string;
  /** Device name (default "blk0"). */
  name?: string;
  /** QueueNumMax (default 256). */
  queueSize?: number;
  log?: (msg: string, fields: Record<string, unknown>) => void;
}

export interface BlkStats {
  reads: number;
  writes: number;
  flushes: number;
  getIds: number;
  bytesRead: number;
  bytesWritten: number;
  /** Requests answered IOERR or UNSUPP, or failed for want of a status byte. */
  errors: number;
}

/** Bytes moved per memory call and file call: big enough to amortize, small enough to bound
 *  host memory (a device holds WRITES_IN_FLIGHT + 1 of them). 1 MiB rather than 256 KiB:
 *  `node scripts/bench/virtio.mjs` (16 MiB `load`, 5 runs, twice each, interleaved) 0.30 and
 *  0.20 s -> 0.23 and 0.17 s; a file read and a DMA write each cost a trip through an event
 *  loop, whatever their size. */
const CHUNK = 1024 * 1024;
/** DMA writes of one read request in flight at once (each with its own CHUNK buffer). */
const WRITES_IN_FLIGHT = 4;

/** A request the device answers with a status other than OK (the ring itself is fine). */
class BlkRequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class VirtioBlk implements VirtioDevice {
  readonly name: string;
  readonly deviceId = DEVICE_ID.BLOCK;
  readonly queueMaxSizes: readonly number[];
  readonly features: bigint;
  readonly configSize = CONFIG.SIZE;
  /** The request header, data and status are read wherever the chain puts them (any
   *  layout), and config space is little-endian here either way: VERSION_1 changes nothing. */
  readonly servesDriverWithoutVersion1 = true;
  readonly readOnly: boolean;
  /** Disk size in 512-byte sectors. */
  readonly capacitySectors: number;
  /** Bytes at the end of the image past the last whole sector: the guest cannot reach them. */
  readonly unreachableTailBytes: number;
  private readonly config = new Uint8Array(CONFIG.SIZE);
  private readonly serial: Uint8Array;
  private readonly scratch = Array.from({ length: WRITES_IN_FLIGHT + 1 }, () => new Uint8Array(CHUNK));
  private readonly counters: BlkStats = { reads: 0, writes: 0, flushes: 0, getIds: 0, bytesRead: 0, bytesWritten: 0, errors: 0 };
  private readonly log: (msg: string, fields: Record<string, unknown>) => void;
  private runners: QueueRunners | undefined;
  private closed = false;

  /** Opens `path` (read-write unless readOnly) and sizes the disk from it. */
  static async open(path: string, opts: VirtioBlkOptions = {}): Promise<VirtioBlk> {
    const fh = await open(path, opts.readOnly ? 'r' : 'r+');
    try {
      const { size } = await fh.stat();
      return new VirtioBlk(fh, size, opts);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  private constructor(
    private readonly file: FileHandle,
    sizeBytes: number,
    opts: VirtioBlkOptions,
  ) {
    this.name = opts.name ?? 'blk0';
    this.readOnly = opts.readOnly ?? false;
    this.log = opts.log ?? (() => undefined);
    const queueSize = opts.queueSize ?? 256;
    this.queueMaxSizes = [queueSize];
    this.capacitySectors = Math.floor(sizeBytes / SECTOR_BYTES);
    this.unreachableTailBytes = sizeBytes % SECTOR_BYTES;
    if (this.unreachableTailBytes) {
      this.log(`${this.name}: image size ${sizeBytes} is not a multiple of ${SECTOR_BYTES}: its last ${this.unreachableTailBytes} bytes are unreachable`, {
        sizeBytes,
      });
    }
    this.features =
      featureBit(VIRTIO_BLK_F_SEG_MAX) |
      featureBit(VIRTIO_BLK_F_BLK_SIZE) |
      featureBit(VIRTIO_BLK_F_FLUSH) |
      (this.readOnly ? featureBit(VIRTIO_BLK_F_RO) : 0n);
    const id = new TextEncoder().encode(opts.serial ?? '');
    this.serial = new Uint8Array(BLK_ID_BYTES);
    this.serial.set(id.subarray(0, BLK_ID_BYTES));
    const dv = new DataView(this.config.buffer);
    dv.setBigUint64(CONFIG.CAPACITY, BigInt(this.capacitySectors), true);
    // A chain carries the header and the status byte besides its data (QEMU: size - 2).
    dv.setUint32(CONFIG.SEG_MAX, Math.max(1, queueSize - 2), true);
    dv.setUint32(CONFIG.BLK_SIZE, SECTOR_BYTES, true);
  }

  readConfig(offset: number, size: 1 | 2 | 4): number {
    return readConfigLe(this.config, offset, size);
  }

  writeConfig(offset: number, size: 1 | 2 | 4, value: number): string | undefined {
    // writeback (CONFIG_WCE) is the only writable field and it is not offered.
    return `${this.name}: config space is read-only (${size}-byte write of ${value} at ${offset})`;
  }

  activate(ctx: VirtioContext): void {
    if (this.closed) return ctx.needsReset(`${this.name}: the image is closed`);
    this.runners?.stop();
    const writeThrough = !hasFeature(ctx.features, VIRTIO_BLK_F_FLUSH);
    this.runners = new QueueRunners(ctx, () => (chain) => this.serve(ctx.mem, chain, writeThrough), {
      onRequestError: (err) => {
        this.counters.errors++;
        this.log(`${this.name}: request failed: ${err instanceof Error ? err.message : String(err)}`, {});
      },
    });
  }

  notify(queue: number): void {
    void this.runners?.kick(queue);
  }

  reset(): void {
    this.runners?.stop();
    this.runners = undefined;
  }

  /** Resolves when no request is being served. */
  idle(): Promise<void> {
    return this.runners?.idle() ?? Promise.resolve();
  }

  /** Stops serving, waits for the request in progress, closes the image. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const r = this.runners;
    this.reset();
    await r?.idle();
    await this.file.close();
  }

  stats(): Record<string, number> & BlkStats {
    return { ...this.counters };
  }

  /**
   * One request (§5.2.6): header in the readable part, status in the last writable byte,
   * data between. Returns the bytes written into the chain (data in + the status byte),
   * with the status byte and the last chunk of data in left to go with the used element
   * (one DMA call for the completion instead of three).
   */
  private async serve(mem: GuestMemory, chain: DescriptorChain, writeThrough: boolean): Promise<Completion> {
    if (chain.writableBytes === 0) {
      // Nowhere to put a status: the request can only be given back unanswered.
      throw new Error(`${this.name}: request at head ${chain.head} has no device-writable status byte`);
    }
    const status = sliceSegments(chain.writable, chain.writableBytes - 1, 1);
    const dataIn = sliceSegments(chain.writable, 0, chain.writableBytes - 1);
    let written = 0;
    let code = VIRTIO_BLK_S_OK;
    const data: GuestWrite[] = [];
    try {
      written = await this.dispatch(mem, chain, dataIn, writeThrough, data);
    } catch (e) {
      if (e instanceof QueueError) throw e;
      code = e instanceof BlkRequestError ? e.status : VIRTIO_BLK_S_IOERR;
      this.counters.errors++;
      this.log(`${this.name}: request at head ${chain.head}: ${e instanceof Error ? e.message : String(e)}`, { status: code });
      written = 0;
      data.length = 0;
    }
    data.push(...segmentWrites(status, Uint8Array.of(code)).writes);
    return { written: written + 1, data };
  }

  /** Serves the request; writes into the guest may be left in `tail` for the completion. */
  private async dispatch(mem: GuestMemory, chain: DescriptorChain, dataIn: Segment[], writeThrough: boolean, tail: GuestWrite[]): Promise<number> {
    if (chain.readableBytes < BLK_HEADER_BYTES) {
      throw new BlkRequestError(
        VIRTIO_BLK_S_IOERR,
        `header needs ${BLK_HEADER_BYTES} device-readable bytes, the chain has ${chain.readableBytes} (header in a writable descriptor?)`,
      );
    }
    const hdr = await readSegments(mem, chain.readable, BLK_HEADER_BYTES);
    const dv = new DataView(hdr.buffer, hdr.byteOffset, BLK_HEADER_BYTES);
    const type = dv.getUint32(0, true);
    const sector = u64ToNumber(dv.getUint32(8, true), dv.getUint32(12, true));
    const dataOut = sliceSegments(chain.readable, BLK_HEADER_BYTES);
    switch (type) {
      case VIRTIO_BLK_T_IN: {
        const len = chain.writableBytes - 1;
        const pos = this.range('T_IN', sector, len);
        await this.fileToGuest(mem, dataIn, pos, tail);
        this.counters.reads++;
        this.counters.bytesRead += len;
        return len;
      }
      case VIRTIO_BLK_T_OUT: {
        if (this.readOnly) throw new BlkRequestError(VIRTIO_BLK_S_IOERR, `T_OUT on read-only disk ${this.name}`);
        const len = chain.readableBytes - BLK_HEADER_BYTES;
        const pos = this.range('T_OUT', sector, len);
        await this.guestToFile(mem, dataOut, pos);
        // §5.2.6.2: without a negotiated FLUSH the device must not cache writes.
        if (writeThrough) await this.file.datasync();
        this.counters.writes++;
        this.counters.bytesWritten += len;
        return 0;
      }
      case VIRTIO_BLK_T_FLUSH:
        await this.file.datasync();
        this.counters.flushes++;
        return 0;
      case VIRTIO_BLK_T_GET_ID: {
        const { writes, written } = segmentWrites(dataIn, this.serial);
        tail.push(...writes);
        this.counters.getIds++;
        return written;
      }
      default:
        throw new BlkRequestError(VIRTIO_BLK_S_UNSUPP, `request type ${type} is not supported`);
    }
  }

  /** The byte offset of `sector`, or IOERR when [sector, sector + len/512) is not on the disk. */
  private range(what: string, sector: number | undefined, len: number): number {
    if (len % SECTOR_BYTES !== 0) throw new BlkRequestError(VIRTIO_BLK_S_IOERR, `${what}: ${len} data bytes is not a multiple of ${SECTOR_BYTES}`);
    const sectors = len / SECTOR_BYTES;
    if (sector === undefined || sector > this.capacitySectors || sectors > this.capacitySectors - sector) {
      throw new BlkRequestError(VIRTIO_BLK_S_IOERR, `${what}: sectors [${sector ?? '>2^53'}, +${sectors}) are past the disk's ${this.capacitySectors} sectors`);
    }
    return sector * SECTOR_BYTES;
  }

  /** Reads the image into the segments, CHUNK bytes per file read. Every chunk but the
   *  last is written into the guest at once, up to WRITES_IN_FLIGHT of them at a time (a
   *  DMA write is a round trip to mmu), and the file read of the next chunk is under way
   *  meanwhile: a read does not wait for a write slot, nor a write for the next read (a
   *  read from the page cache still takes a trip through libuv's thread pool; timed by hand
   *  in io-backend, done in turn with the writes, the reads were 65-114 ms of a 16 MiB
   *  request's 165-230 ms). The last chunk (a copy: scratch is reused) is left in `tail`.
   *  All are written when this returns, so the completion that follows never overtakes its
   *  data. */
  private async fileToGuest(mem: GuestMemory, segs: Segment[], pos: number, tail: GuestWrite[]): Promise<void> {
    const total = segs.reduce((n, s) => n + s.len, 0);
    const chunks = Math.ceil(total / CHUNK);
    const buffers = this.scratch.length; // WRITES_IN_FLIGHT + 1: the one being read
    const writing: (Promise<void> | undefined)[] = [];
    let failed: { e: unknown } | undefined;
    const readChunk = async (i: number): Promise<Uint8Array> => {
      const n = Math.min(CHUNK, total - i * CHUNK);
      const buf = this.scratch[i % buffers]!.subarray(0, n);
      let got = 0;
      while (got < n) {
        const { bytesRead } = await this.file.read(buf, got, n - got, pos + i * CHUNK + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      if (got < n) throw new Error(`short read of the image at ${pos + i * CHUNK}: ${got} of ${n} bytes (file shrank?)`);
      return buf;
    };
    // A read fails (a short read) while the loop awaits a write: handled there, not an
    // unhandled rejection meanwhile (which would end the process).
    const startRead = (i: number): Promise<Uint8Array> => {
      const r = readChunk(i);
      r.catch(() => undefined);
      return r;
    };
    let reading: Promise<Uint8Array> | undefined = chunks > 0 ? startRead(0) : undefined;
    try {
      for (let i = 0; i < chunks; i++) {
        const buf = await reading!;
        reading = undefined;
        if (failed) break;
        if (i + 1 < chunks) {
          // The buffer the next read fills was last written from by chunk i + 1 - buffers.
          await writing[(i + 1) % buffers];
          if (failed) break;
          reading = startRead(i + 1);
        }
        const part = sliceSegments(segs, i * CHUNK, buf.length);
        if (i + 1 < chunks) {
          writing[i % buffers] = writeSegments(mem, part, buf).then(
            () => undefined,
            (e: unknown) => void (failed ??= { e }),
          );
        } else tail.push(...segmentWrites(part, buf.slice()).writes);
      }
    } finally {
      // A read still under way (the loop left early) must not land in a buffer a later
      // request uses; its failure is this request's only if nothing failed first.
      await reading?.catch(() => undefined);
      await Promise.all(writing);
    }
    if (failed) throw failed.e;
  }

  private async guestToFile(mem: GuestMemory, segs: Segment[], pos: number): Promise<void> {
    for (const s of segs) {
      for (let off = 0; off < s.len; off += CHUNK) {
        const n = Math.min(CHUNK, s.len - off);
        const data = await readSegments(mem, [{ addr: s.addr + off, len: n }]);
        let put = 0;
        while (put < n) {
          const { bytesWritten } = await this.file.write(data, put, n - put, pos + put);
          if (bytesWritten === 0) throw new Error(`the image took 0 of ${n - put} bytes at ${pos + put}`);
          put += bytesWritten;
        }
        pos += n;
      }
    }
  }
}
