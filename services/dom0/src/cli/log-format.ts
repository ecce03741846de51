// `splitvisor up` merges the services' JSON log lines into one stream, each line prefixed
// with its service, readable in a terminal.
const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const OMIT = new Set(['level', 'time', 'msg', 'service', 'pid', 'hostname']);

export function formatLogLine(service: string, line: string): string {
  const prefix = `[${service}]`.padEnd(13);
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return `${prefix} ${line}`;
  }
  if (typeof o !== 'object' || o === null || !('msg' in o)) return `${prefix} ${line}`;
  const level = LEVELS[Number(o['level'])] ?? String(o['level']);
  const rest = Object.entries(o)
    .filter(([k]) => !OMIT.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${prefix} ${level.padEnd(5)} ${String(o['msg'])}${rest ? ' ' + rest : ''}`;
}
