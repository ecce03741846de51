// A vCPU thread: runs one VM's hart (vcpu-runner.ts) until it stops, then says why.
import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerInit } from './exit-channel/index.js';
import { VcpuRunner } from './vcpu-runner.js';

new VcpuRunner(workerData as WorkerInit, parentPort!).run();
