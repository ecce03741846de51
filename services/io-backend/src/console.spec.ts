import { describe, expect, it } from 'vitest';
import { ConsoleOut } from './console.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function recorder(opts: { slowMs?: number; failOn?: string } = {}) {
  const chunks: string[] = [];
  const errors: string[] = [];
  const out = new ConsoleOut({
    publish: async (data) => {
      if (opts.slowMs) await sleep(opts.slowMs);
      if (opts.failOn && data.toString().includes(opts.failOn)) throw new Error('nats down');
      chunks.push(data.toString());
    },
    onError: (e, n) => errors.push(`${e.message} (${n})`),
  });
  const write = (s: string) => {
    for (const b of Buffer.from(s)) out.push(b);
  };
  return { out, chunks, errors, write };
}

describe('ConsoleOut coalescing', () => {
  it('flushes at each newline', async () => {
    const { out, chunks, write } = recorder();
    write('hello\nworld\n');
    await out.flush();
    expect(chunks).toEqual(['hello\n', 'world\n']);
    expect(out.stats).toEqual({ bytesOut: 12, chunks: 2, bytesLost: 0 });
  });

  it('flushes when 512 bytes are buffered', async () => {
    const { out, chunks, write } = recorder();
    write('x'.repeat(600));
    await sleep(0);
    expect(chunks).toEqual(['x'.repeat(512)]);
    await out.flush();
    expect(chunks.map((c) => c.length)).toEqual([512, 88]);
  });

  it('flushes a partial line 10 ms after its first byte', async () => {
    const { chunks, write } = recorder();
    write('prompt> ');
    await sleep(2);
    expect(chunks).toEqual([]);
    write('$');
    await sleep(30);
    expect(chunks).toEqual(['prompt> $']);
  });

  it('keeps order behind a slow publisher, and flush() waits for all of it', async () => {
    const { out, chunks, write } = recorder({ slowMs: 5 });
    write('1\n2\n3');
    await out.flush();
    expect(chunks).toEqual(['1\n', '2\n', '3']);
    await out.flush(); // nothing buffered: resolves at once
  });

  it('reports a failed publish and goes on with the next chunk', async () => {
    const { out, chunks, errors, write } = recorder({ failOn: 'bad' });
    write('bad\ngood\n');
    await out.flush();
    expect(chunks).toEqual(['good\n']);
    expect(errors).toEqual(['nats down (4)']);
    expect(out.stats.bytesLost).toBe(4);
  });

  it('drops output rather than queueing without bound when the publisher stalls', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const errors: number[] = [];
    const out = new ConsoleOut({ publish: () => gate, onError: (_e, n) => errors.push(n), maxPendingChunks: 2 });
    for (const b of Buffer.from('a\nb\nc\nd\n')) out.push(b);
    expect(out.stats).toMatchObject({ chunks: 2, bytesLost: 4 });
    expect(errors).toEqual([2, 2]);
    release();
    await out.flush();
    out.push(0x65);
    out.push(0x0a);
    await out.flush();
    expect(out.stats).toMatchObject({ chunks: 3, bytesOut: 6 });
  });
});
