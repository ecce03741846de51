// How a VM's guest kernel is run (DESIGN.md "Virtualization modes"): the seed's three
// techniques beside plain emulation. One list for dom0 (which validates a config's `mode:`)
// and the cpu (which refuses a mode it has no monitor for).

/** Every mode the lab knows of, in the order the design table gives them. */
export const VM_MODES = ['emulate', 'hw', 'trap', 'pv'] as const;
export type VmMode = (typeof VM_MODES)[number];

/** What a config without `mode:` gets: the guest brings its firmware and owns M-mode. */
export const DEFAULT_VM_MODE: VmMode = 'emulate';

/**
 * The modes this build runs. A mode joins the list in the commit that gives the cpu its
 * monitor (issue 13: hw; issue 14: trap, pv); until then a VM asking for it is refused.
 */
export const BUILT_VM_MODES: readonly VmMode[] = ['emulate', 'hw', 'trap', 'pv'];

export function isVmMode(x: unknown): x is VmMode {
  return typeof x === 'string' && (VM_MODES as readonly string[]).includes(x);
}

/**
 * Why `mode` cannot run in this build, or undefined when it can. `field` names where the
 * value came from (a config's `mode`, a request's `mode`), so every refusal reads the same.
 */
export function modeRefusal(mode: unknown, field: string, built: readonly VmMode[] = BUILT_VM_MODES): string | undefined {
  if (!isVmMode(mode)) return `${field}: ${JSON.stringify(mode)} is not a mode (modes: ${VM_MODES.join(', ')}; this build has ${built.join(', ')})`;
  if (!built.includes(mode)) return `${field}: "${mode}" is not in this build (this build has ${built.join(', ')})`;
  return undefined;
}
