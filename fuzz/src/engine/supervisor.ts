// Runs a target in a worker thread and watches it: an input that runs past the time limit
// (an endless loop, a promise that never settles) is a crash too. The worker is ended
// (V8 interrupts even a busy loop) and the input it was running is written as the crash.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { HB_BUSY, HB_EXECS, Heartbeat, sha1, type FuzzOptions, type FuzzStats } from './fuzzer.js';
import type { WorkerJob, WorkerMessage } from './worker.js';

const WORKER = new URL('./worker.js', import.meta.url);
/** Room for the input being run; targets cut inputs to their maxLen, at most this. */
const MAX_INPUT = 64 * 1024;

export interface SupervisorOptions {
  /** One input longer than this is a hang. */
  timeoutMs: number;
  onProgress?: (s: FuzzStats) => void;
}

type Job = { kind: 'fuzz'; options: FuzzOptions } | { kind: 'replay'; dirs: string[] };

export function fuzzTarget(target: string, options: FuzzOptions, sup: SupervisorOptions): Promise<FuzzStats> {
  return supervise(target, { kind: 'fuzz', options }, options.crashDir, sup);
}

/** Runs every file in `dirs` once; the stats' crashes name the files that still fail. */
export function replayTarget(target: string, dirs: string[], sup: SupervisorOptions): Promise<FuzzStats> {
  return supervise(target, { kind: 'replay', dirs }, undefined, sup);
}

function supervise(target: string, job: Job, crashDir: string | undefined, sup: SupervisorOptions): Promise<FuzzStats> {
  const hb = Heartbeat.create(MAX_INPUT);
  const data: WorkerJob = { ...job, target, shared: hb.buffer } as WorkerJob;
  // The YAML library warns on stderr about odd anchors: noise at a million inputs.
  const worker = new Worker(WORKER, { workerData: data, execArgv: ['--no-warnings'] });
  let last: FuzzStats = { target, execs: 0, seconds: 0, corpus: 0, blocks: 0, crashes: [] };
  const started = performance.now();
  return new Promise<FuzzStats>((resolve, reject) => {
    let seenExecs = -1;
    let seenAt = performance.now();
    const watch = setInterval(
      () => {
        const execs = Atomics.load(hb.words, HB_EXECS);
        if (execs !== seenExecs || Atomics.load(hb.words, HB_BUSY) === 0) {
          seenExecs = execs;
          seenAt = performance.now();
          return;
        }
        if (performance.now() - seenAt < sup.timeoutMs) return;
        clearInterval(watch);
        const input = hb.current();
        let file = '';
        if (crashDir) {
          mkdirSync(crashDir, { recursive: true });
          file = join(crashDir, sha1(input));
          writeFileSync(file, input);
        }
        const error = `timeout: one input ran past ${sup.timeoutMs} ms (${input.length} bytes)`;
        void worker.terminate().then(() =>
          resolve({
            ...last,
            execs: Math.max(last.execs, execs),
            seconds: (performance.now() - started) / 1000,
            crashes: [...last.crashes, { file, error }],
          }),
        );
      },
      Math.min(100, sup.timeoutMs / 4),
    );
    worker.on('message', (m: WorkerMessage) => {
      last = m.stats;
      if (m.type === 'progress') sup.onProgress?.(m.stats);
      else {
        clearInterval(watch);
        resolve(m.stats);
      }
    });
    worker.on('error', (e) => {
      // An error nobody caught (a rejection after the input's promise settled, a throw in
      // a timer): charged to the input running, or the last one run.
      clearInterval(watch);
      const input = hb.current();
      let file = '';
      if (crashDir) {
        mkdirSync(crashDir, { recursive: true });
        file = join(crashDir, sha1(input));
        writeFileSync(file, input);
      }
      const error = `uncaught in the worker: ${e.stack ?? e.message}`;
      resolve({ ...last, seconds: (performance.now() - started) / 1000, crashes: [...last.crashes, { file, error }] });
    });
    worker.on('exit', (code) => {
      clearInterval(watch);
      // After 'done' or a timeout the promise is already settled and this does nothing.
      reject(new Error(`fuzz ${target}: the worker exited (code ${code}) before reporting`));
    });
  });
}
