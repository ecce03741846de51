// The shadow MMU against a reference: random guest page tables, random accesses at random
// virtual privileges with SUM and MXR, random PTE changes with and without fences. Whatever
// the sequence, a shadow leaf never grants what the guest's tables do not (at the time of
// the fill, and, once the guest has fenced, at any time), and a fence leaves no leaf behind.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Access, guestWalk, PERM_R, PERM_W, PERM_X, SHADOW_BASE, ShadowMmu, type ShadowContext } from './shadow-mmu.js';

const RAM = 0x80000000;
const PAGE = 4096;
/** The guest's memory: root, one L1 and one L0 table, and the data pages they map. */
const ROOT = RAM;
const L1 = RAM + PAGE;
const L0 = RAM + 2 * PAGE;
const VA_BASE = 0x40000000; // root index 1 -> L1; L1 index 0 -> L0 (or a megapage)
const PAGES = 8;

class GuestMem {
  readonly bytes = new DataView(new ArrayBuffer(64 * PAGE));
  read(pa: number): bigint | undefined {
    const off = pa - RAM;
    if (off < 0 || off + 8 > this.bytes.byteLength) return undefined;
    return this.bytes.getBigUint64(off, true);
  }
  write(pa: number, v: bigint): boolean {
    const off = pa - RAM;
    if (off < 0 || off + 8 > this.bytes.byteLength) return false;
    this.bytes.setBigUint64(off, v, true);
    return true;
  }
}

const pointer = (pa: number) => (BigInt(pa / PAGE) << 10n) | 1n;
const SATP = (8n << 60n) | BigInt(ROOT / PAGE);

/** The reference: what the guest's leaf for `va` allows (no A/D side effects), or 0. */
function reference(m: GuestMem, va: number, vpriv: number, sum: boolean, mxr: boolean): { perms: number; pa: number } {
  let table = ROOT;
  for (const [shift, level] of [
    [30, 2],
    [21, 1],
    [12, 0],
  ] as const) {
    const pte = m.read(table + (Math.floor(va / 2 ** shift) % 512) * 8)!;
    const f = Number(pte & 0xffn);
    if (!(f & 1) || (f & 6) === 4) return { perms: 0, pa: 0 };
    const ppn = Number(pte >> 10n);
    if ((f & 0xa) === 0) {
      if (level === 0) return { perms: 0, pa: 0 };
      table = ppn * PAGE;
      continue;
    }
    if (ppn % 2 ** (9 * level) !== 0) return { perms: 0, pa: 0 };
    const user = (f & 16) !== 0;
    if (vpriv === 0 && !user) return { perms: 0, pa: 0 };
    if (vpriv === 1 && user && !sum) return { perms: 0, pa: 0 };
    let perms = 0;
    if (f & 2 || (mxr && f & 8)) perms |= PERM_R;
    if (f & 4) perms |= PERM_W;
    if (f & 8 && !(user && vpriv === 1)) perms |= PERM_X;
    return { perms, pa: ppn * PAGE + (va % 2 ** shift) - (va % PAGE) };
  }
  return { perms: 0, pa: 0 };
}

/** The shadow's leaf for `va` in `ctx`, read from its table memory: perms and the page. */
function shadowLeaf(s: ShadowMmu, ctx: ShadowContext, va: number): { perms: number; pa: number } | undefined {
  const t = s.tables.s32;
  let table = Number(s.satp(ctx) & ((1n << 44n) - 1n)) * PAGE - SHADOW_BASE;
  for (const shift of [30, 21, 12]) {
    const w = (table + (Math.floor(va / 2 ** shift) % 512) * 8) >>> 2;
    const lo = t[w]!;
    if (!(lo & 1)) return undefined;
    const ppn = (t[w + 1]! & 0x3fffff) * 2 ** 22 + (lo >>> 10);
    if (shift > 12) {
      table = ppn * PAGE - SHADOW_BASE;
      continue;
    }
    expect(lo & 16, 'every shadow leaf is a U page').toBe(16);
    return { perms: lo & (PERM_R | PERM_W | PERM_X), pa: ppn * PAGE };
  }
  return undefined;
}

const flagsArb = fc.integer({ min: 0, max: 0xff });
const op = fc.oneof(
  fc.record({
    kind: fc.constant('access' as const),
    page: fc.integer({ min: 0, max: PAGES - 1 }),
    acc: fc.integer({ min: 0, max: 2 }),
    vpriv: fc.integer({ min: 0, max: 1 }),
    sum: fc.boolean(),
    mxr: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('pte' as const), page: fc.integer({ min: 0, max: PAGES - 1 }), flags: flagsArb }),
  fc.record({ kind: fc.constant('fence' as const) }),
);

describe('the shadow MMU against a reference walk', () => {
  it('never grants what the guest tables do not, and a fence leaves nothing', () => {
    fc.assert(
      fc.property(fc.array(flagsArb, { minLength: PAGES, maxLength: PAGES }), fc.boolean(), fc.array(op, { maxLength: 60 }), (leafFlags, mega, ops) => {
        const m = new GuestMem();
        m.write(ROOT + 1 * 8, pointer(L1));
        const dataPage = (i: number) => RAM + (16 + i) * PAGE;
        if (mega)
          m.write(L1, (BigInt(RAM / PAGE) << 10n) | BigInt(leafFlags[0]! | 0x2)); // a 2 MiB leaf (R at least)
        else m.write(L1, pointer(L0));
        leafFlags.forEach((f, i) => m.write(L0 + i * 8, (BigInt(dataPage(i) / PAGE) << 10n) | BigInt(f)));
        const s = new ShadowMmu(64);
        let stale = false; // a PTE changed since the last fence: old leaves may stand (a TLB may hold them)
        const filled: { ctx: ShadowContext; va: number; sum: boolean; mxr: boolean }[] = [];
        for (const o of ops) {
          if (o.kind === 'fence') {
            s.flush();
            stale = false;
            filled.length = 0;
            for (let p = 0; p < PAGES; p++) for (const ctx of [0, 1] as const) expect(shadowLeaf(s, ctx, VA_BASE + p * PAGE)).toBeUndefined();
            continue;
          }
          if (o.kind === 'pte') {
            if (!mega) m.write(L0 + o.page * 8, (BigInt(dataPage(o.page) / PAGE) << 10n) | BigInt(o.flags));
            stale = true;
            continue;
          }
          const va = VA_BASE + o.page * PAGE;
          const ref = reference(m, va, o.vpriv, o.sum, o.mxr);
          const t = guestWalk(
            SATP,
            va,
            o.acc,
            o.vpriv,
            o.sum,
            o.mxr,
            (pa) => m.read(pa),
            (pa, v) => m.write(pa, v),
          );
          const need = o.acc === Access.Fetch ? PERM_X : o.acc === Access.Load ? PERM_R : PERM_W;
          expect(t !== undefined, `walk of page ${o.page} for ${o.acc} against the reference`).toBe((ref.perms & need) !== 0);
          if (!t) continue;
          // A shadow is only ever built under one SUM/MXR (the monitor flushes when they change).
          if (filled.some((f) => f.sum !== o.sum || f.mxr !== o.mxr)) {
            s.flush();
            filled.length = 0;
          }
          const ctx = o.vpriv as ShadowContext;
          if (!s.map(ctx, va, t.pa, t.perms)) {
            s.flush();
            filled.length = 0;
            expect(s.map(ctx, va, t.pa, t.perms)).toBe(true);
          }
          filled.push({ ctx, va, sum: o.sum, mxr: o.mxr });
          const leaf = shadowLeaf(s, ctx, va)!;
          expect(leaf.perms & ~ref.perms, 'granted beyond the guest tables at fill time').toBe(0);
          expect(leaf.pa).toBe(ref.pa);
          // W only once the guest's D is set (a clean page stays read-only until its first store).
          const d = Number(m.read(mega ? L1 : L0 + o.page * 8)! & 0x80n) !== 0;
          if (leaf.perms & PERM_W) expect(d).toBe(true);
          if (!stale) {
            for (const f of filled) {
              const l = shadowLeaf(s, f.ctx, f.va);
              if (l) expect(l.perms & ~reference(m, f.va, f.ctx, f.sum, f.mxr).perms, 'a standing leaf beyond the tables').toBe(0);
            }
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
