import { afterEach, describe, expect, it, vi } from 'vitest';
import { file, requireOrSkip, tool } from './require.js';

describe('requireOrSkip', () => {
  const here = { what: 'node (Debian: nodejs)', present: true };
  const gone = { what: 'no-such-tool (Debian: nothing)', present: false };
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('lets the test go on when everything is there', () => {
    const skip = vi.fn();
    requireOrSkip(skip, [here], 'SPLITVISOR_ALLOW_NO_QEMU', 'compares with QEMU');
    expect(skip).not.toHaveBeenCalled();
  });

  it('fails naming what is missing, what does not run and the variable', () => {
    vi.stubEnv('SPLITVISOR_ALLOW_NO_QEMU', '');
    const skip = vi.fn();
    expect(() => requireOrSkip(skip, [here, gone], 'SPLITVISOR_ALLOW_NO_QEMU', 'This test compares with QEMU')).toThrow(
      'missing: no-such-tool (Debian: nothing). This test compares with QEMU: it cannot run without them; install them, or set SPLITVISOR_ALLOW_NO_QEMU=1 to skip it.',
    );
    expect(skip).not.toHaveBeenCalled();
  });

  it('skips with the reason printed when the variable allows it, and only that variable', () => {
    vi.stubEnv('SPLITVISOR_ALLOW_NO_FIRMWARE', '1');
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const skip = vi.fn();
    requireOrSkip(skip, [gone], 'SPLITVISOR_ALLOW_NO_FIRMWARE', 'boots firmware');
    expect(skip).toHaveBeenCalledWith('missing: no-such-tool (Debian: nothing) (SPLITVISOR_ALLOW_NO_FIRMWARE=1)');
    expect(warn).toHaveBeenCalledWith('SKIPPED: missing: no-such-tool (Debian: nothing); SPLITVISOR_ALLOW_NO_FIRMWARE=1 allows that.');
    expect(() => requireOrSkip(skip, [gone], 'SPLITVISOR_ALLOW_NO_QEMU', 'x')).toThrow(/SPLITVISOR_ALLOW_NO_QEMU=1/);
  });

  it('finds commands and files', () => {
    expect(tool('node', 'nodejs')).toEqual({ what: 'node (Debian: nodejs)', present: true });
    expect(tool('no-such-tool-here', 'x').present).toBe(false);
    expect(file('/', 'the root').present).toBe(true);
    expect(file('/no/such/file', 'scripts/x.sh')).toEqual({ what: '/no/such/file (scripts/x.sh)', present: false });
  });
});
