import { describe, expect, it } from 'vitest';
import { isVmId, parseVmId, VmIdError } from './vm-id.js';

describe('VmId', () => {
  it('takes a subject token of a-z, 0-9 and -, 1-63 long, and nothing else', () => {
    expect(parseVmId('web-1')).toBe('web-1');
    expect(parseVmId('a'.repeat(63))).toHaveLength(63);
    for (const bad of ['', '-a', 'A', 'a.b', 'a*', 'a>', 'a b', 'a'.repeat(64)]) {
      expect(() => parseVmId(bad), bad).toThrow(VmIdError);
      expect(isVmId(bad), bad).toBe(false);
    }
    expect(isVmId('x')).toBe(true);
  });

  it('names the field and quotes at most 80 characters of a refused value', () => {
    expect(() => parseVmId('Bad.Id', 'vm_id')).toThrow(`vm_id: "Bad.Id" must be 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit`);
    const e = (() => {
      try {
        parseVmId('a'.repeat(100_000), 'name');
      } catch (x) {
        return x as VmIdError;
      }
    })()!;
    expect(e.field).toBe('name');
    expect(e.message).toContain(`"${'a'.repeat(80)}…"`);
    expect(e.message.length).toBeLessThan(200);
  });
});
