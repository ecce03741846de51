import { afterEach, describe, expect, it, vi } from 'vitest';
import { onPath, requireTool } from './require-tool.js';

const missing = {
  ok: false,
  why: 'frob is not on PATH (Debian: apt-get install frob)',
  needed: 'The frob tests need it',
  allowVar: 'SPLITVISOR_TEST_ALLOW_NO_FROB',
};

describe('requireTool', () => {
  afterEach(() => {
    delete process.env[missing.allowVar];
    vi.restoreAllMocks();
  });

  it('returns when the tool is there', () => {
    const skip = vi.fn();
    requireTool({ ...missing, ok: true }, skip);
    expect(skip).not.toHaveBeenCalled();
  });

  it('fails naming what is missing, how to get it, and the variable that allows a skip', () => {
    const skip = vi.fn();
    expect(() => requireTool(missing, skip)).toThrow(
      'frob is not on PATH (Debian: apt-get install frob). The frob tests need it; install it, or set SPLITVISOR_TEST_ALLOW_NO_FROB=1 to skip.',
    );
    expect(skip).not.toHaveBeenCalled();
  });

  it('skips with the reason, printed, only when the variable is 1', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const skip = vi.fn();
    process.env[missing.allowVar] = '1';
    requireTool(missing, skip);
    expect(skip).toHaveBeenCalledWith(`${missing.why} (SPLITVISOR_TEST_ALLOW_NO_FROB=1)`);
    expect(warn).toHaveBeenCalledWith(`SKIPPED: ${missing.why}; SPLITVISOR_TEST_ALLOW_NO_FROB=1 allows that.`);
    process.env[missing.allowVar] = 'yes';
    expect(() => requireTool(missing, vi.fn())).toThrow(/set SPLITVISOR_TEST_ALLOW_NO_FROB=1 to skip/);
  });
});

describe('onPath', () => {
  it('is true for a command that runs with --version, false for one that does not exist', () => {
    expect(onPath(process.execPath)).toBe(true);
    expect(onPath('splitvisor-no-such-command')).toBe(false);
  });
});
