// Random malformed queues through transport + device (virtio-rng): whatever the guest puts
// in the descriptor table, the avail ring, an indirect table or the flags, the transport
// never throws, the device never hangs (a bound on event-loop turns, not on time), and the
// run ends either with every published chain given back validly or with NEEDS_RESET.
// A new seed each run (printed; SPLITVISOR_FUZZ_SEED=<n> replays one), and every seed in
// fuzz.seeds.txt, the ones that once failed, each run too.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { STATUS } from '../constants.js';
import { FlatMemory } from '../memory.js';
import { REG } from '../mmio/registers.js';
import { VirtioMmioTransport } from '../mmio/transport.js';
import { VirtioRng } from '../rng/rng.js';
import { MockDriver, turn } from '../testing/mock-driver.js';
import { FUZZ_SEED_ENV, fuzzSeed, regressionSeeds } from '../testing/fuzz-seed.test-util.js';

const BASE = 0x8000_0000;
const RAM = 64 * 1024;
/** Buffers the fuzzer points at in RAM live here, away from the rings. */
const DATA = BASE + 32 * 1024;
const TABLE = BASE + 16 * 1024; // the indirect table the fuzzer may reference
const MAX_TURNS = 200;
const NUM_RUNS = 5000;

const addr = fc.oneof(
  fc.integer({ min: 0, max: 16 * 1024 - 1 }).map((o) => BigInt(DATA + o)), // in RAM
  fc.constant(BigInt(TABLE)), // the indirect table
  fc.integer({ min: 0, max: 0x7fff_ffff }).map(BigInt), // below RAM
  fc.bigInt({ min: BigInt(BASE + RAM - 64), max: BigInt(BASE + RAM + 64) }), // the end of RAM
  fc.bigInt({ min: 2n ** 53n - 4096n, max: 2n ** 53n + 4096n }), // around 2^53
  fc.bigInt({ min: 2n ** 64n - 0x10000n, max: 2n ** 64n - 1n }), // just below 2^64
);
const len = fc.oneof(fc.integer({ min: 0, max: 600 }), fc.constantFrom(0xffff_ffff, 0x8000_0000, 16, 32, 48));
const desc = (maxNext: number) => fc.record({ addr, len, flags: fc.integer({ min: 0, max: 7 }), next: fc.integer({ min: 0, max: maxNext }) });

const scenario = fc.constantFrom(1, 2, 4, 8, 16).chain((size) =>
  fc.record({
    size: fc.constant(size),
    table: fc.array(desc(size + 2), { minLength: size, maxLength: size }),
    indirect: fc.array(desc(6), { minLength: 0, maxLength: 6 }),
    ring: fc.array(fc.integer({ min: 0, max: size + 2 }), { minLength: size, maxLength: size }),
    availIdx: fc.oneof(fc.integer({ min: 0, max: size }), fc.integer({ min: 0, max: 0xffff })),
    availFlags: fc.integer({ min: 0, max: 3 }),
    usedEvent: fc.integer({ min: 0, max: 0xffff }),
    eventIdx: fc.boolean(),
    kicks: fc.integer({ min: 1, max: 3 }),
  }),
);

/** NUM_RUNS rings from `seed`; fast-check's failure report names the seed and the path. */
async function fuzzRings(seed: number): Promise<void> {
  let resets = 0;
  let served = 0;
  await fc.assert(
    fc.asyncProperty(scenario, async (s) => {
      const mem = new FlatMemory(BASE, RAM);
      // 4096 bytes per request keeps randomFill synchronous, so MAX_TURNS is plenty.
      const rng = new VirtioRng({ queueSize: 16, maxBytesPerRequest: 4096 });
      const transport = new VirtioMmioTransport({ name: 'fuzz', device: rng, mem, onIrq: () => undefined });
      const driver = new MockDriver({ transport, mem });
      driver.init({ queueSizes: [s.size], accept: (f) => (s.eventIdx ? f : f & ~(1n << 29n)) });
      s.table.forEach((d, i) => driver.writeDesc(0, i, d));
      s.indirect.forEach((d, i) => driver.writeDesc(0, i, d, TABLE));
      s.ring.forEach((h, i) => driver.setAvailRing(0, i, h));
      driver.setAvailFlags(0, s.availFlags);
      driver.setUsedEvent(0, s.usedEvent);
      driver.setAvailIdx(0, s.availIdx);
      let done = false;
      for (let k = 0; k < s.kicks; k++) {
        driver.notify(0);
        done = false;
        void rng.idle().then(() => (done = true));
        let turns = 0;
        while (!done && turns++ < MAX_TURNS) await turn();
        expect(done, `device still busy after ${MAX_TURNS} turns`).toBe(true);
      }
      const needsReset = (driver.status() & STATUS.DEVICE_NEEDS_RESET) !== 0;
      const used = driver.takeUsed(0);
      for (const u of used) {
        expect(u.id).toBeLessThan(s.size);
        expect(u.len).toBeLessThanOrEqual(4096);
      }
      if (needsReset) {
        resets++;
        expect(transport.stats().lastError).not.toBe('');
        expect(driver.reg(REG.INTERRUPT_STATUS) & 2).toBe(2);
      } else {
        served++;
        // Every chain the driver published was given back, none twice.
        expect(used.length).toBe(s.availIdx);
      }
      expect(transport.irq).toBe(driver.reg(REG.INTERRUPT_STATUS) !== 0);
    }),
    { numRuns: NUM_RUNS, seed },
  );
  // Both outcomes occur, or the generator is not doing its job.
  expect(resets, `seed ${seed}: rings that ended in NEEDS_RESET`).toBeGreaterThan(NUM_RUNS / 10);
  expect(served, `seed ${seed}: rings served whole`).toBeGreaterThan(NUM_RUNS / 50);
}

const RUN = fuzzSeed();
const REGRESSIONS = regressionSeeds(new URL('./fuzz.seeds.txt', import.meta.url));
// Printed before the run, so a run that hangs or crashes still tells its seed.
console.log(`virtio queue fuzz: seed ${RUN.seed} (${RUN.from}); replay with ${FUZZ_SEED_ENV}=${RUN.seed}`);

describe('fuzz: malformed queues through transport + device', () => {
  it(`${NUM_RUNS} random rings, seed ${RUN.seed} (${RUN.from}): no throw, no hang, valid used entries or NEEDS_RESET`, async () => {
    await fuzzRings(RUN.seed);
  }, 60_000);

  it('fuzz.seeds.txt lists at least the seed the fuzz was fixed to before', () => {
    expect(REGRESSIONS).toContain(0x5eed);
  });
  for (const seed of REGRESSIONS) {
    it(`${NUM_RUNS} rings of regression seed ${seed} (fuzz.seeds.txt): the same properties`, async () => {
      await fuzzRings(seed);
    }, 60_000);
  }
});
