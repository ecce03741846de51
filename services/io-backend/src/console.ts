// Console output of one VM: UART bytes coalesced into JetStream messages. A message per
// byte would cost a JetStream round trip per character. A line (or 512 bytes, or 10 ms of
// quiet) is a message while the publisher keeps up, which keeps `console` interactive.
//
// One publish is in flight at a time, so a reader sees the bytes in the order the guest
// wrote them. What the guest writes while it is in flight waits in one buffer and goes out
// as the next message, however many lines it holds: a guest printing faster than
// JetStream stores a message a line (`md` in U-Boot: ~2,400 lines a second) sends fewer,
// larger messages instead of a queue of lines that grows without bound. Only past
// `maxBufferedBytes` waiting (NATS slow or away) is output dropped, counted and reported,
// as a UART's bytes are lost when nothing drains the line.

export interface ConsoleOutOptions {
  /** Stores one chunk (JetStream publish); resolves once the server has it. */
  publish: (data: Buffer) => Promise<void>;
  /** Told of bytes that could not be published (a failed publish, or a full buffer). */
  onError?: (err: Error, bytes: number) => void;
  /** Flush when this many bytes are buffered since the last flush (default 512). */
  maxBytes?: number;
  /** Flush this long after the first unflushed byte (default 10 ms). */
  delayMs?: number;
  /** Bytes allowed to wait for the publisher; past that, output is dropped and counted
   *  rather than held without bound (default 128 KiB). */
  maxBufferedBytes?: number;
  /** The largest message published (default 16 KiB). */
  maxChunkBytes?: number;
}

export interface ConsoleOutStats {
  /** Bytes handed to the publisher. */
  bytesOut: number;
  chunks: number;
  /** Bytes lost: publish failed, or the buffer was full. */
  bytesLost: number;
}

export class ConsoleOut {
  readonly stats: ConsoleOutStats = { bytesOut: 0, chunks: 0, bytesLost: 0 };
  /** Bytes not yet handed to the publisher, oldest first. */
  private readonly buf: Buffer;
  private len = 0;
  /** How many of buf's first bytes are flushed: the next message takes them. */
  private ready = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The publishing loop while it runs: resolves once nothing flushed is left. */
  private draining: Promise<void> | undefined;
  /** Bytes dropped since the last report (the buffer was full). */
  private dropped = 0;
  private readonly maxBytes: number;
  private readonly delayMs: number;
  private readonly maxChunk: number;

  constructor(private readonly opts: ConsoleOutOptions) {
    this.maxBytes = opts.maxBytes ?? 512;
    this.delayMs = opts.delayMs ?? 10;
    this.maxChunk = opts.maxChunkBytes ?? 16 * 1024;
    this.buf = Buffer.alloc(Math.max(opts.maxBufferedBytes ?? 128 * 1024, this.maxBytes));
  }

  /** One byte from the UART. Never blocks the guest: publishing happens behind it. */
  push(byte: number): void {
    if (this.len === this.buf.length) {
      this.dropped++;
      this.stats.bytesLost++;
      return;
    }
    this.reportDropped();
    this.buf[this.len++] = byte;
    if (byte === 0x0a || this.len - this.ready >= this.maxBytes) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.delayMs).unref();
  }

  /** Publishes what is buffered; resolves once it and everything before it is stored
   *  (or has failed and been reported). */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.reportDropped();
    this.ready = this.len;
    if (this.ready === 0) return this.draining ?? Promise.resolve();
    return (this.draining ??= this.drain());
  }

  /** Publishes the flushed bytes, one message at a time, until none are left. */
  private async drain(): Promise<void> {
    try {
      while (this.ready > 0) {
        const n = Math.min(this.ready, this.maxChunk);
        const data = Buffer.from(this.buf.subarray(0, n));
        this.buf.copyWithin(0, n, this.len);
        this.len -= n;
        this.ready -= n;
        this.stats.chunks++;
        this.stats.bytesOut += n;
        try {
          await this.opts.publish(data);
        } catch (e) {
          this.stats.bytesLost += n;
          this.opts.onError?.(e instanceof Error ? e : new Error(String(e)), n);
        }
      }
    } finally {
      // In the same turn as the loop's last check: a flush after this starts a new loop.
      this.draining = undefined;
    }
  }

  private reportDropped(): void {
    if (this.dropped === 0) return;
    const n = this.dropped;
    this.dropped = 0;
    this.opts.onError?.(new Error(`the console buffer was full (${this.buf.length} bytes waiting for the publisher)`), n);
  }
}
