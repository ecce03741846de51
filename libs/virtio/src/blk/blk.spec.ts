// virtio-blk against real temp files (STYLE.md 4: backends are real in tests).
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STATUS, featureBit } from '../constants.js';
import { rig } from '../testing/rig.test-util.js';
import { VirtioBlk } from './blk.js';
import {
  CONFIG,
  VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_F_RO,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
} from './layout.js';

let dir: string;
const opened: VirtioBlk[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'virtio-blk-'));
});
afterEach(async () => {
  for (const b of opened.splice(0)) await b.close();
  await rm(dir, { recursive: true, force: true });
});

function header(type: number, sector: number | bigint): Uint8Array {
  const h = new Uint8Array(16);
  const dv = new DataView(h.buffer);
  dv.setUint32(0, type, true);
  dv.setBigUint64(8, BigInt(sector), true);
  return h;
}

/** An image whose sector i is filled with byte i+1; `numbered`: its first 4 bytes are i
 *  (little-endian), so no two sectors are alike. */
async function image(sectors: number, extra = 0, numbered = false): Promise<string> {
  const path = join(dir, 'disk.img');
  const data = new Uint8Array(sectors * 512 + extra);
  for (let i = 0; i < sectors; i++) data.fill(i + 1, i * 512, (i + 1) * 512);
  if (numbered) for (let i = 0; i < sectors; i++) new DataView(data.buffer).setUint32(i * 512, i, true);
  await writeFile(path, data);
  return path;
}

async function bringUp(path: string, opts: { readOnly?: boolean; serial?: string; ramSize?: number; lateWrites?: boolean } = {}) {
  const blk = await VirtioBlk.open(path, opts);
  opened.push(blk);
  const r = rig({ device: blk, ...(opts.ramSize !== undefined && { ramSize: opts.ramSize }), ...(opts.lateWrites && { lateWrites: true }) });
  r.driver.init({ queueSizes: [16] });
  /** Posts one request; returns its status byte, the used length and the data read. */
  const request = async (bufs: { readable: Uint8Array[]; writable: number[] }) => {
    const posted = r.driver.add(0, bufs);
    r.driver.notify(0);
    // Turns of the event loop: enough for a request whose writes land 20 ms late (lateWrites).
    const [used] = await r.driver.waitUsed(0, 1, 5_000_000);
    const last = posted.writable.at(-1);
    const status = last ? r.driver.peek(last.addr + last.len - 1, 1)[0] : undefined;
    // The data: every writable descriptor but the status byte's (the first alone if that is all).
    const parts = posted.writable.length > 1 ? posted.writable.slice(0, -1) : posted.writable;
    const data = Buffer.concat(parts.map((w) => r.driver.peek(w.addr, w.len)));
    return { used, status, data };
  };
  return { ...r, blk, request };
}

describe('virtio-blk', () => {
  it('reports capacity, seg_max and blk_size, and leaves a partial tail unreachable', async () => {
    const { blk, driver } = await bringUp(await image(8, 100));
    expect(blk.capacitySectors).toBe(8);
    expect(blk.unreachableTailBytes).toBe(100);
    expect(driver.config(CONFIG.CAPACITY, 4)).toBe(8);
    expect(driver.config(CONFIG.CAPACITY + 4, 4)).toBe(0);
    expect(driver.config(CONFIG.SEG_MAX, 4)).toBe(254);
    expect(driver.config(CONFIG.BLK_SIZE, 2)).toBe(512);
    expect(driver.deviceFeatures() & featureBit(VIRTIO_BLK_F_RO)).toBe(0n);
    expect(blk.writeConfig(0, 1, 1)).toMatch(/config space is read-only/);
  });

  it('T_IN reads sectors into the guest', async () => {
    const { request, blk } = await bringUp(await image(8));
    const { used, status, data } = await request({ readable: [header(VIRTIO_BLK_T_IN, 2)], writable: [1024, 1] });
    expect(status).toBe(VIRTIO_BLK_S_OK);
    expect(used!.len).toBe(1025);
    expect(data.slice(0, 512).every((b) => b === 3)).toBe(true);
    expect(data.slice(512).every((b) => b === 4)).toBe(true);
    expect(blk.stats()).toMatchObject({ reads: 1, bytesRead: 1024, errors: 0 });
  });

  it('T_IN of more chunks than the device has buffers (read ahead, written several at a time) puts every sector where the chain says', async () => {
    const sectors = 13_001; // 6.35 MiB: seven 1 MiB chunks, five buffers
    // Guest memory that takes each write's bytes a tick late: a buffer reused too soon shows.
    const { request, blk } = await bringUp(await image(sectors, 0, true), { ramSize: 16 << 20, lateWrites: true });
    // Two data descriptors, the first ending inside a chunk.
    const { used, status, data } = await request({ readable: [header(VIRTIO_BLK_T_IN, 0)], writable: [5_001 * 512, 8_000 * 512, 1] });
    expect(status).toBe(VIRTIO_BLK_S_OK);
    expect(used!.len).toBe(sectors * 512 + 1);
    const sectorOk = (i: number) => {
      const sector = data.subarray(i * 512, (i + 1) * 512);
      return new DataView(sector.buffer, sector.byteOffset).getUint32(0, true) === i && sector.subarray(4).every((b) => b === ((i + 1) & 0xff));
    };
    const wrong = Array.from({ length: sectors }, (_, i) => i).filter((i) => !sectorOk(i));
    expect(wrong).toEqual([]);
    expect(blk.stats()).toMatchObject({ reads: 1, bytesRead: sectors * 512, errors: 0 });
  });

  it('T_IN over an image that shrank under it fails only that request (IOERR), whichever chunk the short read is', async () => {
    // Read ahead: the read that comes up short may fail while writes are still in flight.
    const sectors = 13_001;
    const path = await image(sectors, 0, true);
    const { request, blk } = await bringUp(path, { ramSize: 16 << 20, lateWrites: true });
    await truncate(path, (5 << 20) + 512 * 3);
    const { status, used } = await request({ readable: [header(VIRTIO_BLK_T_IN, 0)], writable: [sectors * 512, 1] });
    expect(status).toBe(VIRTIO_BLK_S_IOERR);
    expect(used!.len).toBe(1);
    expect(blk.stats()).toMatchObject({ reads: 0, errors: 1 });
    // The device goes on: a read within what is left.
    const r = await request({ readable: [header(VIRTIO_BLK_T_IN, 2)], writable: [512, 1] });
    expect(r.status).toBe(VIRTIO_BLK_S_OK);
    expect(new DataView(r.data.buffer, r.data.byteOffset).getUint32(0, true)).toBe(2);
  });

  it('T_OUT writes the file (seen by reading the file back) and then T_IN reads it', async () => {
    const path = await image(8);
    const { request, blk } = await bringUp(path);
    const payload = new Uint8Array(512).fill(0xab);
    const w = await request({ readable: [header(VIRTIO_BLK_T_OUT, 5), payload], writable: [1] });
    expect(w.status).toBe(VIRTIO_BLK_S_OK);
    expect(w.used!.len).toBe(1);
    const file = await readFile(path);
    expect(file.subarray(5 * 512, 6 * 512).every((b) => b === 0xab)).toBe(true);
    expect(file[4 * 512]).toBe(5);
    const r = await request({ readable: [header(VIRTIO_BLK_T_IN, 5)], writable: [512, 1] });
    expect(r.data.every((b) => b === 0xab)).toBe(true);
    expect(blk.stats()).toMatchObject({ writes: 1, bytesWritten: 512 });
  });

  it('FLUSH answers OK after datasync', async () => {
    const { request, blk, driver } = await bringUp(await image(4));
    expect(driver.deviceFeatures() & featureBit(VIRTIO_BLK_F_FLUSH)).not.toBe(0n);
    const { status, used } = await request({ readable: [header(VIRTIO_BLK_T_FLUSH, 0)], writable: [1] });
    expect(status).toBe(VIRTIO_BLK_S_OK);
    expect(used!.len).toBe(1);
    expect(blk.stats().flushes).toBe(1);
  });

  it('GET_ID answers the 20-byte serial, NUL-padded', async () => {
    const { request } = await bringUp(await image(4), { serial: 'splitvisor-disk-1' });
    const { status, used, data } = await request({ readable: [header(VIRTIO_BLK_T_GET_ID, 0)], writable: [20, 1] });
    expect(status).toBe(VIRTIO_BLK_S_OK);
    expect(used!.len).toBe(21);
    expect(Buffer.from(data).toString('latin1')).toBe('splitvisor-disk-1\0\0\0');
  });

  it('a read-only disk offers RO and answers T_OUT with IOERR, leaving the file alone', async () => {
    const path = await image(4);
    const { request, driver, blk } = await bringUp(path, { readOnly: true });
    expect(driver.deviceFeatures() & featureBit(VIRTIO_BLK_F_RO)).not.toBe(0n);
    const { status } = await request({ readable: [header(VIRTIO_BLK_T_OUT, 0), new Uint8Array(512)], writable: [1] });
    expect(status).toBe(VIRTIO_BLK_S_IOERR);
    expect((await readFile(path))[0]).toBe(1);
    expect(blk.stats().errors).toBe(1);
  });

  it('out-of-range sectors, partial sectors, wrong-direction headers and unknown types fail only their request', async () => {
    const { request, driver, blk } = await bringUp(await image(8));
    expect((await request({ readable: [header(VIRTIO_BLK_T_IN, 8)], writable: [512, 1] })).status).toBe(VIRTIO_BLK_S_IOERR);
    expect((await request({ readable: [header(VIRTIO_BLK_T_IN, 7)], writable: [1024, 1] })).status).toBe(VIRTIO_BLK_S_IOERR);
    expect((await request({ readable: [header(VIRTIO_BLK_T_IN, 0xffff_ffff_ffff_ff00n)], writable: [512, 1] })).status).toBe(VIRTIO_BLK_S_IOERR);
    expect((await request({ readable: [header(VIRTIO_BLK_T_IN, 0)], writable: [100, 1] })).status).toBe(VIRTIO_BLK_S_IOERR);
    // The header in a device-writable buffer: the device sees no readable header.
    expect((await request({ readable: [], writable: [16, 1] })).status).toBe(VIRTIO_BLK_S_IOERR);
    expect((await request({ readable: [header(99, 0)], writable: [1] })).status).toBe(VIRTIO_BLK_S_UNSUPP);
    // No status byte at all: given back with len 0, nothing written.
    const none = await request({ readable: [header(VIRTIO_BLK_T_IN, 0)], writable: [] });
    expect(none.used!.len).toBe(0);
    expect(blk.stats().errors).toBe(7);
    // The device is fine: a good request still works.
    const ok = await request({ readable: [header(VIRTIO_BLK_T_IN, 1)], writable: [512, 1] });
    expect(ok.status).toBe(VIRTIO_BLK_S_OK);
    expect(ok.data[0]).toBe(2);
    expect(driver.status() & STATUS.DEVICE_NEEDS_RESET).toBe(0);
  });

  it('writes through (datasync per write) when the driver did not take FLUSH', async () => {
    const path = await image(4);
    const blk = await VirtioBlk.open(path);
    opened.push(blk);
    const r = rig({ device: blk });
    r.driver.init({ queueSizes: [8], accept: (f) => f & ~featureBit(VIRTIO_BLK_F_FLUSH) });
    const p = r.driver.add(0, { readable: [header(VIRTIO_BLK_T_OUT, 1), new Uint8Array(512).fill(7)], writable: [1] });
    r.driver.notify(0);
    await r.driver.waitUsed(0, 1);
    expect(r.driver.peek(p.writable[0]!.addr, 1)[0]).toBe(VIRTIO_BLK_S_OK);
    expect((await readFile(path))[512]).toBe(7);
  });

  it('closes: later notifies do nothing, close is idempotent', async () => {
    const { blk, driver } = await bringUp(await image(4));
    await blk.close();
    await blk.close();
    driver.add(0, { readable: [header(VIRTIO_BLK_T_IN, 0)], writable: [512, 1] });
    driver.notify(0);
    await driver.until(() => false, 50);
    expect(driver.usedIdx(0)).toBe(0);
  });
});
