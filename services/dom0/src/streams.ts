// dom0's two streaming calls, both fed from JetStream: WatchEvents (lifecycle events,
// history then live) and AttachConsole (console output history then live, keystrokes in).
// A client therefore needs only dom0's address, and a reattaching console resumes at the
// sequence it last saw.
import type * as grpc from '@grpc/grpc-js';
import { jetstreamManager } from '@nats-io/jetstream';
import { ConsoleInputCodec, ConsoleOutputCodec, LifecycleEventCodec, type Dom0V1, type EventsV1 } from '@splitvisor/proto';
import { LIFECYCLE_SOURCES, lifecycleOfSubject, streams, subjects, type Bus, type Unsubscribe } from '@splitvisor/bus';
import { notFound, toRpcError, vmIdArg } from '@splitvisor/rpc';
import type { Logger } from '@splitvisor/log';
import { isOff, type VmRecord } from './vm-state.js';

/** The lifecycle kinds after which a console has nothing more to show. */
const FINAL_KINDS: ReadonlySet<EventsV1.LifecycleKind> = new Set(['LIFECYCLE_STOPPED', 'LIFECYCLE_FAILED', 'LIFECYCLE_DESTROYED', 'LIFECYCLE_PRESERVED']);

export interface StreamDeps {
  bus: Bus;
  log: Logger;
  /** dom0's record of a VM, or undefined when there is none (destroyed). */
  find(name: string): VmRecord | undefined;
}

function fail(call: { emit(ev: 'error', e: unknown): boolean }, e: unknown): void {
  call.emit('error', toRpcError(e).toServiceError());
}

/** The newest lifecycle event stored for one VM (any source), or for all of them. */
async function lastLifecycleSeq(bus: Bus, vm: string | undefined): Promise<number> {
  if (vm !== undefined) {
    const last = await Promise.all(LIFECYCLE_SOURCES.map((s) => bus.lastSeq(streams.lifecycle, subjects.lifecycle(vm, s))));
    return Math.max(...last);
  }
  const jsm = await jetstreamManager(bus.nc);
  return (await jsm.streams.info(streams.lifecycle.name)).state.last_seq;
}

export function watchEvents(deps: StreamDeps): grpc.handleServerStreamingCall<Dom0V1.WatchEventsRequest__Output, Dom0V1.Event> {
  return (call) => {
    void (async () => {
      const req = call.request;
      const name = req.name ? vmIdArg(req.name, 'name') : undefined;
      const subject = name ? subjects.vmLifecycle(name) : subjects.allLifecycle;
      // Without follow, the stream ends at what is stored now.
      const until = req.follow ? Infinity : req.fromStart ? await lastLifecycleSeq(deps.bus, name) : 0;
      if (until === 0) {
        call.end();
        return;
      }
      const sub: { stop?: Unsubscribe } = {};
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        sub.stop?.();
        call.end();
      };
      call.on('cancelled', finish);
      call.on('error', finish);
      sub.stop = await deps.bus.replay(
        streams.lifecycle,
        subject,
        LifecycleEventCodec,
        (ev, evSubject, seq) => {
          if (done) return;
          // Who reported, and about which VM, is the subject's word, not the body's.
          const from = lifecycleOfSubject(evSubject);
          if (from) call.write({ seq, vmId: from.vm, kind: ev.kind, exitCode: ev.exitCode, reason: ev.reason, source: from.source, at: ev.at });
          if (seq >= until) finish();
        },
        req.fromStart ? 'start' : 'new',
      );
      if (done) sub.stop();
    })().catch((e: unknown) => fail(call, e));
  };
}

export function attachConsole(deps: StreamDeps): grpc.handleBidiStreamingCall<Dom0V1.ConsoleIn__Output, Dom0V1.ConsoleOut> {
  return (call) => {
    let vm: string | undefined;
    let delivered = 0;
    let ended = false;
    const stops: Unsubscribe[] = [];
    const cleanup = () => {
      ended = true;
      for (const s of stops.splice(0)) s();
    };
    call.on('cancelled', cleanup);
    call.on('error', cleanup);

    /** Sends what the stream holds up to now, then the end, then closes. */
    const end = async (ev: EventsV1.LifecycleEvent__Output | undefined) => {
      if (ended || !vm) return;
      ended = true;
      const last = await deps.bus.lastSeq(streams.console, subjects.consoleOut(vm)).catch(() => 0);
      const until = Date.now() + 3000;
      while (delivered < last && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      const r = deps.find(vm);
      call.write({
        end: {
          state: r?.state ?? 'destroyed',
          reason: ev?.reason ?? r?.reason ?? '',
          exitCode: ev?.exitCode ?? r?.exitCode ?? 0,
          kind: ev?.kind ?? 'LIFECYCLE_UNSPECIFIED',
        },
      });
      for (const s of stops.splice(0)) s();
      call.end();
    };

    const open = async (name: string, fromSeq: number) => {
      stops.push(
        // Only dom0's own subject ends a console: no data-plane service can publish there.
        await deps.bus.replay(
          streams.lifecycle,
          subjects.lifecycle(name, 'dom0'),
          LifecycleEventCodec,
          (ev) => {
            if (FINAL_KINDS.has(ev.kind)) void end(ev);
          },
          'new',
        ),
      );
      stops.push(
        await deps.bus.replay(
          streams.console,
          subjects.consoleOut(name),
          ConsoleOutputCodec,
          (m, _s, seq) => {
            if (seq <= delivered) return;
            delivered = seq;
            // After the end message nothing more may follow it.
            if (!call.writableEnded) call.write({ data: m.data, seq });
          },
          { afterSeq: fromSeq },
        ),
      );
      delivered = Math.max(delivered, fromSeq);
      if (ended) {
        for (const s of stops.splice(0)) s();
        return;
      }
      // Ended before we listened: nothing more will come.
      const r = deps.find(name);
      if (!r || isOff(r.state)) void end(undefined);
    };

    call.on('data', (m: Dom0V1.ConsoleIn__Output) => {
      if (vm === undefined) {
        let name: string;
        try {
          name = vmIdArg(m.name, 'name');
        } catch (e) {
          fail(call, e);
          return;
        }
        if (!deps.find(name)) {
          fail(call, notFound(`no vm named "${name}"`));
          return;
        }
        vm = name;
        open(name, m.fromSeq).catch((e: unknown) => {
          deps.log.warn({ vm: name, err: (e as Error).message }, 'console attach failed');
          cleanup();
          fail(call, e);
        });
      }
      if (m.data.length > 0 && vm !== undefined) deps.bus.publish(subjects.consoleIn(vm), ConsoleInputCodec, { vmId: vm, data: m.data });
    });
    // The client closing its side (stdin at EOF) ends input, not output.
    call.on('end', () => undefined);
  };
}
