// A fresh lab for one bench run, with what the boot benches talk to: dom0 (to create and
// start the VM), the cpu (its exit table) and NATS (the console). Everything is closed and
// the lab stopped when `run` ends, however it ends.
import { Lab } from '@splitvisor/lab';
import { protos } from '@splitvisor/proto';
import { RpcClient } from '@splitvisor/rpc';
import { Bus } from '@splitvisor/bus';
import { createLogger } from '@splitvisor/log';

export async function withBenchLab(run) {
  const lab = await Lab.start({ logLevel: 'warn', secure: false });
  const p = protos();
  const dom0 = new RpcClient(p.dom0.Dom0, lab.addresses.dom0, { deadlineMs: 60_000 });
  const cpu = new RpcClient(p.cpu.Cpu, lab.addresses.cpu, { deadlineMs: 30_000 });
  const bus = await Bus.connect({ url: lab.natsUrl, name: 'bench', log: createLogger({ service: 'bench', level: 'silent', pretty: false }) });
  try {
    return await run({ lab, dom0, cpu, bus });
  } finally {
    dom0.close();
    cpu.close();
    await bus.drain();
    await lab.stop();
  }
}

/** The lab's processes by name (its four services and its nats-server): their pids. */
export function labPids(lab) {
  const pids = Object.fromEntries([...lab.services].map(([name, s]) => [name, s.child.pid]));
  if (lab.natsServer?.pid) pids.nats = lab.natsServer.pid;
  return pids;
}
