// Direct paging (mode: pv) over real in-memory guest RAM: what PV_REGISTER accepts as an
// arena, what PV_PIN and PV_MMU_UPDATE let into a table the hart can reach, how tables come
// alive and are released (zeroed), and, against random sequences of updates, pins and unpins,
// the safety property: whatever the guest asks, every table reachable from a pinned root maps
// only RAM or device space below it, never the arena writable, and points only into the arena.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DirectPaging, type TableMemory } from './direct-paging.js';

const PAGE = 4096;
const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
const RAM = 0x80000000;
const RAM_SIZE = 4 * MIB;
const ARENA = RAM + MIB; // inside the first 2 MiB (and the first gigapage) of RAM
const ARENA_PAGES = 16;
const ARENA_END = ARENA + ARENA_PAGES * PAGE;
const BEYOND = 0x200_0000_0000; // past RAM's end: where the monitor's own memory is
const frameAt = (i: number) => ARENA + i * PAGE;

const V = 1n,
  R = 2n,
  W = 4n,
  X = 8n,
  U = 16n,
  A = 64n,
  D = 128n;
/** A pointer to the table at `pa`. */
const ptr = (pa: number) => (BigInt(pa / PAGE) << 10n) | V;
/** A leaf mapping `pa` with `flags` (V added). */
const leaf = (pa: number, flags: bigint) => (BigInt(Math.floor(pa / PAGE)) << 10n) | V | flags;
const entry = (table: number, i: number) => table + i * 8;

/** Guest RAM as the monitor reaches it: 64-bit words by physical address, nothing outside. */
class Ram implements TableMemory {
  readonly view = new DataView(new ArrayBuffer(RAM_SIZE));
  read64(pa: number): bigint | undefined {
    const off = pa - RAM;
    if (!(off >= 0 && off + 8 <= RAM_SIZE)) return undefined;
    return this.view.getBigUint64(off, true);
  }
  write64(pa: number, v: bigint): boolean {
    const off = pa - RAM;
    if (!(off >= 0 && off + 8 <= RAM_SIZE)) return false;
    this.view.setBigUint64(off, v, true);
    return true;
  }
  /** Plain stores, before the table is live (what the guest may do to a frame nobody reaches). */
  set(pa: number, v: bigint): void {
    this.write64(pa, v);
  }
  zero(table: number): boolean {
    for (let i = 0; i < 512; i++) if (this.read64(entry(table, i)) !== 0n) return false;
    return true;
  }
}

/** `ramSize` may exceed the memory behind it: only the tables (in the arena) are read. */
function setup(ramSize = RAM_SIZE): { mem: Ram; dp: DirectPaging } {
  const mem = new Ram();
  const dp = new DirectPaging(RAM, ramSize, mem);
  expect(dp.register(ARENA, ARENA_PAGES)).toBeUndefined();
  return { mem, dp };
}

/** ROOT -> (index 2, VA 0x80000000) L1 -> (index 0) L0, in arena frames 0, 1, 2. */
const ROOT = frameAt(0);
const L1 = frameAt(1);
const L0 = frameAt(2);
function chain(mem: Ram): void {
  mem.set(entry(ROOT, 2), ptr(L1));
  mem.set(entry(L1, 0), ptr(L0));
}

describe('DirectPaging.register: the page-table arena', () => {
  it('accepts a page-aligned arena inside RAM once, and refuses a second one', () => {
    const dp = new DirectPaging(RAM, RAM_SIZE, new Ram());
    expect(dp.registered).toBe(false);
    expect(dp.register(ARENA, ARENA_PAGES)).toBeUndefined();
    expect(dp.registered).toBe(true);
    expect(dp.register(ARENA + 64 * PAGE, 1)).toMatch(/already/);
    expect(dp.arenaBase).toBe(ARENA);
  });

  it('refuses a misaligned base, an arena outside RAM or running past its end, and 0 pages, naming the value', () => {
    const cases: [number, number, string][] = [
      [ARENA + 8, 4, '0x80100008'],
      [0x1000, 1, '0x1000'],
      [BEYOND, 1, '0x20000000000'],
      [RAM + RAM_SIZE - PAGE, 2, `0x${(RAM + RAM_SIZE - PAGE).toString(16)}`],
      [RAM - PAGE, 2, `0x${(RAM - PAGE).toString(16)}`],
      [ARENA, 0, '0 pages'],
      [ARENA, -1, '-1 pages'],
      [ARENA, 1.5, '1.5 pages'],
    ];
    for (const [base, pages, named] of cases) {
      const dp = new DirectPaging(RAM, RAM_SIZE, new Ram());
      const why = dp.register(base, pages);
      expect(why, `register(0x${base.toString(16)}, ${pages})`).toContain(named);
      expect(dp.registered).toBe(false);
    }
  });
});

describe('DirectPaging.pin: validating a root and everything it reaches', () => {
  it('accepts an empty root, and a tree of read-only, RAM and device leaves', () => {
    const { mem, dp } = setup();
    chain(mem);
    mem.set(entry(ROOT, 0), leaf(0, R | W | A | D)); // device space below RAM: a gigapage at 0
    mem.set(entry(ROOT, 1), leaf(GIB, R | W)); // the gigapage that ends where RAM begins
    mem.set(entry(L1, 1), leaf(RAM + 2 * MIB, R | W | X | U | A | D)); // a 2 MiB page of RAM
    mem.set(entry(L0, 0), leaf(ARENA, R | U)); // the arena, read-only
    mem.set(entry(L0, 1), leaf(RAM + RAM_SIZE - PAGE, R | W)); // the last page of RAM
    mem.set(entry(L0, 2), leaf(ARENA - PAGE, R | W)); // just below the arena
    mem.set(entry(L0, 3), leaf(ARENA_END, R | W)); // just above it
    mem.set(entry(L0, 4), R | W | 0xfff0000n); // not valid: anything goes
    expect(dp.pin(frameAt(5))).toBeUndefined();
    expect(dp.pin(ROOT)).toBeUndefined();
    expect(dp.isPinnedRoot(ROOT)).toBe(true);
    expect(dp.liveTables()).toBe(4);
  });

  it('refuses a root whose next table is outside the arena', () => {
    for (const next of [RAM, ARENA_END, ARENA - PAGE, BEYOND]) {
      const { mem, dp } = setup();
      mem.set(entry(ROOT, 3), ptr(next));
      expect(dp.pin(ROOT), `next table 0x${next.toString(16)}`).toMatch(/outside the page-table arena/);
      expect(dp.isPinnedRoot(ROOT)).toBe(false);
      expect(dp.liveTables()).toBe(0);
    }
  });

  it('refuses a writable leaf covering any byte of the arena at every level (1 GiB, 2 MiB, 4 KiB); read-only is accepted', () => {
    const at: [string, number, number, number][] = [
      ['1 GiB', ROOT, 2, RAM], // replaces the link to L1; RAM is 1 GiB here, so the gigapage is RAM
      ['2 MiB', L1, 2, RAM], // VA 0x80400000 -> the first 2 MiB of RAM, the arena among them
      ['4 KiB', L0, 9, ARENA + 7 * PAGE],
      ['4 KiB', L0, 10, ARENA_END - PAGE], // the arena's last page
    ];
    for (const [what, table, i, pa] of at) {
      for (const [flags, ok] of [
        [R | W, false],
        [R | W | X | U | A | D, false],
        [R, true],
        [R | X | U | A, true],
        [X, true],
      ] as const) {
        const { mem, dp } = setup(GIB);
        chain(mem);
        mem.set(entry(table, i), leaf(pa, flags));
        const why = dp.pin(ROOT);
        const says = `${what} leaf at 0x${pa.toString(16)}, flags 0x${flags.toString(16)}`;
        if (ok) expect(why, says).toBeUndefined();
        else expect(why, says).toMatch(/writable mapping of the page-table arena/);
        expect(dp.isPinnedRoot(ROOT)).toBe(ok);
      }
    }
  });

  it('refuses a leaf beyond RAM (the monitor memory) at any level, accepts device space below RAM', () => {
    const refused: [number, number, bigint][] = [
      [ROOT, 5, leaf(BEYOND, R)],
      [ROOT, 2, leaf(RAM, R)], // a gigapage at RAM: 1 GiB, far more than this VM's 4 MiB
      [L1, 3, leaf(RAM + RAM_SIZE, R)], // the 2 MiB right after RAM
      [L0, 0, leaf(RAM + RAM_SIZE, R)], // the page right after RAM
      [L0, 0, leaf(BEYOND, R | X)],
      [L0, 0, leaf(RAM - PAGE + GIB * 4, R)],
    ];
    for (const [table, i, value] of refused) {
      const { mem, dp } = setup();
      if (table !== ROOT || i !== 2) chain(mem);
      mem.set(entry(table, i), value);
      expect(dp.pin(ROOT), `0x${value.toString(16)} at ${i}`).toMatch(/neither this VM's RAM nor device space/);
    }
    const accepted: [number, number, bigint][] = [
      [ROOT, 0, leaf(0, R | W)],
      [ROOT, 1, leaf(GIB, R | W | X)],
      [L0, 0, leaf(0x10000000, R | W)], // a UART
      [L1, 5, leaf(RAM - 2 * MIB, R | W)],
    ];
    for (const [table, i, value] of accepted) {
      const { mem, dp } = setup();
      chain(mem);
      mem.set(entry(table, i), value);
      expect(dp.pin(ROOT), `0x${value.toString(16)} at ${i}`).toBeUndefined();
    }
  });

  it('refuses a misaligned superpage, a pointer at level 0, reserved bits, W without R, and A, D or U on a pointer', () => {
    const cases: [number, number, bigint, RegExp][] = [
      [ROOT, 0, leaf(2 * MIB, R), /not aligned/],
      [L1, 1, leaf(RAM + PAGE, R), /not aligned/],
      [L1, 1, leaf(RAM + MIB, R), /not aligned/],
      [L0, 0, ptr(frameAt(3)), /pointer at level 0/],
      [L0, 0, leaf(RAM, R) | (1n << 54n), /reserved/],
      [L0, 0, leaf(RAM, R) | (1n << 63n), /reserved/],
      [L1, 0, ptr(L0) | (1n << 60n), /reserved/],
      [L0, 0, leaf(RAM, W), /writable without readable/],
      [L0, 0, leaf(RAM, W | X), /writable without readable/],
      [L1, 0, ptr(L0) | A, /A, D or U/],
      [L1, 0, ptr(L0) | D, /A, D or U/],
      [L1, 0, ptr(L0) | U, /A, D or U/],
    ];
    for (const [table, i, value, why] of cases) {
      const { mem, dp } = setup();
      chain(mem);
      mem.set(entry(table, i), value);
      expect(dp.pin(ROOT), `0x${value.toString(16)}`).toMatch(why);
      expect(dp.liveTables()).toBe(0);
      expect(dp.isPinnedRoot(ROOT)).toBe(false);
    }
  });

  it('refuses a frame used as tables of two levels, including the root itself', () => {
    const loops: [number, number, bigint][] = [
      [ROOT, 7, ptr(ROOT)], // the root as its own level-1 table
      [L1, 7, ptr(L1)], // L1 as its own level-0 table
      [L1, 7, ptr(ROOT)], // the root as a level-0 table
    ];
    for (const [table, i, value] of loops) {
      const { mem, dp } = setup();
      chain(mem);
      mem.set(entry(table, i), value);
      expect(dp.pin(ROOT)).toMatch(/is already a level-/);
    }
    // ROOT[2] -> L1 (level 1), ROOT[3] -> M (level 1), M[0] -> L1 (as a level-0 table).
    const { mem, dp } = setup();
    chain(mem);
    mem.set(entry(ROOT, 3), ptr(frameAt(4)));
    mem.set(entry(frameAt(4), 0), ptr(L1));
    expect(dp.pin(ROOT)).toMatch(/already a level-1 table/);
    // The same table twice at the same level is fine: sharing.
    mem.set(entry(frameAt(4), 0), 0n);
    mem.set(entry(frameAt(4), 1), ptr(L0));
    expect(dp.pin(ROOT)).toBeUndefined();
    expect(dp.liveTables()).toBe(4);
  });

  it('refuses a root outside the arena, misaligned, already pinned, or live at another level', () => {
    const { mem, dp } = setup();
    chain(mem);
    expect(dp.pin(RAM)).toMatch(/not a page of the page-table arena/);
    expect(dp.pin(ARENA_END)).toMatch(/not a page of the page-table arena/);
    expect(dp.pin(ROOT + 8)).toMatch(/not a page of the page-table arena/);
    expect(dp.pin(ROOT)).toBeUndefined();
    expect(dp.pin(ROOT)).toMatch(/already pinned/);
    expect(dp.pin(L1)).toMatch(/level-1 table/);
    expect(dp.pin(L0)).toMatch(/level-0 table/);
    // A pinned root cannot become another root's level-1 table either.
    const other = frameAt(6);
    mem.set(entry(other, 0), ptr(ROOT));
    expect(dp.pin(other)).toMatch(/pinned root/);
    expect(dp.stats.refused).toBe(7);
  });
});

describe('DirectPaging.update: validated writes, live tables, release', () => {
  it('stores writes into a frame that is not live unchecked, and refuses entries outside the arena or misaligned', () => {
    const { mem, dp } = setup();
    const bad = leaf(BEYOND, R | W);
    expect(dp.update(entry(frameAt(5), 3), bad)).toBeUndefined();
    expect(mem.read64(entry(frameAt(5), 3))).toBe(bad);
    expect(dp.stats.refused).toBe(0);
    mem.set(RAM, 0x1234n);
    expect(dp.update(RAM, 0n)).toMatch(/0x80000000 is not an aligned entry of the page-table arena/);
    expect(dp.update(ARENA_END, 0n)).toMatch(/not an aligned entry/);
    expect(dp.update(ARENA_END - 4, 0n)).toMatch(/not an aligned entry/);
    expect(dp.update(ARENA + 4, 0n)).toMatch(/not an aligned entry/);
    expect(mem.read64(RAM)).toBe(0x1234n);
    expect(dp.stats.refused).toBe(4);
    expect(dp.stats.updates).toBe(5);
  });

  it('validates writes into a live table: a refused one leaves memory unchanged and is counted', () => {
    const { mem, dp } = setup();
    chain(mem);
    mem.set(entry(L0, 0), leaf(RAM, R | W));
    expect(dp.pin(ROOT)).toBeUndefined();
    const refused: [number, bigint][] = [
      [entry(ROOT, 8), leaf(BEYOND, R)],
      [entry(ROOT, 2), leaf(RAM, R | W)],
      [entry(L1, 1), leaf(RAM, R | W)],
      [entry(L0, 0), leaf(ARENA + 3 * PAGE, R | W)],
      [entry(L0, 0), ptr(frameAt(7))],
      [entry(L1, 1), ptr(RAM)],
      [entry(L1, 1), ptr(L1)],
      [entry(L1, 1), ptr(ROOT)],
      [entry(ROOT, 4), ptr(L0)],
    ];
    for (const [pte, value] of refused) {
      const before = mem.read64(pte);
      expect(dp.update(pte, value), `0x${value.toString(16)} at 0x${pte.toString(16)}`).toBeDefined();
      expect(mem.read64(pte)).toBe(before);
    }
    expect(dp.stats.refused).toBe(refused.length);
    expect(dp.liveTables()).toBe(3);
    // Valid writes go through.
    expect(dp.update(entry(L0, 0), leaf(ARENA, R))).toBeUndefined();
    expect(mem.read64(entry(L0, 0))).toBe(leaf(ARENA, R));
    expect(dp.update(entry(L0, 1), 0n)).toBeUndefined();
    expect(dp.stats.refused).toBe(refused.length);
  });

  it('makes a table live when a live entry links it, validating it whole first', () => {
    const { mem, dp } = setup();
    expect(dp.pin(ROOT)).toBeUndefined();
    expect(dp.liveTables()).toBe(1);
    // L1 and L0 are built while nobody reaches them (unchecked), then linked.
    expect(dp.update(entry(L1, 0), ptr(L0))).toBeUndefined();
    expect(dp.update(entry(L0, 5), leaf(ARENA, R | W))).toBeUndefined(); // not live yet: stored
    expect(dp.update(entry(ROOT, 2), ptr(L1))).toMatch(/writable mapping of the page-table arena/);
    expect(dp.liveTables()).toBe(1);
    expect(mem.read64(entry(ROOT, 2))).toBe(0n);
    expect(dp.update(entry(L0, 5), leaf(ARENA, R))).toBeUndefined();
    expect(dp.update(entry(ROOT, 2), ptr(L1))).toBeUndefined();
    expect(dp.liveTables()).toBe(3);
    // Now L0 is live: the same write is refused.
    expect(dp.update(entry(L0, 5), leaf(ARENA, R | W))).toMatch(/writable mapping/);
    expect(mem.read64(entry(L0, 5))).toBe(leaf(ARENA, R));
  });

  it('releases a table when its last link goes, recursively, zeroing it', () => {
    const { mem, dp } = setup();
    chain(mem);
    mem.set(entry(L0, 0), leaf(RAM, R | W));
    expect(dp.pin(ROOT)).toBeUndefined();
    expect(dp.update(entry(ROOT, 2), 0n)).toBeUndefined();
    expect(dp.liveTables()).toBe(1);
    expect(mem.zero(L1)).toBe(true);
    expect(mem.zero(L0)).toBe(true);
    expect(dp.stats.released).toBe(2);
    // Released: writes into them are stored unchecked again.
    expect(dp.update(entry(L0, 0), leaf(BEYOND, R))).toBeUndefined();
  });

  it('unpin releases the tree recursively and zeroes every released table', () => {
    const { mem, dp } = setup();
    chain(mem);
    mem.set(entry(L0, 0), leaf(RAM, R | W));
    mem.set(entry(ROOT, 0), leaf(0, R | W));
    expect(dp.pin(ROOT)).toBeUndefined();
    expect(dp.liveTables()).toBe(3);
    expect(dp.unpin(ROOT)).toBeUndefined();
    expect(dp.isPinnedRoot(ROOT)).toBe(false);
    expect(dp.liveTables()).toBe(0);
    for (const t of [ROOT, L1, L0]) expect(mem.zero(t), `table 0x${t.toString(16)} zeroed`).toBe(true);
    expect(dp.stats.released).toBe(3);
    expect(dp.unpin(ROOT)).toMatch(/not a pinned root/);
    expect(dp.unpin(RAM)).toMatch(/not a pinned root/);
  });

  it('keeps a table two pinned roots share live until the last one is unpinned', () => {
    const { mem, dp } = setup();
    const R2 = frameAt(3);
    chain(mem);
    mem.set(entry(R2, 2), ptr(L1));
    mem.set(entry(L0, 0), leaf(RAM, R | W));
    expect(dp.pin(ROOT)).toBeUndefined();
    expect(dp.pin(R2)).toBeUndefined();
    expect(dp.liveTables()).toBe(4);
    expect(dp.unpin(ROOT)).toBeUndefined();
    expect(mem.zero(ROOT)).toBe(true);
    expect(dp.liveTables()).toBe(3);
    expect(mem.read64(entry(R2, 2))).toBe(ptr(L1));
    expect(mem.read64(entry(L1, 0))).toBe(ptr(L0));
    expect(mem.read64(entry(L0, 0))).toBe(leaf(RAM, R | W));
    // Still live, so still validated.
    expect(dp.update(entry(L0, 1), leaf(ARENA, R | W))).toMatch(/writable mapping/);
    expect(dp.unpin(R2)).toBeUndefined();
    expect(dp.liveTables()).toBe(0);
    for (const t of [R2, L1, L0]) expect(mem.zero(t)).toBe(true);
  });
});

// --- the model test ---

const FRAMES = 6; // a small arena, so random pointers often meet
const ENTRIES = [0, 1, 2, 3, 511];

/** Every table reachable from the pinned roots, checked against the rules, read from memory. */
function walk(mem: Ram, roots: Iterable<number>): Map<number, number> {
  const levels = new Map<number, number>();
  const visit = (table: number, lv: number): void => {
    const seen = levels.get(table);
    if (seen !== undefined) {
      expect(seen, `table 0x${table.toString(16)} reached as levels ${seen} and ${lv}`).toBe(lv);
      return;
    }
    levels.set(table, lv);
    for (let i = 0; i < 512; i++) {
      const e = mem.read64(entry(table, i))!;
      if ((e & V) === 0n) continue;
      const where = `entry ${i} of the level-${lv} table 0x${table.toString(16)} = 0x${e.toString(16)}`;
      expect(e >> 54n, `${where}: reserved bits`).toBe(0n);
      expect(e & (R | W), `${where}: W without R`).not.toBe(W);
      const pa = Number((e >> 10n) & ((1n << 44n) - 1n)) * PAGE;
      if ((e & (R | X)) === 0n) {
        expect(lv, `${where}: a pointer at level 0`).toBeGreaterThan(0);
        expect(pa >= ARENA && pa < ARENA_END, `${where}: a pointer outside the arena`).toBe(true);
        visit(pa, lv - 1);
        continue;
      }
      const size = PAGE * 512 ** lv;
      expect(pa % size, `${where}: a misaligned superpage`).toBe(0);
      const ram = pa >= RAM && pa + size <= RAM + RAM_SIZE;
      const device = pa + size <= RAM;
      expect(ram || device, `${where}: maps neither RAM nor device space below RAM`).toBe(true);
      if ((e & W) !== 0n) expect(pa < ARENA_END && ARENA < pa + size, `${where}: a writable mapping of the arena`).toBe(false);
    }
  };
  for (const r of roots) visit(r, 2);
  return levels;
}

const frameArb = fc.integer({ min: 0, max: FRAMES - 1 }).map(frameAt);
const flagsArb = fc.record({ r: fc.boolean(), w: fc.boolean(), x: fc.boolean(), extra: fc.constantFrom(0n, U, A | D, U | A | D) });
const targetArb = fc.oneof(
  fc.integer({ min: 0, max: RAM_SIZE / PAGE - 1 }).map((p) => RAM + p * PAGE), // RAM pages (the arena among them)
  fc.integer({ min: 0, max: ARENA_PAGES - 1 }).map(frameAt), // the arena
  fc.constantFrom(RAM, RAM + 2 * MIB, 0, GIB, 0x10000000, RAM - 2 * MIB, RAM - PAGE), // aligned RAM, device space
  fc.constantFrom(RAM + RAM_SIZE, RAM + RAM_SIZE - PAGE + 2 * MIB, BEYOND, 2 ** 55, RAM + GIB), // beyond RAM
);
const valueArb: fc.Arbitrary<bigint> = fc.oneof(
  { weight: 3, arbitrary: frameArb.map(ptr) },
  { weight: 1, arbitrary: fc.tuple(frameArb, fc.constantFrom(A, D, U, 1n << 60n)).map(([f, x]) => ptr(f) | x) },
  {
    weight: 4,
    arbitrary: fc.tuple(targetArb, flagsArb).map(([pa, f]) => {
      let flags = f.extra;
      if (f.r) flags |= R;
      if (f.w) flags |= W;
      if (f.x || (!f.r && !f.w)) flags |= X; // a leaf (a pointer has its own arbitrary)
      return leaf(pa, flags);
    }),
  },
  { weight: 2, arbitrary: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((v) => v & ~V) }, // not valid
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) }, // anything
);
const opArb = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('update' as const), table: frameArb, i: fc.constantFrom(...ENTRIES), value: valueArb }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('update' as const), table: fc.constantFrom(RAM, ARENA_END, ARENA + 4), i: fc.constant(0), value: valueArb }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('pin' as const), table: frameArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('unpin' as const), table: frameArb }) },
);

describe('direct paging against random guests', () => {
  it('never lets a pinned root reach a table that maps beyond RAM, the arena writable, or points outside it; releases zeroed', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 10, maxLength: 50 }), (ops) => {
        const { mem, dp } = setup();
        const pinned = new Set<number>();
        let live = new Map<number, number>();
        for (const o of ops) {
          if (o.kind === 'update') {
            const pte = entry(o.table, o.i);
            const before = mem.read64(pte);
            const why = dp.update(pte, o.value);
            if (why) expect(mem.read64(pte), 'a refused update changed memory').toBe(before);
            else expect(mem.read64(pte)).toBe(o.value);
            if ((o.value & V) === 0n && pte >= ARENA && pte < ARENA_END && pte % 8 === 0) expect(why, 'an invalid entry is always accepted').toBeUndefined();
          } else if (o.kind === 'pin') {
            if (dp.pin(o.table) === undefined) {
              expect(pinned.has(o.table)).toBe(false);
              pinned.add(o.table);
            }
          } else if (dp.unpin(o.table) === undefined) {
            expect(pinned.delete(o.table)).toBe(true);
          } else expect(pinned.has(o.table)).toBe(false);
          for (let f = 0; f < FRAMES; f++) expect(dp.isPinnedRoot(frameAt(f))).toBe(pinned.has(frameAt(f)));
          const now = walk(mem, pinned);
          expect(dp.liveTables(), 'live tables are exactly those the pinned roots reach').toBe(now.size);
          for (const t of live.keys()) if (!now.has(t)) expect(mem.zero(t), `released table 0x${t.toString(16)} zeroed`).toBe(true);
          live = now;
        }
      }),
      { numRuns: 100 },
    );
  });
});
