// The four services as real processes on a real NATS, for whole-system tests. Teardown
// checks that every child exited and every port is free again.
import { Lab, isListening, type LabOptions, type ServiceName } from '@splitvisor/lab';
import { startTestNats, type TestNats } from './nats.js';

export interface TestLab {
  lab: Lab;
  nats: TestNats;
  natsUrl: string;
  addresses: Record<ServiceName, string>;
  /** Every line the services printed, newest last (for assertions on log lines). */
  lines: { service: string; line: string }[];
  teardown(): Promise<void>;
}

/** A lab for a test: plaintext unless `secure: true` (the tests that study a VM's behaviour
 *  need not pay TLS; tests/src/security.spec.ts and the CLI's default path are secure).
 *  The insecure lab's warning goes to `lines` as the lab's, not to the test's stderr. */
export async function startTestLab(opts: Omit<LabOptions, 'natsUrl'> = {}): Promise<TestLab> {
  // A secure lab writes its own NATS config (users, permissions) and so starts its own.
  const nats: TestNats = opts.secure ? { url: '', kind: 'binary', stop: async () => undefined, kill: async () => undefined } : await startTestNats();
  const lines: { service: string; line: string }[] = [];
  const echo = process.env['SPLITVISOR_TEST_LOG'] === '1';
  let lab: Lab;
  try {
    lab = await Lab.start({
      ...opts,
      secure: opts.secure ?? false,
      ...(!opts.secure && { natsUrl: nats.url }),
      warn: (m) => lines.push({ service: 'lab', line: m }),
      onLine: (service, line) => {
        lines.push({ service, line });
        if (echo) process.stderr.write(`[${service}] ${line}\n`);
        opts.onLine?.(service, line);
      },
    });
  } catch (e) {
    await nats.stop();
    throw e;
  }
  if (opts.secure) {
    nats.url = lab.natsUrl;
    nats.kill = async () => lab.natsServer?.kill();
  }
  return {
    lab,
    nats,
    natsUrl: lab.natsUrl,
    addresses: lab.addresses,
    lines,
    async teardown() {
      await lab.stop();
      await nats.stop();
      for (const [name, p] of lab.services) {
        if (p.child.exitCode === null && p.child.signalCode === null) throw new Error(`${name} (pid ${p.child.pid}) still running after teardown`);
        const port = Number(p.address.split(':').pop());
        if (await isListening(port)) throw new Error(`${name}'s port ${port} still taken after teardown`);
      }
    },
  };
}
