// The command line of one `splitvisor` command: positional words and --flags, checked
// against what the command takes, so a typo is an error and not a silent default.
export class UsageError extends Error {}

export interface ParsedArgs {
  positional: string[];
  flags: Map<string, string | true>;
}

/**
 * `valued` flags take a value (`--name v` or `--name=v`); `booleans` take none. Anything
 * else starting with `--` is refused.
 */
export function parseArgs(argv: readonly string[], booleans: readonly string[], valued: readonly string[] = []): ParsedArgs {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(a);
    if (!m) {
      positional.push(a);
      continue;
    }
    const name = m[1]!;
    if (booleans.includes(name)) {
      if (m[2] !== undefined) throw new UsageError(`--${name} takes no value`);
      flags.set(name, true);
    } else if (valued.includes(name)) {
      const v = m[2] ?? argv[++i];
      if (v === undefined) throw new UsageError(`--${name} needs a value`);
      flags.set(name, v);
    } else {
      const known = [...booleans, ...valued].map((f) => `--${f}`);
      throw new UsageError(`unknown flag --${name}${known.length ? ` (this command takes ${known.join(', ')})` : ' (this command takes none)'}`);
    }
  }
  return { positional, flags };
}

/** A flag's value as a positive integer, or `fallback` when absent. */
export function intFlag(args: ParsedArgs, name: string, fallback: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const v = args.flags.get(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v === true || !/^\d+$/.test(v) || n < min || n > max) throw new UsageError(`--${name}: "${String(v)}" is not a whole number between ${min} and ${max}`);
  return n;
}
