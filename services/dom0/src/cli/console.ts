// A VM's console for a terminal: history and live output from JetStream, keystrokes to the
// guest's UART over NATS. Ctrl-] detaches, as with `virsh console`.
import { ConsoleInputCodec, ConsoleOutputCodec, LifecycleEventCodec, type EventsV1 } from '@splitvisor/proto';
import { streams, subjects, type Bus } from '@splitvisor/bus';

const CTRL_RIGHT_BRACKET = 0x1d;

export interface ConsoleSession {
  /** Resolves with the VM's final lifecycle event, or 'detached'. */
  done: Promise<EventsV1.LifecycleEvent__Output | 'detached'>;
  close(): void;
}

/** Waits until the console reader has delivered everything the stream holds right now. */
async function drain(bus: Bus, vm: string, delivered: () => number, timeoutMs = 3000): Promise<void> {
  const last = await bus.lastSeq(streams.console, subjects.consoleOut(vm));
  const end = Date.now() + timeoutMs;
  while (delivered() < last && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}

export async function attachConsole(
  bus: Bus,
  vm: string,
  opts: { input: boolean; out: NodeJS.WritableStream; stdin?: NodeJS.ReadStream & { setRawMode?: (raw: boolean) => void } },
): Promise<ConsoleSession> {
  let lastSeq = 0;
  let settle!: (v: EventsV1.LifecycleEvent__Output | 'detached') => void;
  const done = new Promise<EventsV1.LifecycleEvent__Output | 'detached'>((r) => (settle = r));
  const stopLifecycle = await bus.replay(
    streams.lifecycle,
    subjects.lifecycle(vm),
    LifecycleEventCodec,
    (ev) => {
      if (ev.source !== 'dom0') return;
      if (ev.kind === 'LIFECYCLE_STOPPED' || ev.kind === 'LIFECYCLE_FAILED' || ev.kind === 'LIFECYCLE_DESTROYED') {
        void drain(bus, vm, () => lastSeq).then(() => settle(ev));
      }
    },
    'new',
  );
  const stopOutput = await bus.replay(streams.console, subjects.consoleOut(vm), ConsoleOutputCodec, (m, _s, seq) => {
    opts.out.write(Buffer.from(m.data));
    lastSeq = seq;
  });
  const stdin = opts.stdin;
  const raw = opts.input && stdin?.isTTY === true && typeof stdin.setRawMode === 'function';
  const onData = (b: Buffer) => {
    if (raw && b.includes(CTRL_RIGHT_BRACKET)) {
      settle('detached');
      return;
    }
    bus.publish(subjects.consoleIn(vm), ConsoleInputCodec, { vmId: vm, data: b });
  };
  if (opts.input && stdin) {
    if (raw) stdin.setRawMode!(true);
    stdin.on('data', onData);
    stdin.resume();
  }
  const close = () => {
    stopLifecycle();
    stopOutput();
    if (opts.input && stdin) {
      stdin.off('data', onData);
      if (raw) stdin.setRawMode!(false);
      stdin.pause();
    }
  };
  return { done, close };
}
