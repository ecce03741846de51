// What a service waits for at start before it gives up: its TLS material, its NATS password
// file and NATS itself. docker compose orders the start (depends_on with health conditions),
// but `docker stack deploy` ignores depends_on: there every service starts at once, before
// the one-shot pki has written the volumes and before NATS listens. Rather than exit and be
// restarted by the orchestrator until the others are there (a crash loop, a restart delay
// each time), a service waits up to SPLITVISOR_START_WAIT_S for them, says once what it is
// waiting for, and fails naming what is still missing when the time is up.
import { readFileSync } from 'node:fs';
import { loadTls, type TlsMaterial } from '@splitvisor/rpc';
import { Bus } from '@splitvisor/bus';
import type { Logger } from '@splitvisor/log';
import { ConfigError } from './config.js';

/** The longest wait accepted: an hour (a larger value is a typo, not a plan). */
const MAX_START_WAIT_S = 3600;

/** SPLITVISOR_START_WAIT_S / --start-wait: whole seconds, 1 to an hour. Strict: "10s",
 *  "1e2", " 5" and "0" are refused, naming where the value came from. */
export function parseStartWait(raw: string, where: string): number {
  const n = Number(raw);
  if (!/^[1-9]\d*$/.test(raw) || n > MAX_START_WAIT_S) {
    throw new ConfigError(`${where}: "${raw}" is not a start wait (whole seconds, 1 to ${MAX_START_WAIT_S})`);
  }
  return n;
}

export interface StartMaterial {
  /** This service's TLS material, when it has a TLS directory. */
  tls?: TlsMaterial;
  /** The NATS URL with the password file's password in (or as given, without a file). */
  natsUrl: string;
}

export interface StartWaitOptions {
  identity: string;
  tlsDir?: string;
  natsUrl: string;
  natsPasswordFile?: string;
  /** When to give up (Date.now() milliseconds). */
  deadline: number;
  log: Logger;
  /** How often to look again (default 250 ms). */
  pollMs?: number;
}

/** A NATS URL without its password, for logs. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

/** The NATS URL with the password from `file` put in for the user it names. */
export function natsUrlWithPassword(url: string, file: string): string {
  const m = /^(nats|tls):\/\/([^:@/]+)@(.+)$/.exec(url);
  if (!m)
    throw new Error(
      `SPLITVISOR_NATS_PASSWORD_FILE is given, but the NATS URL ${redact(url)} names no user (nats://user@host:port) or already holds a password`,
    );
  let pw: string;
  try {
    pw = readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new Error(`NATS password file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!pw) throw new Error(`NATS password file ${file} is empty`);
  return `${m[1]}://${m[2]}:${encodeURIComponent(pw)}@${m[3]}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until the TLS material loads (ca.crt, <id>.crt, <id>.key there, parsed and matching:
 * a file pki is still writing does not load yet) and the NATS password file reads non-empty.
 * Logs once what it waits for; rejects at the deadline with what is still missing and why.
 */
export async function waitForStartMaterial(o: StartWaitOptions): Promise<StartMaterial> {
  let told = false;
  for (;;) {
    const missing: string[] = [];
    let tls: TlsMaterial | undefined;
    let natsUrl = o.natsUrl;
    if (o.tlsDir) {
      try {
        tls = loadTls(o.tlsDir, o.identity);
      } catch (e) {
        missing.push(`TLS material in ${o.tlsDir} (${(e as Error).message})`);
      }
    }
    if (o.natsPasswordFile) {
      try {
        natsUrl = natsUrlWithPassword(o.natsUrl, o.natsPasswordFile);
      } catch (e) {
        // A URL that names no user will never get better: no point waiting for it.
        if (/names no user/.test((e as Error).message)) throw e;
        missing.push(`the NATS password (${(e as Error).message})`);
      }
    }
    if (missing.length === 0) {
      if (told) o.log.info(`${o.identity}: TLS material and NATS password there`);
      return { ...(tls && { tls }), natsUrl };
    }
    if (Date.now() >= o.deadline) throw new Error(`gave up waiting (SPLITVISOR_START_WAIT_S) for ${missing.join('; ')}`);
    if (!told) {
      o.log.info({ missing }, `waiting for ${missing.join('; ')}`);
      told = true;
    }
    await sleep(Math.min(o.pollMs ?? 250, Math.max(0, o.deadline - Date.now())));
  }
}

/**
 * Connects to NATS, trying until the deadline; if the first few seconds do not do it, logs
 * once that it waits for NATS (and what the last try said) before trying on.
 */
export async function connectWaiting(
  o: { url: string; shownUrl: string; name: string; log: Logger; replicas?: number; deadline: number },
  connect: typeof Bus.connect = (opts) => Bus.connect(opts),
): Promise<Bus> {
  const left = () => Math.max(0, o.deadline - Date.now());
  const opts = { url: o.url, name: o.name, log: o.log, ...(o.replicas !== undefined && { replicas: o.replicas }) };
  try {
    return await connect({ ...opts, connectTimeoutMs: Math.min(3000, Math.max(1, left())) });
  } catch (e) {
    if (left() <= 0) throw e;
    o.log.info({ nats: o.shownUrl, err: (e as Error).message }, `waiting for NATS at ${o.shownUrl}`);
  }
  try {
    const bus = await connect({ ...opts, connectTimeoutMs: Math.max(1, left()) });
    o.log.info({ nats: o.shownUrl }, 'NATS answers');
    return bus;
  } catch (e) {
    throw new Error(`gave up waiting (SPLITVISOR_START_WAIT_S): ${(e as Error).message}`);
  }
}
