// A VM's console for a terminal, through dom0's AttachConsole: history and live output,
// keystrokes to the guest's UART. Ctrl-] detaches, as with `virsh console`. If dom0 goes
// away (a restart) the session reconnects and resumes after the last chunk it printed,
// so nothing is shown twice and nothing is skipped.
import type * as grpc from '@grpc/grpc-js';
import type { Dom0V1 } from '@splitvisor/proto';
import { RpcError, type RpcClient } from '@splitvisor/rpc';

const CTRL_RIGHT_BRACKET = 0x1d;

export type ConsoleEnd = Dom0V1.ConsoleEnd__Output;

export interface ConsoleSession {
  /** Resolves with how the VM ended, or 'detached'; rejects with the error that ended it. */
  done: Promise<ConsoleEnd | 'detached'>;
  close(): void;
}

export interface ConsoleOptions {
  out: NodeJS.WritableStream;
  stdin?: (NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => void }) | undefined;
  /** Reconnect for this long when dom0 is unreachable (0: fail at once). */
  reconnectMs?: number;
  /** Told when the connection to dom0 is lost and when it is back. */
  onStatus?: (msg: string) => void;
}

export function attachConsole(client: RpcClient<Dom0V1.Dom0Client>, name: string, opts: ConsoleOptions): ConsoleSession {
  let lastSeq = 0;
  let settled = false;
  let call: grpc.ClientDuplexStream<Dom0V1.ConsoleIn, Dom0V1.ConsoleOut__Output> | undefined;
  let lostSince = 0;
  let retry: NodeJS.Timeout | undefined;
  let resolveDone!: (v: ConsoleEnd | 'detached') => void;
  let rejectDone!: (e: unknown) => void;
  const done = new Promise<ConsoleEnd | 'detached'>((res, rej) => {
    resolveDone = res;
    rejectDone = rej;
  });
  const stdin = opts.stdin;
  const raw = stdin?.isTTY === true && typeof stdin.setRawMode === 'function';

  const settle = (v: ConsoleEnd | 'detached' | Error) => {
    if (settled) return;
    settled = true;
    clearTimeout(retry);
    if (v === 'detached') call?.cancel();
    if (v instanceof Error) rejectDone(v);
    else resolveDone(v);
  };

  const lost = (why: RpcError) => {
    if (settled) return;
    const window = opts.reconnectMs ?? 0;
    if (why.code !== 'UNAVAILABLE' || window === 0) {
      settle(why);
      return;
    }
    if (lostSince === 0) {
      lostSince = Date.now();
      opts.onStatus?.(`lost dom0 (${why.message}); reconnecting`);
    }
    if (Date.now() - lostSince > window) {
      settle(new RpcError('UNAVAILABLE', `dom0 unreachable for ${Math.round(window / 1000)} s: ${why.message}`));
      return;
    }
    retry = setTimeout(connect, 250);
  };

  function connect(): void {
    if (settled) return;
    const c = client.raw.AttachConsole();
    call = c;
    let sawData = false;
    c.on('data', (m: Dom0V1.ConsoleOut__Output) => {
      if (!sawData && lostSince !== 0) opts.onStatus?.('reconnected to dom0');
      sawData = true;
      lostSince = 0;
      if (m.end) {
        settle(m.end);
        return;
      }
      if (m.seq > lastSeq) {
        lastSeq = m.seq;
        opts.out.write(m.data);
      }
    });
    c.on('error', (err: grpc.ServiceError) => {
      if (call === c) lost(RpcError.fromGrpc(err, `${client.address} AttachConsole`));
    });
    c.on('end', () => {
      // A close without an end message: dom0 went away between two messages.
      if (call === c && !settled) lost(new RpcError('UNAVAILABLE', 'dom0 closed the console'));
    });
    c.write({ name, fromSeq: lastSeq });
  }

  const onData = (b: Buffer) => {
    if (raw && b.includes(CTRL_RIGHT_BRACKET)) {
      settle('detached');
      return;
    }
    call?.write({ data: b });
  };
  if (stdin) {
    if (raw) stdin.setRawMode!(true);
    stdin.on('data', onData);
    stdin.resume();
  }
  connect();
  const close = () => {
    settle('detached');
    call?.end();
    if (stdin) {
      stdin.off('data', onData);
      if (raw) stdin.setRawMode!(false);
      stdin.pause();
    }
  };
  return { done, close };
}
