import { describe, expect, it } from 'vitest';
import { BUILT_VM_MODES, DEFAULT_VM_MODE, EXIT_REASON_TABLE, EXIT_REASONS, isRealExit, modeRefusal, Reason, VM_MODES } from './index.js';

describe('VM modes', () => {
  it('builds a subset of the known modes, the default among them', () => {
    for (const m of BUILT_VM_MODES) expect(VM_MODES).toContain(m);
    expect(BUILT_VM_MODES).toContain(DEFAULT_VM_MODE);
  });

  it('accepts a built mode and names the field and the built modes when refusing', () => {
    expect(modeRefusal('emulate', 'mode')).toBeUndefined();
    expect(modeRefusal('hw', 'mode', ['emulate'])).toBe('mode: "hw" is not in this build (this build has emulate)');
    expect(modeRefusal('kvm', 'mode', ['emulate'])).toBe('mode: "kvm" is not a mode (modes: emulate, hw, trap, pv; this build has emulate)');
    expect(modeRefusal(3, 'vm.mode', ['emulate', 'hw'])).toMatch(/^vm\.mode: 3 is not a mode .*this build has emulate, hw\)$/);
  });
});

describe('exit reasons', () => {
  it('has each Reason index pointing at its row', () => {
    const byIndex = Object.entries(Reason).map(([k, i]) => [k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`).slice(1), EXIT_REASONS[i]]);
    expect(byIndex).toEqual([
      ['mmio-read', 'mmio-read'],
      ['mmio-write', 'mmio-write'],
      ['page-fetch', 'page-fetch'],
      ['wfi', 'wfi'],
      ['mmio-coalesced', 'mmio-coalesced'],
      ['doorbell', 'doorbell'],
      ['mmio-shadowed', 'mmio-shadowed'],
      ['poll-idle', 'poll-idle'],
      ['priv-insn', 'priv-insn'],
      ['sbi-call', 'sbi-call'],
      ['shadow-fault', 'shadow-fault'],
      ['guest-page-fault', 'guest-page-fault'],
      ['virq-inject', 'virq-inject'],
      ['virtual-trap', 'vtrap'],
    ]);
    expect(Object.keys(Reason)).toHaveLength(EXIT_REASON_TABLE.length);
  });

  it('has unique names and labels, and tells posted stores from exits', () => {
    expect(new Set(EXIT_REASONS).size).toBe(EXIT_REASONS.length);
    expect(new Set(EXIT_REASON_TABLE.map((r) => r.label)).size).toBe(EXIT_REASON_TABLE.length);
    expect(isRealExit('mmio-read')).toBe(true);
    expect(isRealExit('shadow-fault')).toBe(true);
    expect(isRealExit('doorbell')).toBe(false);
    expect(isRealExit('mmio-coalesced')).toBe(false);
    expect(isRealExit('mmio-shadowed')).toBe(false);
    expect(isRealExit('a-row-from-a-newer-cpu')).toBe(true);
  });
});
