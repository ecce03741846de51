// What the VM's hart implements beyond RV64GC, as people write it in its config, the way
// QEMU's `-cpu rv64,h=true` says it:
//
//   cpu:
//     h: true        # the H extension (HS/VS/VU, two-stage translation); default false
//     engine: interp # how guest code runs: translate (the default: hot blocks compiled
//                    # to WebAssembly) or interp (the interpreter, the reference)
//
// The hart then reports misa.H, and the device tree's riscv,isa says "h" where QEMU 7.2's
// does ("rv64imafdch_..."). Only `mode: emulate` runs such a hart: the guest owns M-mode and
// HS-mode and is its own hypervisor. The other modes' monitors would have to offer nested
// virtualization (a guest hypervisor in VS), which none does yet, so they refuse it.
import { ENGINES, type Engine, type VmMode } from '@splitvisor/platform';
import { ConfigError } from './config-error.js';

export interface CpuConfig {
  /** The H extension (priv spec ch. 8), as QEMU's `-cpu rv64,h=true`. */
  h: boolean;
  /** How the hart runs guest code; absent: the interpreter. */
  engine?: Engine;
}

const CPU_FIELDS = ['h', 'engine'] as const;
/** The modes whose hart may have the H extension: the guest's own hypervisor in HS. */
const H_MODES: readonly VmMode[] = ['emulate'];

/** The `cpu:` mapping of a config (undefined when absent), checked against the VM's mode. */
export function parseCpu(value: unknown, mode: VmMode, source: string): CpuConfig | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(source, 'cpu', `expected a mapping like { h: true }, got ${JSON.stringify(value)}`);
  }
  const o = value as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!(CPU_FIELDS as readonly string[]).includes(k)) throw new ConfigError(source, `cpu.${k}`, `unknown field (known: ${CPU_FIELDS.join(', ')})`);
  }
  const h = o['h'] ?? false;
  if (typeof h !== 'boolean') throw new ConfigError(source, 'cpu.h', `expected true or false, got ${JSON.stringify(h)}`);
  if (h && !H_MODES.includes(mode)) {
    throw new ConfigError(
      source,
      'cpu.h',
      `the H extension needs mode: ${H_MODES.join(' or ')}; mode "${mode}"'s monitor does not offer nested virtualization (a hypervisor guest in VS-mode) yet`,
    );
  }
  const engine = o['engine'];
  if (engine !== undefined && !(ENGINES as readonly unknown[]).includes(engine)) {
    throw new ConfigError(source, 'cpu.engine', `expected one of ${ENGINES.join(', ')}, got ${JSON.stringify(engine)}`);
  }
  return { h, ...(engine !== undefined && { engine: engine as Engine }) };
}
