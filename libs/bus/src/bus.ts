// The NATS side of a service: one connection that reconnects forever, typed publish and
// subscribe with protobuf payloads, JetStream streams for history, KV for state.
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, DeliverPolicy, type JetStreamClient, type JetStreamManager, type ConsumerMessages } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { Codec } from '@splitvisor/proto';
import type { Logger } from '@splitvisor/log';
import { faultPlane, type FaultTable } from '@splitvisor/faults';
import { KV_BUCKET, streams, type StreamSpec } from './subjects.js';
import { NODE_REGISTRY_BUCKET, NODE_TTL_MS } from './node-registry.js';

export interface BusOptions {
  url: string;
  /** Connection name as nats-server reports it: the service name. */
  name: string;
  log: Logger;
  /** How long to keep trying the first connect (later disconnects retry forever). */
  connectTimeoutMs?: number;
  /** The link faults this end applies to what it sends (default: the process's table). */
  faults?: FaultTable;
  /** Copies JetStream keeps of each stream and bucket this end creates or updates: 1 on a
   *  single server, 3 on a three-node cluster (a node may then be lost with nothing lost). */
  replicas?: number;
}

/**
 * nats://user:password@host:port as the client's options: it does not read a URL's userinfo.
 * A comma-separated list names the servers of a cluster (the client picks one and moves to
 * another when it goes); the user and password are the first URL's that has them, for all.
 */
export function withCredentials(url: string): { servers: string | string[]; user?: string; pass?: string } {
  let user: string | undefined;
  let pass: string | undefined;
  const servers = url.split(',').map((one) => {
    const m = /^([a-z]+:\/\/)([^:@/]+):([^@/]*)@(.+)$/.exec(one.trim());
    if (!m) return one.trim();
    if (user === undefined) {
      user = decodeURIComponent(m[2]!);
      pass = decodeURIComponent(m[3]!);
    }
    return `${m[1]}${m[4]}`;
  });
  return { servers: servers.length === 1 ? servers[0]! : servers, ...(user !== undefined && { user, pass }) };
}

/** A stream's peer not heard from for this long (raft heartbeats are every second) is gone. */
const PEER_SILENT_NS = 3e9;

export interface Unsubscribe {
  (): void;
}

export class Bus {
  private js?: JetStreamClient;
  private kvBucket?: Promise<KV>;
  private readonly reconnected = new Set<() => void>();
  private readonly disconnected = new Set<() => void>();

  private constructor(
    readonly nc: NatsConnection,
    private readonly log: Logger,
    private readonly faults: FaultTable = faultPlane,
    /** JetStream copies of what this end creates (BusOptions.replicas). */
    readonly replicas = 1,
  ) {}

  static async connect(opts: BusOptions): Promise<Bus> {
    const end = Date.now() + (opts.connectTimeoutMs ?? 10_000);
    let lastErr: unknown;
    while (Date.now() < end) {
      try {
        const nc = await connect({
          ...withCredentials(opts.url),
          name: opts.name,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 250,
          timeout: 2000,
          // The client captures a stack trace for every request (two Errors made up front,
          // in case it fails), and every JetStream publish is a request: in io-backend at
          // 20 console lines a second that was ~5% of its CPU. Our errors name their subject.
          noAsyncTraces: true,
        });
        const bus = new Bus(nc, opts.log, opts.faults, opts.replicas);
        bus.watchStatus();
        if ((opts.replicas ?? 1) > 1) bus.watchClusterPeers();
        return bus;
      } catch (e) {
        lastErr = e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    throw new Error(`cannot connect to NATS at ${String(withCredentials(opts.url).servers)}: ${lastErr instanceof Error ? lastErr.message : String(lastErr)}`);
  }

  private watchStatus(): void {
    void (async () => {
      for await (const s of this.nc.status()) {
        if (s.type === 'disconnect') {
          this.log.warn({ nats: s.type }, 'NATS disconnected; reconnecting');
          for (const fn of this.disconnected) fn();
        } else if (s.type === 'reconnect') {
          this.log.info({ nats: s.type }, 'NATS reconnected');
          for (const fn of this.reconnected) fn();
        } else if (s.type === 'update' && (s.deleted?.length ?? 0) > 0) {
          // A node of the cluster left (the server tells its clients at once). This
          // connection is whole, but a JetStream consumer may have lived on that node: an
          // ordered consumer notices only after missing heartbeats (up to a minute), so
          // whoever reads a stream or a bucket opens it again now, from where it was.
          this.log.warn({ gone: s.deleted }, 'a NATS cluster node left; stream and bucket readers open again');
          for (const fn of this.reconnected) fn();
        }
      }
    })().catch(() => undefined);
  }

  private peerTimer: NodeJS.Timeout | undefined;

  /**
   * On a cluster, the nodes that hold the system's streams, looked at every second: a node
   * that stops answering its peers is a lost node even for a connection that was not on it
   * (the client is told only of nodes it learned by gossip, not of those its URL names), and
   * a JetStream reader whose consumer lived there would wait a minute of missed heartbeats.
   * So the reconnect callbacks run: readers open again where they were.
   */
  private watchClusterPeers(): void {
    let online: Set<string> | undefined;
    let busy = false;
    let jsm: JetStreamManager | undefined;
    this.peerTimer = setInterval(() => {
      if (busy || this.nc.isClosed()) return;
      busy = true;
      void (async () => {
        try {
          jsm ??= await jetstreamManager(this.nc, { timeout: 2000, checkAPI: false });
          const info = await jsm.streams.info(streams.lifecycle.name);
          const c = info.cluster;
          if (!c?.leader) return; // electing: look again
          const now = new Set([c.leader, ...(c.replicas ?? []).filter((r) => !r.offline && r.active < PEER_SILENT_NS).map((r) => r.name)]);
          const gone = online ? [...online].filter((n) => !now.has(n)) : [];
          online = now;
          if (gone.length > 0) {
            this.log.warn({ gone }, 'a NATS cluster node left; stream and bucket readers open again');
            for (const fn of this.reconnected) fn();
          }
        } catch {
          // No answer (JetStream electing, the stream not made yet): nothing is known.
        } finally {
          busy = false;
        }
      })();
    }, 1000);
    this.peerTimer.unref();
  }

  /**
   * Calls `fn` after each reconnect (a NATS server restart, a dropped link), once the
   * subscriptions are back, and when a node of the cluster left. Core NATS kept nothing
   * published while this end was away: whoever follows state (IRQ levels) reads it again
   * here, and whoever reads JetStream opens its reader again (its consumer may be gone).
   */
  onReconnect(fn: () => void): Unsubscribe {
    this.reconnected.add(fn);
    return () => this.reconnected.delete(fn);
  }

  /** Calls `fn` when the connection to NATS is lost (before any reconnect). */
  onDisconnect(fn: () => void): Unsubscribe {
    this.disconnected.add(fn);
    return () => this.disconnected.delete(fn);
  }

  /** Core NATS, at most once: for live data (typed input) and level state. */
  publish<In, Out>(subject: string, codec: Codec<In, Out>, msg: In): void {
    this.publishBytes(subject, codec.encode(msg));
  }

  /** Core NATS, raw bytes (a network's frames). The fault plane applies here as in publish. */
  publishBytes(subject: string, data: Uint8Array): void {
    if (!this.faults.active) {
      this.nc.publish(subject, data);
      return;
    }
    // The fault plane (libs/faults): what this end sends on a link under a fault is lost,
    // late (in order) or sent twice, as the table says.
    const d = this.faults.nats(subject, data.length);
    if (d.drop) return;
    const send = () => {
      if (this.nc.isClosed()) return;
      this.nc.publish(subject, data);
      if (d.duplicate) this.nc.publish(subject, data);
    };
    // A reordered message leaves the subject's queue: the ones after it go first.
    if (d.reorderMs) setTimeout(send, d.delayMs + d.reorderMs);
    else this.later(subject, d.delayMs, send);
  }

  /** Per subject, the messages a fault holds, in the order sent: each goes at its time but
   *  never before the one ahead of it (NATS keeps one publisher's order per subject), and a
   *  fault on one subject holds up no other. One timer per subject, so equal times cannot
   *  swap. */
  private readonly held = new Map<string, { at: number; fn: () => void }[]>();
  private later(subject: string, delayMs: number, fn: () => void): void {
    const now = Date.now();
    const q = this.held.get(subject);
    if (q) {
      q.push({ at: Math.max(q[q.length - 1]!.at, now + delayMs), fn });
      return;
    }
    if (delayMs <= 0) return fn();
    this.held.set(subject, [{ at: now + delayMs, fn }]);
    this.release(subject);
  }

  private release(subject: string): void {
    const q = this.held.get(subject)!;
    setTimeout(
      () => {
        const now = Date.now();
        while (q.length && q[0]!.at <= now) q.shift()!.fn();
        if (q.length) this.release(subject);
        else this.held.delete(subject);
      },
      Math.max(0, q[0]!.at - Date.now()),
    );
  }

  /** Waits out a fault's latency on `subject`; says so, with the fault's words, when it
   *  drops. Public for traffic of a subject's family that travels elsewhere (mmu's recalls
   *  on a holder's stream), so that the same faults reach it. */
  async faultGate(subject: string, bytes: number): Promise<{ duplicate: boolean; drop?: string }> {
    if (!this.faults.active) return { duplicate: false };
    const d = this.faults.nats(subject, bytes);
    if (d.drop) return { duplicate: false, drop: d.drop };
    const heldMs = d.delayMs + (d.reorderMs ?? 0);
    if (d.reorderMs) await new Promise((r) => setTimeout(r, heldMs));
    else if (d.delayMs) await new Promise<void>((r) => this.later(subject, d.delayMs, r));
    return { duplicate: d.duplicate };
  }

  /**
   * Calls `handler` for each message; a payload that does not decode is logged and dropped.
   * A message sent as a request (`publishAcked`) is answered, empty, once handled: the
   * sender then knows it arrived, which core NATS alone never says.
   */
  subscribe<In, Out>(subject: string, codec: Codec<In, Out>, handler: (msg: Out, subject: string) => void): Unsubscribe {
    const sub: Subscription = this.nc.subscribe(subject, {
      callback: (err, m) => {
        if (err) {
          this.log.warn({ subject, err: err.message }, 'subscription error');
          return;
        }
        let decoded: Out;
        try {
          decoded = codec.decode(m.data);
        } catch (e) {
          this.log.warn({ subject: m.subject, err: (e as Error).message }, 'dropped malformed message');
          return;
        }
        handler(decoded, m.subject);
        if (m.reply) m.respond();
      },
    });
    return () => sub.unsubscribe();
  }

  /**
   * At least once: publishes as a request and waits for a subscriber's acknowledgement
   * (subscribe answers once it handled the message), sending again every `attemptMs` until
   * `deadlineMs` has passed. Rejects naming the subject and how long it tried. Handlers of
   * such subjects must be idempotent: an acknowledgement lost on the way back means the
   * message arrives twice.
   */
  async publishAcked<In, Out>(subject: string, codec: Codec<In, Out>, msg: In, deadlineMs: number, attemptMs = 200): Promise<number> {
    const data = codec.encode(msg);
    const end = Date.now() + deadlineMs;
    for (let attempt = 1; ; attempt++) {
      const left = end - Date.now();
      try {
        const gate = await this.faultGate(subject, data.length);
        // A dropped attempt is lost on the way: the sender hears nothing and tries again.
        if (gate.drop) {
          await new Promise((r) => setTimeout(r, Math.max(1, Math.min(attemptMs, end - Date.now()))));
          throw new Error(`TIMEOUT (dropped by ${gate.drop})`);
        }
        if (gate.duplicate) this.nc.publish(subject, data);
        await this.nc.request(subject, data, { timeout: Math.max(1, Math.min(attemptMs, left)) });
        return attempt;
      } catch (e) {
        if (end - Date.now() <= 0)
          throw new Error(`${subject}: no subscriber acknowledged the message within ${deadlineMs} ms (${attempt} attempts; last: ${(e as Error).message})`);
        // "no responders" comes back at once: wait before asking again.
        await new Promise((r) => setTimeout(r, Math.min(50, Math.max(0, end - Date.now()))));
      }
    }
  }

  /** Answers requests on `subject`; a request that does not decode gets no answer. */
  serve<ReqIn, ReqOut, ResIn, ResOut>(
    subject: string,
    reqCodec: Codec<ReqIn, ReqOut>,
    resCodec: Codec<ResIn, ResOut>,
    handler: (req: ReqOut) => ResIn,
  ): Unsubscribe {
    const sub = this.nc.subscribe(subject, {
      callback: (err, m) => {
        if (err) return;
        let req: ReqOut;
        try {
          req = reqCodec.decode(m.data);
        } catch (e) {
          this.log.warn({ subject, err: (e as Error).message }, 'dropped malformed request');
          return;
        }
        m.respond(resCodec.encode(handler(req)));
      },
    });
    return () => sub.unsubscribe();
  }

  /** Request/reply with a timeout; rejects naming the subject when nobody answers. */
  async request<ReqIn, ReqOut, ResIn, ResOut>(
    subject: string,
    reqCodec: Codec<ReqIn, ReqOut>,
    req: ReqIn,
    resCodec: Codec<ResIn, ResOut>,
    timeoutMs = 2000,
  ): Promise<ResOut> {
    try {
      const data = reqCodec.encode(req);
      const gate = await this.faultGate(subject, data.length);
      if (gate.drop) {
        // Lost on the way: the asker waits out its timeout, as for any lost request.
        await new Promise((r) => setTimeout(r, timeoutMs));
        throw new Error(`TIMEOUT (dropped by ${gate.drop})`);
      }
      const m = await this.nc.request(subject, data, { timeout: timeoutMs });
      return resCodec.decode(m.data);
    } catch (e) {
      throw new Error(`request on ${subject} failed: ${(e as Error).message}`);
    }
  }

  /** One request, every answer that comes within `waitMs` (a scatter-gather: who holds what). */
  async gather<ReqIn, ReqOut, ResIn, ResOut>(
    subject: string,
    reqCodec: Codec<ReqIn, ReqOut>,
    req: ReqIn,
    resCodec: Codec<ResIn, ResOut>,
    waitMs = 500,
  ): Promise<ResOut[]> {
    const out: ResOut[] = [];
    try {
      for await (const m of await this.nc.requestMany(subject, reqCodec.encode(req), { strategy: 'timer', maxWait: waitMs })) {
        try {
          out.push(resCodec.decode(m.data));
        } catch (e) {
          this.log.warn({ subject, err: (e as Error).message }, 'dropped malformed answer');
        }
      }
    } catch (e) {
      // No responders at all is an empty answer, not an error.
      if (!/no responders|503/i.test((e as Error).message)) throw new Error(`gather on ${subject} failed: ${(e as Error).message}`);
    }
    return out;
  }

  private jetstream(): JetStreamClient {
    this.js ??= jetstream(this.nc);
    return this.js;
  }

  /**
   * Creates the system's streams where missing, and with `update` (dom0's part) brings the
   * existing ones to their specs; every publisher of history calls this once. In a secure lab
   * only dom0 may create or change a stream (the launcher creates them before any service
   * starts), so a data-plane service passes `update: false` and finds them there.
   */
  async ensureStreams(opts: { update?: boolean; specs?: readonly StreamSpec[] } = {}): Promise<void> {
    const { update = true, specs = Object.values(streams) } = opts;
    const jsm = await jetstreamManager(this.nc);
    for (const s of specs) {
      const config = {
        name: s.name,
        subjects: s.subjects,
        max_msgs_per_subject: s.maxMsgsPerSubject,
        max_age: s.maxAgeSeconds * 1e9,
        num_replicas: this.replicas,
      };
      let exists = true;
      try {
        await jsm.streams.info(s.name);
      } catch {
        exists = false;
      }
      try {
        if (!exists) await jsm.streams.add(config);
        else if (update) await jsm.streams.update(s.name, config);
      } catch (e) {
        throw new Error(
          `stream ${s.name}: cannot ${exists ? 'update' : 'create'} it: ${(e as Error).message}${exists ? '' : ' (in a secure lab only dom0 may create streams)'}`,
        );
      }
    }
  }

  /**
   * JetStream publish: stored, so a late reader sees it. Resolves once the server has it.
   * With `msgId` a publish that failed (NATS restarting, no JetStream yet) is sent again
   * every 250 ms for up to `retryForMs`: the stream's duplicate window drops a copy whose
   * first send was stored but whose answer was lost, so it is stored once.
   */
  async publishDurable<In, Out>(subject: string, codec: Codec<In, Out>, msg: In, opts: { msgId?: string; retryForMs?: number } = {}): Promise<void> {
    const data = codec.encode(msg);
    const gate = await this.faultGate(subject, data.length);
    if (gate.drop) return;
    const until = Date.now() + (opts.msgId === undefined ? 0 : (opts.retryForMs ?? 0));
    for (;;) {
      try {
        await this.jetstream().publish(subject, data, opts.msgId === undefined ? undefined : { msgID: opts.msgId });
        return;
      } catch (e) {
        if (Date.now() >= until || this.nc.isClosed()) throw e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  /**
   * Reads a stream's history for `subject` from the start, then follows it live, in order.
   * `{ afterSeq }` resumes after a sequence a reader already has (a console reattaching).
   * Returns a function that stops reading.
   */
  async replay<In, Out>(
    stream: StreamSpec,
    subject: string,
    codec: Codec<In, Out>,
    handler: (msg: Out, subject: string, seq: number) => void,
    from: 'start' | 'new' | { afterSeq: number } = 'start',
  ): Promise<Unsubscribe> {
    // Everything is read as "after sequence n", so a reader that must start again (below)
    // resumes exactly after the last message it handled: 'new' is after the newest now.
    let afterSeq = typeof from === 'object' ? from.afterSeq : from === 'new' ? await this.lastSeq(stream, subject) : 0;
    let stopped = false;
    let messages: ConsumerMessages | undefined;
    const open = async (): Promise<void> => {
      const consumer = await this.jetstream().consumers.get(
        stream.name,
        afterSeq > 0
          ? { filter_subjects: subject, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: afterSeq + 1 }
          : { filter_subjects: subject, deliver_policy: DeliverPolicy.All },
      );
      const m = await consumer.consume();
      if (stopped) return void m.stop();
      messages = m;
      void (async () => {
        for await (const msg of m) {
          if (msg.seq <= afterSeq) continue;
          afterSeq = msg.seq;
          try {
            handler(codec.decode(msg.data), msg.subject, msg.seq);
          } catch (e) {
            this.log.warn({ subject: msg.subject, err: (e as Error).message }, 'dropped malformed stored message');
          }
        }
      })().catch(() => undefined);
    };
    await open();
    // A restarted NATS server: the consumer's heartbeats would find it gone only after
    // tens of seconds. Start again at once after the last message handled (JetStream may
    // still be recovering its streams: try for a while).
    // One reopening at a time; an event during it makes it start over once it is done.
    let reopening = false;
    let again = false;
    const reopen = async (): Promise<void> => {
      if (reopening) {
        again = true;
        return;
      }
      reopening = true;
      try {
        do {
          again = false;
          void messages?.stop();
          messages = undefined;
          let opened = false;
          // Up to 30 s: a cluster that lost a node elects JetStream's leaders first (~10 s).
          for (let i = 0; i < 120 && !stopped && !opened; i++) {
            try {
              await open();
              opened = true;
            } catch {
              await new Promise((r) => setTimeout(r, 250));
            }
          }
          if (!opened && !stopped) this.log.warn({ stream: stream.name, subject }, 'could not read the stream again after a NATS reconnect');
        } while (again && !stopped);
      } finally {
        reopening = false;
      }
    };
    const off = this.onReconnect(() => void reopen());
    return () => {
      stopped = true;
      off();
      void messages?.stop();
    };
  }

  /** Sequence of the newest message stored for `subject` in `stream`, or 0 if none. */
  async lastSeq(stream: StreamSpec, subject: string): Promise<number> {
    const jsm = await jetstreamManager(this.nc);
    try {
      const m = await jsm.streams.getMessage(stream.name, { last_by_subj: subject });
      return m?.seq ?? 0;
    } catch {
      return 0;
    }
  }

  /** Drops a stream's history for one subject (a new VM of an old name starts clean). */
  async purge(stream: StreamSpec, subject: string): Promise<void> {
    const jsm = await jetstreamManager(this.nc);
    await jsm.streams.purge(stream.name, { filter: subject });
  }

  /** The system's KV bucket (created on first use). */
  kv(): Promise<KV> {
    // A failure is not kept: in a secure lab the bucket is dom0's to create, and a service
    // that asked before dom0 did asks again.
    this.kvBucket ??= new Kvm(this.nc).create(KV_BUCKET, { history: 5, replicas: this.replicas }).catch((e: unknown) => {
      this.kvBucket = undefined;
      throw e;
    });
    return this.kvBucket;
  }

  /**
   * The cpu node registry's bucket (node-registry.ts). `create` (dom0, the launcher) makes it
   * where missing; a cpu node only opens it, and rejects while nobody has made it yet.
   */
  async nodeRegistry(opts: { create?: boolean } = {}): Promise<KV> {
    const kvm = new Kvm(this.nc);
    if (!opts.create) return kvm.open(NODE_REGISTRY_BUCKET);
    // History 1: only the last heartbeat matters. ttl is the stream's max age; a bucket made
    // with another (by an older launcher) is brought to this one.
    const kv = await kvm.create(NODE_REGISTRY_BUCKET, { history: 1, ttl: NODE_TTL_MS, replicas: this.replicas });
    const jsm = await jetstreamManager(this.nc);
    const info = await jsm.streams.info(`KV_${NODE_REGISTRY_BUCKET}`);
    if (info.config.max_age !== NODE_TTL_MS * 1e6) await jsm.streams.update(info.config.name, { ...info.config, max_age: NODE_TTL_MS * 1e6 });
    return kv;
  }

  /** Flushes what was published and closes: every published event reaches the server. */
  async drain(): Promise<void> {
    clearInterval(this.peerTimer);
    if (this.nc.isClosed()) return;
    await this.nc.drain();
  }
}
