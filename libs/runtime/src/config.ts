// Service configuration from flags and environment. Flags win over env, env over defaults;
// a bad value is an error that names the flag, the env variable and the value.
import { parseHostPort } from '@splitvisor/rpc';
import { parseLogLevel } from '@splitvisor/log';

export interface OptionSpec<T> {
  flag: string; // without leading dashes
  env: string;
  help: string;
  default?: string;
  parse: (raw: string, where: string) => T;
}

export type OptionSpecs<C> = { [K in keyof C]: OptionSpec<C[K]> };

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const parsers = {
  hostPort: (raw: string, where: string) => {
    parseHostPort(raw, where);
    return raw;
  },
  /** One or more host:port, comma-separated (e.g. several cpu nodes). */
  hostPortList: (raw: string, where: string): string[] => {
    const list = raw
      .split(',')
      .map((a) => a.trim())
      .filter((a) => a !== '');
    if (list.length === 0) throw new ConfigError(`${where}: "${raw}" names no host:port`);
    for (const a of list) parseHostPort(a, where);
    if (new Set(list).size !== list.length) throw new ConfigError(`${where}: "${raw}" names an address twice`);
    return list;
  },
  /** One NATS URL, or a cluster's servers comma-separated (the first may name the user). */
  natsUrl: (raw: string, where: string) => {
    for (const one of raw.split(',')) {
      if (!/^(nats|tls|ws|wss):\/\/[^\s,]+$/.test(one.trim())) {
        throw new ConfigError(`${where}: "${one}" is not a NATS URL (nats://host:port, or several comma-separated)`);
      }
    }
    return raw;
  },
  /** JetStream's replica counts: an odd number a cluster can hold a majority of (JetStream caps it at 5). */
  natsReplicas: (raw: string, where: string) => {
    if (raw !== '1' && raw !== '3' && raw !== '5') throw new ConfigError(`${where}: "${raw}" is not a JetStream replica count (1, 3 or 5)`);
    return Number(raw);
  },
  logLevel: (raw: string, where: string) => {
    try {
      return parseLogLevel(raw);
    } catch (e) {
      throw new ConfigError(`${where}: ${(e as Error).message}`);
    }
  },
  positiveInt: (raw: string, where: string) => {
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n <= 0) throw new ConfigError(`${where}: "${raw}" is not a positive integer`);
    return n;
  },
};

export function parseConfig<C>(specs: OptionSpecs<C>, argv: readonly string[], env: NodeJS.ProcessEnv): C {
  const byFlag = new Map<string, keyof C>();
  for (const k of Object.keys(specs) as (keyof C)[]) byFlag.set(specs[k].flag, k);
  const fromFlags = new Map<keyof C, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(arg);
    if (!m) throw new ConfigError(`unexpected argument "${arg}" (flags look like --name value)`);
    const key = byFlag.get(m[1]!);
    if (key === undefined) throw new ConfigError(`unknown flag --${m[1]} (known: ${[...byFlag.keys()].map((f) => '--' + f).join(', ')})`);
    let value = m[2];
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new ConfigError(`flag --${m[1]} needs a value`);
    }
    fromFlags.set(key, value);
  }
  const out = {} as C;
  for (const k of Object.keys(specs) as (keyof C)[]) {
    const s = specs[k];
    const flagVal = fromFlags.get(k);
    const envVal = env[s.env];
    const raw = flagVal ?? (envVal !== undefined && envVal !== '' ? envVal : s.default);
    if (raw === undefined) throw new ConfigError(`--${s.flag} (or ${s.env}) is required: ${s.help}`);
    const where = flagVal !== undefined ? `--${s.flag}` : envVal ? s.env : `--${s.flag} default`;
    out[k] = s.parse(raw, where);
  }
  return out;
}

export function usage<C>(service: string, specs: OptionSpecs<C>): string {
  const rows = (Object.values(specs) as OptionSpec<unknown>[]).map(
    (s) => `  --${s.flag.padEnd(12)} ${s.env.padEnd(26)} ${s.help}${s.default !== undefined ? ` (default ${s.default})` : ''}`,
  );
  return `usage: node services/${service}/dist/main.js [flags]\n${rows.join('\n')}\n`;
}
