// What the CLI says about the files it sends dom0: a bar redrawn in place on a terminal's
// stderr, and otherwise (a pipe, a test) one line at the end, so that "0 bytes sent"
// shows that an unchanged file was not sent again.
import { fmtBytes } from './views.js';

/** What became of one file the config names. */
export interface FileOutcome {
  /** "image", "kernel", "virtio-blk0". */
  label: string;
  /** Its base name, as people recognize it. */
  name: string;
  status: 'sent' | 'already there' | 'opened in place';
  /** Bytes sent (0 unless sent). */
  bytes: number;
}

const rate = (bytes: number, ms: number) => `${fmtBytes(Math.round(bytes / Math.max(ms / 1000, 0.001)))}/s`;

/** The one-line summary: what was sent (how much, how fast) and what needed no bytes. */
export function uploadSummary(files: readonly FileOutcome[], ms: number): string {
  const named = (fs: readonly FileOutcome[]) => fs.map((f) => `${f.label} ${f.name}`).join(', ');
  const sent = files.filter((f) => f.status === 'sent');
  const total = sent.reduce((n, f) => n + f.bytes, 0);
  const parts = [sent.length > 0 ? `sent ${named(sent)}: ${fmtBytes(total)} in ${(ms / 1000).toFixed(2)} s (${rate(total, ms)})` : '0 bytes sent'];
  const there = files.filter((f) => f.status === 'already there');
  if (there.length > 0) parts.push(`already there: ${named(there)}`);
  const inPlace = files.filter((f) => f.status === 'opened in place');
  if (inPlace.length > 0) parts.push(`dom0 opens in place: ${named(inPlace)}`);
  return `files: ${parts.join('; ')}`;
}

/** One bar line: "uploading kernel Image [#####-----] 50% 15 MiB/30 MiB 40 MiB/s". */
export function progressLine(label: string, done: number, total: number, ms: number, width = 24): string {
  const frac = total > 0 ? Math.min(done / total, 1) : 1;
  const full = Math.round(frac * width);
  return `uploading ${label} [${'#'.repeat(full)}${'-'.repeat(width - full)}] ${Math.floor(frac * 100)}% ${fmtBytes(done)}/${fmtBytes(total)} ${rate(done, ms)}`;
}

/** Progress as the upload reports it; `end` prints the summary. */
export interface UploadProgress {
  file(label: string, bytes: number): void;
  sent(n: number): void;
  end(summary: string): void;
}

/** A redrawn bar on a terminal (at most every 100 ms), nothing but the summary elsewhere. */
export function progressOn(out: NodeJS.WriteStream, prefix = 'splitvisor: '): UploadProgress {
  const tty = out.isTTY === true;
  let label = '';
  let total = 0;
  let done = 0;
  let t0 = 0;
  let drawn = 0;
  const draw = (force: boolean) => {
    if (!tty || (!force && Date.now() - drawn < 100)) return;
    drawn = Date.now();
    out.write(`\r\x1b[K${prefix}${progressLine(label, done, total, Date.now() - t0)}`);
  };
  return {
    file(l, bytes) {
      label = l;
      total = bytes;
      done = 0;
      t0 = Date.now();
      draw(true);
    },
    sent(n) {
      done += n;
      draw(done === total);
    },
    end(summary) {
      if (tty && drawn) out.write('\r\x1b[K');
      out.write(`${prefix}${summary}\n`);
    },
  };
}
