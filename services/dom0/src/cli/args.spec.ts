import { describe, expect, it } from 'vitest';
import { intFlag, parseArgs } from './args.js';

describe('CLI arguments', () => {
  it('splits words and flags, with values either way', () => {
    const a = parseArgs(['web', '--json', '--interval', '500', '--timeout=20', 'db'], ['json'], ['interval', 'timeout']);
    expect(a.positional).toEqual(['web', 'db']);
    expect(Object.fromEntries(a.flags)).toEqual({ json: true, interval: '500', timeout: '20' });
    expect(intFlag(a, 'interval', 1000)).toBe(500);
    expect(intFlag(a, 'missing', 7)).toBe(7);
  });

  it('refuses what the command does not take, saying what it does', () => {
    expect(() => parseArgs(['--jsn'], ['json'])).toThrow('unknown flag --jsn (this command takes --json)');
    expect(() => parseArgs(['--interval'], [], ['interval'])).toThrow('--interval needs a value');
    expect(() => parseArgs(['--json=1'], ['json'])).toThrow('--json takes no value');
    expect(() => intFlag(parseArgs(['--n', 'x'], [], ['n']), 'n', 1, 1, 9)).toThrow('--n: "x" is not a whole number between 1 and 9');
  });
});
