import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { followLines } from './child-lines.js';

describe('followLines', () => {
  it('keeps a line whole across chunks, reads both streams, and keeps the last lines', async () => {
    // The first line is written in two pieces, 50 ms apart: one line, not two.
    const script = "process.stdout.write('hel'); setTimeout(() => { process.stdout.write('lo\\nworld\\n'); process.stderr.write('oops\\n'); }, 50);";
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    const seen: string[] = [];
    const tail = followLines(child, 2, (l) => seen.push(l));
    await new Promise((r) => child.on('close', r));
    expect(seen.sort()).toEqual(['hello', 'oops', 'world']);
    expect(tail).toHaveLength(2);
  });
});
