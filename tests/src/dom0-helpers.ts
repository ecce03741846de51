// Shared by the dom0 whole-system tests: a typed dom0 client, a console tap through
// AttachConsole, waiting for a state, the events of a VM, VM configs for the test guests.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { protos, type Dom0V1 } from '@splitvisor/proto';
import { RpcClient, RpcError } from '@splitvisor/rpc';
import { Bus } from '@splitvisor/bus';
import { REPO_ROOT, silentLogger } from '@splitvisor/testing';

export type Dom0 = RpcClient<Dom0V1.Dom0Client>;

export function dom0Client(addr: string): Dom0 {
  return new RpcClient<Dom0V1.Dom0Client>(protos().dom0.Dom0, addr, { deadlineMs: 30_000, server: 'dom0' });
}

export const TICKER = join(REPO_ROOT, 'guests/ticker/ticker.elf');
export const IDLE = join(REPO_ROOT, 'guests/idle/idle.elf');

/** A config for the ticker guest (or another image) with extra lines (policies). */
export function vmYaml(name: string, extra = '', image = TICKER, memory = '16M'): Dom0V1.CreateVmRequest {
  return { configYaml: `name: ${name}\nmemory: ${memory}\nimage: ${image}\n${extra}`, baseDir: REPO_ROOT, source: `${name}.yaml` };
}

export async function rpcError(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RpcError) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

export async function waitFor<T>(what: string | (() => string), fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}${last ? ` (last error: ${(last as Error).message})` : ''}`,
      );
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function waitForState(c: Dom0, name: string, states: string[], timeoutMs = 15_000): Promise<Dom0V1.VmInfo__Output> {
  return waitFor(
    `vm ${name} in ${states.join('/')}`,
    async () => {
      const v = await c.call('GetVm', { name });
      return states.includes(v.state) ? v : undefined;
    },
    timeoutMs,
  );
}

/** A console attached through dom0: everything it printed so far, input, the end. */
export class ConsoleTap {
  text = '';
  end: Dom0V1.ConsoleEnd__Output | undefined;
  error: RpcError | undefined;
  private readonly call: grpc.ClientDuplexStream<Dom0V1.ConsoleIn, Dom0V1.ConsoleOut__Output>;

  constructor(c: Dom0, name: string, fromSeq = 0) {
    this.call = c.raw.AttachConsole();
    this.call.on('data', (m: Dom0V1.ConsoleOut__Output) => {
      if (m.end) this.end = m.end;
      else this.text += m.data.toString('latin1');
    });
    this.call.on('error', (e: grpc.ServiceError) => {
      if (e.code !== 1) this.error = RpcError.fromGrpc(e);
    });
    this.call.write({ name, fromSeq });
  }

  send(s: string): void {
    this.call.write({ data: Buffer.from(s, 'latin1') });
  }

  waitFor(re: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    return waitFor(
      () => `console to match ${re} (has ${JSON.stringify(this.text.slice(-200))})`,
      () => {
        if (this.error) throw this.error;
        return this.text.match(re) ?? undefined;
      },
      timeoutMs,
    );
  }

  waitForEnd(timeoutMs = 15_000): Promise<Dom0V1.ConsoleEnd__Output> {
    return waitFor(
      'the console to end',
      () => {
        if (this.error) throw this.error;
        return this.end;
      },
      timeoutMs,
    );
  }

  /** Resolves once nothing new has arrived for `quietMs`. */
  async settle(quietMs = 300): Promise<void> {
    let seen = -1;
    while (seen !== this.text.length) {
      seen = this.text.length;
      await new Promise((r) => setTimeout(r, quietMs));
    }
  }

  /** The tick numbers printed so far, in order. */
  ticks(): number[] {
    return [...this.text.matchAll(/tick (\d+)\r\n/g)].map((m) => Number(m[1]));
  }

  close(): void {
    this.call.cancel();
  }
}

/** The stored lifecycle events of one VM (or all), oldest first. */
export function storedEvents(c: Dom0, name: string): Promise<Dom0V1.Event__Output[]> {
  return new Promise((resolve, reject) => {
    const out: Dom0V1.Event__Output[] = [];
    const call = c.raw.WatchEvents({ name, fromStart: true, follow: false });
    call.on('data', (e: Dom0V1.Event__Output) => out.push(e));
    call.on('error', (e: grpc.ServiceError) => reject(RpcError.fromGrpc(e)));
    call.on('end', () => resolve(out));
  });
}

/** "KIND source" for each event, for order assertions. */
export const kinds = (evs: Dom0V1.Event__Output[]) => evs.map((e) => `${e.kind.replace('LIFECYCLE_', '')} ${e.source}`);

/** A raw image whose first instruction is illegal: with mtvec 0 the vCPU dies at once. */
export function crashImage(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sv-crash-'));
  const p = join(dir, 'crash.bin');
  writeFileSync(p, Buffer.alloc(4));
  return p;
}

/** A NATS connection of the test's own (to watch KV, or to type at a console behind dom0's back). */
export function testBus(url: string): Promise<Bus> {
  return Bus.connect({ url, name: 'test', log: silentLogger() });
}
