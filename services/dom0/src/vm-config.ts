// A VM's configuration as people write it (YAML), validated into a typed command. Every
// error names the field, the value and what was expected, as `xl create` would.
import { isAbsolute, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { checkVmId } from '@splitvisor/bus';

export interface VmConfig {
  name: string;
  /** Guest RAM in bytes, at DRAM_BASE. */
  memoryBytes: number;
  /** Absolute path of the guest image (ELF or raw binary). */
  image: string;
  vcpus: number;
}

export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly field: string,
    problem: string,
  ) {
    super(`${source}: ${field}: ${problem}`);
    this.name = 'ConfigError';
  }
}

const MIB = 1024 * 1024;
/** The cpu holds a VM's RAM in one SharedArrayBuffer; 4 GiB is its limit. */
export const MAX_MEMORY = 4096 * MIB;
export const MIN_MEMORY = 1 * MIB;
const FIELDS = ['name', 'memory', 'image', 'vcpus'] as const;

/** "64M", "64MiB", "1G", "1GiB", or a number of MiB. */
export function parseMemory(value: unknown, source: string): number {
  let bytes: number;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new ConfigError(source, 'memory', `${value} is not a whole number of MiB`);
    bytes = value * MIB;
  } else if (typeof value === 'string') {
    const m = /^\s*(\d+)\s*(M|MiB|MB|G|GiB|GB)\s*$/i.exec(value);
    if (!m) throw new ConfigError(source, 'memory', `"${value}" is not a size like 64M, 64MiB or 1G`);
    bytes = Number(m[1]) * (m[2]!.toUpperCase().startsWith('G') ? 1024 * MIB : MIB);
  } else {
    throw new ConfigError(source, 'memory', `expected a size like 64M, got ${JSON.stringify(value)}`);
  }
  if (bytes < MIN_MEMORY || bytes > MAX_MEMORY) {
    throw new ConfigError(source, 'memory', `${bytes / MIB} MiB is outside ${MIN_MEMORY / MIB} MiB .. ${MAX_MEMORY / MIB} MiB`);
  }
  return bytes;
}

/** Parses and validates a VM config; relative image paths resolve against `baseDir`. */
export function parseVmConfig(text: string, baseDir: string, source = 'vm config'): VmConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    const where = e instanceof YAMLParseError && e.linePos ? ` at line ${e.linePos[0].line}` : '';
    throw new ConfigError(source, 'yaml', `not valid YAML${where}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError(source, '(top level)', 'expected a mapping with name, memory and image');
  }
  const o = doc as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!(FIELDS as readonly string[]).includes(k)) throw new ConfigError(source, k, `unknown field (known: ${FIELDS.join(', ')})`);
  }
  if (o['name'] === undefined) throw new ConfigError(source, 'name', 'is required');
  if (typeof o['name'] !== 'string') throw new ConfigError(source, 'name', `expected a string, got ${JSON.stringify(o['name'])}`);
  let name: string;
  try {
    name = checkVmId(o['name'], 'name');
  } catch (e) {
    throw new ConfigError(source, 'name', (e as Error).message.replace(/^name: /, ''));
  }
  if (o['memory'] === undefined) throw new ConfigError(source, 'memory', 'is required (e.g. memory: 64M)');
  const memoryBytes = parseMemory(o['memory'], source);
  if (o['image'] === undefined) throw new ConfigError(source, 'image', 'is required (a path to an ELF or raw binary)');
  if (typeof o['image'] !== 'string' || o['image'].trim() === '') {
    throw new ConfigError(source, 'image', `expected a file path, got ${JSON.stringify(o['image'])}`);
  }
  const image = isAbsolute(o['image']) ? o['image'] : resolve(baseDir, o['image']);
  const vcpus = o['vcpus'] ?? 1;
  if (vcpus !== 1) throw new ConfigError(source, 'vcpus', `${JSON.stringify(vcpus)}: only 1 vCPU per VM is supported so far`);
  return { name, memoryBytes, image, vcpus: 1 };
}
