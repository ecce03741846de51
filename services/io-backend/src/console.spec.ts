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

  it('keeps order behind a slow publisher, coalescing what waits, and flush() waits for all of it', async () => {
    const { out, chunks, write } = recorder({ slowMs: 5 });
    write('1\n2\n3');
    await out.flush();
    // '1\n' went out at once; '2\n' and '3' waited behind it and go out as one message.
    expect(chunks).toEqual(['1\n', '2\n3']);
    await out.flush(); // nothing buffered: resolves at once
  });

  it('loses nothing when the guest prints lines far faster than the publisher stores them', async () => {
    const { out, chunks, errors, write } = recorder({ slowMs: 2 });
    const lines = Array.from({ length: 4096 }, (_, i) => `${(0x80200000 + i * 16).toString(16)}: ${'ab '.repeat(16)} ${'.'.repeat(16)}\n`);
    // In bursts, as a vCPU's posted writes arrive: a publish is in flight most of the time.
    for (let i = 0; i < lines.length; i += 64) {
      write(lines.slice(i, i + 64).join(''));
      await sleep(0);
    }
    await out.flush();
    expect(errors).toEqual([]);
    expect(chunks.join('')).toBe(lines.join(''));
    expect(out.stats.bytesLost).toBe(0);
    expect(chunks.length).toBeLessThan(lines.length / 8);
    expect(Math.max(...chunks.map((c) => c.length))).toBeLessThanOrEqual(16 * 1024);
  });

  it('reports a failed publish and goes on with the next chunk', async () => {
    const { out, chunks, errors, write } = recorder({ failOn: 'bad' });
    write('bad\ngood\n');
    await out.flush();
    expect(chunks).toEqual(['good\n']);
    expect(errors).toEqual(['nats down (4)']);
    expect(out.stats.bytesLost).toBe(4);
  });

  it('drops output past its buffer when the publisher stalls, reports how much, and goes on once it is back', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const published: string[] = [];
    const errors: string[] = [];
    const out = new ConsoleOut({
      publish: async (d) => {
        await gate;
        published.push(d.toString());
      },
      onError: (e, n) => errors.push(`${e.message}: ${n}`),
      maxBufferedBytes: 512,
    });
    const write = (s: string) => {
      for (const b of Buffer.from(s)) out.push(b);
    };
    write('first\n'); // in flight, held at the gate
    write('x'.repeat(511) + '\n'); // fills the buffer
    write('lost\n');
    expect(out.stats).toMatchObject({ chunks: 1, bytesOut: 6, bytesLost: 5 });
    release();
    await out.flush();
    expect(errors).toEqual(['the console buffer was full (512 bytes waiting for the publisher): 5']);
    write('after\n');
    await out.flush();
    expect(published).toEqual(['first\n', 'x'.repeat(511) + '\n', 'after\n']);
    expect(out.stats).toMatchObject({ chunks: 3, bytesOut: 524, bytesLost: 5 });
  });
});
