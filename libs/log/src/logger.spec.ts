import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, parseLogLevel, vmLogger } from './index.js';

function capture() {
  const stream = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  stream.on('data', (chunk: Buffer) => {
    for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
  });
  return { stream, lines };
}

describe('logger', () => {
  it('writes JSON lines with service, vm and vcpu fields', async () => {
    const { stream, lines } = capture();
    const log = createLogger({ service: 'cpu', level: 'info', destination: stream });
    vmLogger(log, 'hello', 0).info({ pc: 0x80000000 }, 'vcpu started');
    log.debug('not shown at info');
    await new Promise((r) => setImmediate(r));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ service: 'cpu', vm: 'hello', vcpu: 0, pc: 0x80000000, msg: 'vcpu started', level: 30 });
    expect(typeof lines[0]!['time']).toBe('string');
  });

  it('rejects an unknown level, naming it', () => {
    expect(() => parseLogLevel('loud')).toThrow(/log level: "loud" is not one of fatal, error/);
    expect(parseLogLevel(undefined)).toBe('info');
    expect(parseLogLevel('debug')).toBe('debug');
  });
});
