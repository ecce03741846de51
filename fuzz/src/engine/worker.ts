// The worker thread's entry: one target, fuzzed or replayed, stats posted back.
import { parentPort, workerData } from 'node:worker_threads';
import { TARGETS } from '../targets/index.js';
import { Fuzzer, Heartbeat, readCorpus, type FuzzOptions, type FuzzStats } from './fuzzer.js';

export type WorkerJob =
  | { kind: 'fuzz'; target: string; shared: SharedArrayBuffer; options: FuzzOptions }
  | { kind: 'replay'; target: string; shared: SharedArrayBuffer; dirs: string[] };

export type WorkerMessage = { type: 'progress'; stats: FuzzStats } | { type: 'done'; stats: FuzzStats };

const job = workerData as WorkerJob;
const target = TARGETS[job.target];
if (!target) throw new Error(`fuzz: no target "${job.target}"`);
const fuzzer = new Fuzzer(target, new Heartbeat(job.shared));
const post = (m: WorkerMessage) => parentPort!.postMessage(m);
const stats = job.kind === 'fuzz' ? await fuzzer.run(job.options, (s) => post({ type: 'progress', stats: s })) : await fuzzer.replay(readCorpus(job.dirs));
post({ type: 'done', stats });
