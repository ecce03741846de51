export interface HostPort {
  host: string;
  port: number;
}

/** Parses "host:port" (or "[v6]:port"), naming `what` in the error. */
export function parseHostPort(value: string, what: string): HostPort {
  const m = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(value.trim());
  if (!m) throw new Error(`${what}: "${value}" is not host:port`);
  const port = Number(m[2]);
  if (port > 65535) throw new Error(`${what}: port ${port} is out of range 0..65535`);
  return { host: m[1]!, port };
}
