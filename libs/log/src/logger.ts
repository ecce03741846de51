// One logger per service. Every line carries `service`; a VM's lines add `vm`, a vCPU's add
// `vcpu`, so a lab's merged log can be filtered the way `xl dmesg` or `journalctl -u` is.
// Pretty in a terminal, JSON lines otherwise (pipes, files, the lab supervisor).
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

export const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export interface LoggerOptions {
  service: string;
  level?: string;
  /** Force pretty or JSON output; default: pretty when stdout is a TTY. */
  pretty?: boolean;
  /** Write here instead of stdout (tests). */
  destination?: NodeJS.WritableStream;
}

export function parseLogLevel(value: string | undefined, fallback: LevelWithSilent = 'info'): LevelWithSilent {
  if (value === undefined || value === '') return fallback;
  if (!(LOG_LEVELS as readonly string[]).includes(value)) {
    throw new Error(`log level: "${value}" is not one of ${LOG_LEVELS.join(', ')}`);
  }
  return value as LevelWithSilent;
}

export function createLogger(opts: LoggerOptions): Logger {
  const level = parseLogLevel(opts.level ?? process.env['SPLITVISOR_LOG_LEVEL']);
  const pretty = opts.pretty ?? (opts.destination === undefined && process.stdout.isTTY === true);
  const base = { service: opts.service };
  if (pretty) {
    return pino({
      level,
      base,
      transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname', translateTime: 'HH:MM:ss.l' } },
    });
  }
  const dest = opts.destination ?? pino.destination({ dest: 1, sync: true });
  return pino({ level, base, timestamp: pino.stdTimeFunctions.isoTime }, dest as pino.DestinationStream);
}

/** The logger for one VM's lines (and one vCPU's, when given). */
export function vmLogger(log: Logger, vm: string, vcpu?: number): Logger {
  return vcpu === undefined ? log.child({ vm }) : log.child({ vm, vcpu });
}
