// Console output of one VM: UART bytes coalesced into JetStream messages. A message per
// byte would cost a JetStream round trip per character; a line (or 512 bytes, or 10 ms of
// quiet) per message keeps `console` interactive and the stream small. Publishes go out one
// after another so a reader sees the bytes in the order the guest wrote them.

export interface ConsoleOutOptions {
  /** Stores one chunk (JetStream publish); resolves once the server has it. */
  publish: (data: Buffer) => Promise<void>;
  /** Told of a chunk that could not be published (its bytes are lost). */
  onError?: (err: Error, bytes: number) => void;
  /** Flush when this many bytes are buffered (default 512). */
  maxBytes?: number;
  /** Flush this long after the first unflushed byte (default 10 ms). */
  delayMs?: number;
  /** Chunks allowed to wait for the publisher (NATS slow or down); past that, output is
   *  dropped and counted rather than held without bound (default 256, i.e. 128 KiB). */
  maxPendingChunks?: number;
}

export interface ConsoleOutStats {
  /** Bytes handed to the publisher. */
  bytesOut: number;
  chunks: number;
  /** Bytes lost: publish failed, or too many chunks were waiting. */
  bytesLost: number;
}

export class ConsoleOut {
  readonly stats: ConsoleOutStats = { bytesOut: 0, chunks: 0, bytesLost: 0 };
  private readonly buf: Buffer;
  private len = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The last publish in the chain; never rejects. */
  private tail: Promise<void> = Promise.resolve();
  private pending = 0;
  private readonly delayMs: number;
  private readonly maxPending: number;

  constructor(private readonly opts: ConsoleOutOptions) {
    this.buf = Buffer.alloc(opts.maxBytes ?? 512);
    this.delayMs = opts.delayMs ?? 10;
    this.maxPending = opts.maxPendingChunks ?? 256;
  }

  /** One byte from the UART. Never blocks the guest: publishing happens behind it. */
  push(byte: number): void {
    this.buf[this.len++] = byte;
    if (byte === 0x0a || this.len === this.buf.length) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.delayMs).unref();
  }

  /** Publishes what is buffered; resolves once it and everything before it is stored
   *  (or has failed and been reported). */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.len === 0) return this.tail;
    const data = Buffer.from(this.buf.subarray(0, this.len));
    this.len = 0;
    if (this.pending >= this.maxPending) {
      this.stats.bytesLost += data.length;
      this.opts.onError?.(new Error(`${this.pending} console chunks already waiting for the publisher`), data.length);
      return this.tail;
    }
    this.pending++;
    this.stats.chunks++;
    this.stats.bytesOut += data.length;
    this.tail = this.tail
      .then(() => this.opts.publish(data))
      .catch((e: unknown) => {
        this.stats.bytesLost += data.length;
        this.opts.onError?.(e instanceof Error ? e : new Error(String(e)), data.length);
      })
      .finally(() => {
        this.pending--;
      });
    return this.tail;
  }
}
