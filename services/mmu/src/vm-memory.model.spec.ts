// The directory protocol against a flat reference memory (model-based, fast-check).
//
// Sequential: random sequences of guest reads and writes from two page caches, device
// DMA reads and writes, write-backs, dirty-log reads, snapshots and mmu restarts (over a
// real sparse file) must behave as one flat memory: every read returns the last write.
//
// Concurrent: the same actors at once, with fast-check's scheduler choosing when every
// fetch reply and recall arrives. Each writer owns its bytes and writes increasing
// values, so coherence can be checked without knowing the order: a reader never sees a
// location go back, never sees less than a write that completed before its read began,
// and after everyone wrote back mmu holds every writer's last value.
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DRAM_BASE, PAGE_SIZE, gpa } from '@splitvisor/platform';
import { AddressSpace } from './address-space.js';
import { FakeCache, recallerFor, type Delay } from './fake-cache.test-util.js';
import { FramePool } from './frame-pool.js';
import { FilePageStore, MemoryPageStore } from './page-store.js';
import { applySnapshot, verifySnapshot } from './snapshot.js';
import { VmMemory } from './vm-memory.js';

const PAGES = 4;
const RAM = PAGES * PAGE_SIZE;
const DEV = 'io-backend';
const tmp = mkdtempSync(join(tmpdir(), 'mmu-model-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Model {
  ref: Uint8Array;
  logging: boolean;
  /** Pages written since the dirty log was last cleared. */
  dirty: Set<number>;
}

class Real {
  mem!: VmMemory;
  caches: FakeCache[] = [];
  epoch = 0;
  snapshots = 0;
  readonly pool = new FramePool(1024);

  constructor(readonly dir: string) {
    this.mem = this.open([]);
    this.caches = ['cpu', 'cpu2'].map((n) => new FakeCache(n, () => this.mem, undefined, 2));
  }

  open(recovering: string[]): VmMemory {
    const space = new AddressSpace('vm', DRAM_BASE, RAM, this.pool, { store: new FilePageStore(this.dir, PAGES) });
    return new VmMemory(space, {
      recaller: recallerFor(() => this.caches),
      epoch: `e${++this.epoch}`,
      devices: [DEV],
      recovering: recovering.length ? { holders: recovering, graceMs: 60_000 } : undefined,
    });
  }
}

type Cmd = fc.AsyncCommand<Model, Real>;
const at = (off: number) => DRAM_BASE + off;
const pageOf = (off: number) => Math.floor(off / PAGE_SIZE);

const guestRead = (c: number, off: number): Cmd => ({
  check: () => true,
  async run(m, r) {
    expect(await r.caches[c]!.read(off)).toBe(m.ref[off]);
  },
  toString: () => `cpu${c}.read(${off})`,
});

const guestWrite = (c: number, off: number, v: number): Cmd => ({
  check: () => true,
  async run(m, r) {
    await r.caches[c]!.write(off, v);
    m.ref[off] = v;
    m.dirty.add(pageOf(off));
  },
  toString: () => `cpu${c}.write(${off}, ${v})`,
});

const dmaRead = (off: number, len: number): Cmd => ({
  check: () => true,
  async run(m, r) {
    const [got] = await r.mem.dmaRead(DEV, [{ addr: gpa(at(off)), length: len }]);
    expect(Buffer.from(got!).equals(Buffer.from(m.ref.subarray(off, off + len)))).toBe(true);
  },
  toString: () => `dmaRead(${off}, ${len})`,
});

const dmaWrite = (off: number, data: Uint8Array): Cmd => ({
  check: () => true,
  async run(m, r) {
    await r.mem.dmaWrite(DEV, [{ addr: gpa(at(off)), length: data.length, data }]);
    m.ref.set(data, off);
    for (let p = pageOf(off); p <= pageOf(off + data.length - 1); p++) m.dirty.add(p);
  },
  toString: () => `dmaWrite(${off}, [${data.length} bytes])`,
});

const writeBack = (c: number, releaseAll: boolean): Cmd => ({
  check: () => true,
  async run(_m, r) {
    await r.caches[c]!.writeBack(releaseAll);
  },
  toString: () => `cpu${c}.writeBack(${releaseAll ? 'releaseAll' : ''})`,
});

/** kill -9 of mmu: the directory is gone, the file stays; the caches re-register. */
const restart: Cmd = {
  check: () => true,
  async run(m, r) {
    r.mem.close();
    const holding = r.caches.filter((c) => c.state.some((s) => s !== 0)).map((c) => c.name);
    r.mem = r.open(holding);
    m.logging = false; // the dirty log lives in mmu's memory: a restart ends it
    expect(r.mem.recovering).toBe(holding.length > 0);
    await Promise.all(r.caches.map((c) => c.reregister()));
    expect(r.mem.recovering).toBe(false);
  },
  toString: () => 'restart mmu',
};

const dirtyLog: Cmd = {
  check: () => true,
  async run(m, r) {
    if (!m.logging) {
      await r.mem.startDirtyLog();
      m.logging = true;
      m.dirty.clear();
      return;
    }
    const { bitmap } = await r.mem.getDirtyLog(true);
    for (const p of m.dirty) expect((bitmap[p >> 3]! >> (p & 7)) & 1, `page ${p} written but not dirty`).toBe(1);
    m.dirty.clear();
  },
  toString: () => 'dirty log (start, or read and clear)',
};

/** A snapshot while caches hold pages: restored elsewhere it is the reference. */
const snapshot: Cmd = {
  check: () => true,
  async run(m, r) {
    const path = join(r.dir, `snap-${++r.snapshots}.svmem`);
    await r.mem.snapshot(path);
    const copy = new AddressSpace('copy', DRAM_BASE, RAM, new FramePool(PAGES), { store: new MemoryPageStore() });
    applySnapshot(copy, path, verifySnapshot(path));
    expect(copy.read(DRAM_BASE, RAM).equals(Buffer.from(m.ref))).toBe(true);
  },
  toString: () => 'snapshot',
};

const offset = fc.oneof(
  fc.integer({ min: 0, max: PAGES - 1 }).chain((p) => fc.constantFrom(p * PAGE_SIZE, p * PAGE_SIZE + 1, p * PAGE_SIZE + PAGE_SIZE - 1)),
  fc.integer({ min: 0, max: RAM - 1 }),
);
const cache = fc.integer({ min: 0, max: 1 });
const commands = [
  fc.tuple(cache, offset).map(([c, o]) => guestRead(c, o)),
  fc.tuple(cache, offset, fc.integer({ min: 1, max: 255 })).map(([c, o, v]) => guestWrite(c, o, v)),
  fc.tuple(offset, fc.integer({ min: 1, max: PAGE_SIZE + 10 })).map(([o, n]) => dmaRead(Math.min(o, RAM - 1), Math.min(n, RAM - Math.min(o, RAM - 1)))),
  fc.tuple(offset, fc.uint8Array({ minLength: 1, maxLength: 40 })).map(([o, d]) => dmaWrite(Math.min(o, RAM - d.length), d)),
  fc.tuple(cache, fc.boolean()).map(([c, all]) => writeBack(c, all)),
  fc.constant(restart),
  fc.constant(dirtyLog),
  fc.constant(snapshot),
];

let runs = 0;
describe('directory protocol, one step at a time', () => {
  it('every read returns the last write, whoever wrote it and whoever holds the page', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 60 }), async (cmds) => {
        const dir = join(tmp, `seq-${++runs}`);
        mkdirSync(dir);
        const real = new Real(dir);
        const model: Model = { ref: new Uint8Array(RAM), logging: false, dirty: new Set() };
        await fc.asyncModelRun(() => ({ model, real }), cmds);
        // Everything written back: mmu alone holds the reference, and no cache holds a page.
        for (const c of real.caches) await c.writeBack(true);
        expect(real.mem.space.read(DRAM_BASE, RAM).equals(Buffer.from(model.ref))).toBe(true);
        expect(real.mem.stats()).toMatchObject({ heldModified: 0, heldShared: 0 });
        real.mem.close();
        rmSync(dir, { recursive: true, force: true });
      }),
      { numRuns: 150 },
    );
  }, 120_000);
});

// --- concurrent ---------------------------------------------------------------------

/** Bytes each writer owns in every page: cpu 0..7, cpu2 8..15, the device 16..23. */
const SLOT = 8;
type Op = { kind: 'read'; page: number; slot: number } | { kind: 'write'; page: number } | { kind: 'writeBack' };
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('read' as const), page: fc.integer({ min: 0, max: PAGES - 1 }), slot: fc.integer({ min: 0, max: 3 * SLOT - 1 }) }),
  fc.record({ kind: fc.constant('write' as const), page: fc.integer({ min: 0, max: PAGES - 1 }) }),
  fc.record({ kind: fc.constant('writeBack' as const) }),
);

describe('directory protocol under concurrent access', () => {
  it('keeps every location coherent whichever order replies and recalls arrive in', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.array(fc.array(op, { maxLength: 12 }), { minLength: 3, maxLength: 3 }), async (s, [a, b, d]) => {
        // Scheduled once settled: a scheduled task must never wait on another one.
        const delay: Delay = (p) =>
          p.then(
            (v) => s.schedule(Promise.resolve(v)),
            (e: unknown) => s.schedule(Promise.resolve()).then(() => Promise.reject(e)),
          );
        const space = new AddressSpace('vm', DRAM_BASE, RAM, new FramePool(64));
        let caches: FakeCache[] = [];
        const mem = new VmMemory(space, { recaller: recallerFor(() => caches), epoch: 'e', devices: [DEV] });
        caches = ['cpu', 'cpu2'].map((n) => new FakeCache(n, () => mem, delay, 2));

        const last = new Map<number, number>(); // location -> last value written (issued)
        const done = new Map<number, number>(); // location -> last value whose write completed
        const seen = new Map<string, number>(); // reader:location -> last value it read
        const counter = [0, 0, 0];
        const loc = (page: number, slot: number) => page * PAGE_SIZE + slot;

        const observe = (reader: string, l: number, v: number, floor: number) => {
          const key = `${reader}:${l}`;
          expect(v, `${reader} read ${v} at ${l} after a completed write of ${floor}`).toBeGreaterThanOrEqual(floor);
          expect(v, `${reader} saw ${l} go back`).toBeGreaterThanOrEqual(seen.get(key) ?? 0);
          seen.set(key, v);
        };

        const actor = async (w: number, ops: Op[]) => {
          const name = ['cpu', 'cpu2', 'dev'][w]!;
          for (const o of ops) {
            if (o.kind === 'read') {
              const l = loc(o.page, o.slot);
              const floor = done.get(l) ?? 0;
              const v = w < 2 ? await caches[w]!.read(l) : (await mem.dmaRead(DEV, [{ addr: gpa(at(l)), length: 1 }]))[0]![0]!;
              observe(name, l, v, floor);
            } else if (o.kind === 'write') {
              const v = ++counter[w]!;
              const l = loc(o.page, w * SLOT + (v % SLOT));
              last.set(l, v);
              if (w < 2) await caches[w]!.write(l, v);
              else await mem.dmaWrite(DEV, [{ addr: gpa(at(l)), length: 1, data: Uint8Array.of(v) }]);
              done.set(l, Math.max(done.get(l) ?? 0, v));
            } else if (w < 2) await caches[w]!.writeBack(false);
          }
        };
        await s.waitFor(Promise.all([actor(0, a), actor(1, b), actor(2, d)]));
        await s.waitFor(Promise.all(caches.map((c) => c.writeBack(true))));
        for (const [l, v] of last) expect(space.read(gpa(at(l)), 1)[0], `location ${l} lost its last write`).toBe(v);
        expect(mem.stats().heldModified + mem.stats().heldShared).toBe(0);
      }),
      { numRuns: Number(process.env['MODEL_RUNS'] ?? 300), timeout: 5000 },
    );
  }, 120_000);
});
