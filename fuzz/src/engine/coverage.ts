// The feedback signal: V8's precise block coverage through the inspector of this thread
// (Chrome DevTools Protocol, Profiler.startPreciseCoverage with detailed: true). Each take
// returns the counts since the last take and resets them, so what a take sees is what the
// inputs run since did. A feature is a block (script, function, boundary) that ran, with its
// count in libFuzzer's buckets (1, 2, 3, 4-7, 8-15, 16-31, 32-127, 128+), so a loop that runs
// more often than before counts as new too (more DHCP options, a longer descriptor chain).
// The protocol answers synchronously in-thread: no promise per take.
import { Session } from 'node:inspector';

interface CoverageRange {
  startOffset: number;
  endOffset: number;
  count: number;
}
interface FunctionCoverage {
  ranges: CoverageRange[];
}
interface ScriptCoverage {
  url: string;
  functions: FunctionCoverage[];
}

function bucket(count: number): number {
  if (count <= 3) return count;
  if (count < 8) return 4;
  if (count < 16) return 5;
  if (count < 32) return 6;
  if (count < 128) return 7;
  return 8;
}

/** The count of the innermost range holding position p (V8 nests ranges properly). */
function innermostCount(ranges: readonly CoverageRange[], p: number): number {
  let best: CoverageRange | undefined;
  for (const r of ranges) {
    if (r.startOffset <= p && p < r.endOffset && (!best || r.endOffset - r.startOffset <= best.endOffset - best.startOffset)) best = r;
  }
  return best?.count ?? 0;
}

export class Coverage {
  private readonly session = new Session();
  /** Every feature seen (block key + bucket), and every block seen (for the report). */
  private readonly features = new Set<string>();
  private readonly blocks = new Set<string>();
  /** Per function (script id:start), the block boundaries seen so far. */
  private readonly bounds = new Map<string, number[]>();
  /** Script URL -> short id, so keys stay short. */
  private readonly scripts = new Map<string, number>();

  /** @param scope URLs whose coverage counts (the code under test, not the fuzzer or node). */
  constructor(private readonly scope: readonly RegExp[]) {
    this.session.connect();
    this.post('Profiler.enable');
    this.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  }

  get blockCount(): number {
    return this.blocks.size;
  }

  /** Resets the counters without looking (before a batch whose coverage is to be measured alone). */
  discard(): void {
    this.post('Profiler.takePreciseCoverage');
  }

  /**
   * What the inputs run since the last take reached that was never seen before: blocks and
   * features (block + count bucket). With `commit` it is added to what has been seen;
   * without, only counted. A batch of inputs is probed on blocks alone, since its counts
   * are the sum of many inputs' and would look new for ever.
   */
  take(commit: boolean): { blocks: number; features: number } {
    const { result } = this.post('Profiler.takePreciseCoverage') as { result: ScriptCoverage[] };
    let blocks = 0;
    let features = 0;
    for (const script of result) {
      if (!this.scope.some((r) => r.test(script.url))) continue;
      let id = this.scripts.get(script.url);
      if (id === undefined) this.scripts.set(script.url, (id = this.scripts.size));
      for (const fn of script.functions) {
        const ranges = fn.ranges;
        if (ranges.length === 0 || ranges[0]!.count === 0) continue;
        const fnKey = `${id}:${ranges[0]!.startOffset}`;
        const bounds = this.learn(fnKey, ranges);
        for (const p of bounds) {
          const count = innermostCount(ranges, p);
          if (count === 0) continue;
          const block = `${fnKey}:${p}`;
          const feature = `${block}#${bucket(count)}`;
          if (this.features.has(feature)) continue;
          features++;
          if (!this.blocks.has(block)) blocks++;
          if (commit) {
            this.features.add(feature);
            this.blocks.add(block);
          }
        }
      }
    }
    return { blocks, features };
  }

  /**
   * The block boundaries of a function seen so far, this take's added. V8 leaves out a
   * nested range whose count equals its parent's, so the ranges of one take are not the
   * blocks; but every boundary it ever reports is a real one, and whether the code at a
   * boundary ran is a fact of the run. A block is then "the code at boundary p".
   */
  private learn(fnKey: string, ranges: readonly CoverageRange[]): number[] {
    let known = this.bounds.get(fnKey);
    if (!known) this.bounds.set(fnKey, (known = []));
    const end = ranges[0]!.endOffset;
    let grew = false;
    for (const r of ranges) {
      for (const p of [r.startOffset, r.endOffset]) {
        if (p < end && !known.includes(p)) {
          known.push(p);
          grew = true;
        }
      }
    }
    if (grew) known.sort((a, b) => a - b);
    return known;
  }

  close(): void {
    this.post('Profiler.stopPreciseCoverage');
    this.session.disconnect();
  }

  private post(method: string, params?: object): unknown {
    let error: Error | null = null;
    let answer: unknown;
    this.session.post(method, params, (e, r) => {
      error = e;
      answer = r;
    });
    if (error) throw error;
    return answer;
  }
}
