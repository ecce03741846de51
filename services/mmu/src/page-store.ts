// Where a VM's page bytes live. Two stores behind one small interface: memory (tests, and
// an mmu run without a data dir) and a sparse backing file per VM (as QEMU's
// memory-backend-file), so that whatever was written back survives a crash of mmu.
//
// The file store keeps two files in the VM's directory:
//   ram.img       ramSize bytes, sparse: page i at offset i * 4096; never-written pages
//                 are holes and cost no disk.
//   resident.map  one byte per page, 1 when the page holds bytes (a frame). Set before
//                 the page's bytes are written and cleared after it is freed, so after a
//                 kill -9 a page is never taken for zero while its bytes were stored
//                 (at worst a page of zeros counts as resident).
// Both are written with pwrite and no fsync: a dead process loses nothing the kernel
// already has; surviving a host crash would need fdatasync per write-back.
import { closeSync, existsSync, ftruncateSync, openSync, readSync, writeSync, fstatSync } from 'node:fs';
import { join } from 'node:path';
import { PAGE_SIZE } from '@splitvisor/platform';

export interface PageStore {
  /** Pages holding bytes. */
  readonly size: number;
  has(index: number): boolean;
  /** Copies page `index` into `out` at `offset`; false (nothing copied) when it holds no
   *  bytes, which means zero. */
  read(index: number, out: Uint8Array, offset?: number): boolean;
  /** Stores a whole page (exactly PAGE_SIZE bytes); the page holds bytes afterwards. */
  write(index: number, page: Uint8Array): void;
  /** The page holds no bytes any more: it reads as zero. */
  free(index: number): void;
  /** Indexes of every page holding bytes, ascending. */
  indexes(): number[];
  /** Frees every page (the files stay, empty). */
  clear(): void;
  close(): void;
}

export class MemoryPageStore implements PageStore {
  private readonly pages = new Map<number, Buffer>();

  get size(): number {
    return this.pages.size;
  }
  has(index: number): boolean {
    return this.pages.has(index);
  }
  read(index: number, out: Uint8Array, offset = 0): boolean {
    const p = this.pages.get(index);
    if (!p) return false;
    out.set(p, offset);
    return true;
  }
  write(index: number, page: Uint8Array): void {
    let p = this.pages.get(index);
    if (!p) {
      p = Buffer.allocUnsafe(PAGE_SIZE);
      this.pages.set(index, p);
    }
    p.set(page);
  }
  free(index: number): void {
    this.pages.delete(index);
  }
  indexes(): number[] {
    return [...this.pages.keys()].sort((a, b) => a - b);
  }
  clear(): void {
    this.pages.clear();
  }
  close(): void {
    this.pages.clear();
  }
}

const ONE = Uint8Array.of(1);
const NIL = Uint8Array.of(0);

export class FilePageStore implements PageStore {
  private readonly img: number;
  private readonly mapFd: number;
  private readonly map: Uint8Array;
  private count = 0;
  private closed = false;

  /** Opens (or creates) the store in `dir` for `pageCount` pages; pages already stored
   *  there (an mmu that crashed and came back) are kept. */
  constructor(
    readonly dir: string,
    readonly pageCount: number,
  ) {
    const imgPath = join(dir, 'ram.img');
    const mapPath = join(dir, 'resident.map');
    const fresh = !existsSync(mapPath);
    this.img = openSync(imgPath, existsSync(imgPath) ? 'r+' : 'w+');
    this.mapFd = openSync(mapPath, fresh ? 'w+' : 'r+');
    if (fstatSync(this.img).size !== pageCount * PAGE_SIZE) ftruncateSync(this.img, pageCount * PAGE_SIZE);
    this.map = new Uint8Array(pageCount);
    if (fresh) ftruncateSync(this.mapFd, pageCount);
    else {
      readSync(this.mapFd, this.map, 0, Math.min(pageCount, fstatSync(this.mapFd).size), 0);
      for (let i = 0; i < pageCount; i++) if (this.map[i]) this.count++;
    }
  }

  get size(): number {
    return this.count;
  }
  has(index: number): boolean {
    return this.map[index] === 1;
  }
  read(index: number, out: Uint8Array, offset = 0): boolean {
    if (this.map[index] !== 1) return false;
    const n = readSync(this.img, out, offset, PAGE_SIZE, index * PAGE_SIZE);
    if (n < PAGE_SIZE) out.fill(0, offset + n, offset + PAGE_SIZE);
    return true;
  }
  write(index: number, page: Uint8Array): void {
    if (this.map[index] !== 1) {
      // Mark first: a crash between the two writes leaves a resident page of old bytes
      // or zeros, never stored bytes that read as zero.
      writeSync(this.mapFd, ONE, 0, 1, index);
      this.map[index] = 1;
      this.count++;
    }
    writeSync(this.img, page, 0, PAGE_SIZE, index * PAGE_SIZE);
  }
  free(index: number): void {
    if (this.map[index] !== 1) return;
    writeSync(this.mapFd, NIL, 0, 1, index);
    this.map[index] = 0;
    this.count--;
  }
  indexes(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.pageCount; i++) if (this.map[i]) out.push(i);
    return out;
  }
  clear(): void {
    this.map.fill(0);
    writeSync(this.mapFd, this.map, 0, this.pageCount, 0);
    this.count = 0;
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.img);
    closeSync(this.mapFd);
  }
}
