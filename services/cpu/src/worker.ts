// A vCPU thread: runs one VM's hart (vcpu-runner.ts) until it stops, then says why. It may
// start before its VM exists (spare-workers.ts): its modules load, then it waits for the
// VM's init, the first and only message its host posts to it.
import { parentPort } from 'node:worker_threads';
import type { InitMessage } from './exit-channel/index.js';
import { VcpuRunner } from './vcpu-runner.js';

parentPort!.once('message', (m: InitMessage) => {
  new VcpuRunner(m.init, parentPort!).run();
});
