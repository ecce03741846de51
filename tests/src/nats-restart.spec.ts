// NATS restarted under a running lab: core NATS keeps nothing, so an IRQ level change
// published while the cpu was cut off is gone. The cpu reads the levels again when it
// reconnects, and a guest waiting in WFI for that interrupt gets it.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { streams, subjects, type Bus } from '@splitvisor/bus';
import { ConsoleInputCodec, ConsoleOutputCodec } from '@splitvisor/proto';
import { Lab, startNatsServer, type NatsServerHandle } from '@splitvisor/lab';
import { dom0Client, testBus, vmYaml, waitFor, ConsoleTap } from './dom0-helpers.js';
import { REPO_ROOT } from '@splitvisor/testing';

const IRQ = join(REPO_ROOT, 'guests/irq/irq.elf');

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
  cleanup = [];
});

describe('nats-server restarted', () => {
  it('a UART interrupt raised while the cpu was away from NATS still reaches the guest waiting for it', async () => {
    const storeDir = mkdtempSync(join(tmpdir(), 'sv-nats-store-'));
    cleanup.push(async () => rmSync(storeDir, { recursive: true, force: true }));
    let nats: NatsServerHandle = await startNatsServer({ storeDir });
    cleanup.push(() => nats.stop());
    const lines: string[] = [];
    const lab = await Lab.start({ natsUrl: nats.url, secure: false, warn: () => undefined, onLine: (svc, l) => lines.push(`${svc} ${l}`) });
    cleanup.push(() => lab.stop());
    const c = dom0Client(lab.addresses.dom0);
    cleanup.push(async () => c.close());

    await c.call('CreateVm', vmYaml('irq', '', IRQ));
    const tap = new ConsoleTap(c, 'irq');
    cleanup.push(async () => tap.close());
    await c.call('StartVm', { name: 'irq' });
    await tap.waitFor(/waiting for input\r\n/);
    tap.close();

    // The cpu frozen (as a slow one would be), NATS killed and started again on its port
    // and store: io-backend reconnects, the cpu cannot yet.
    const cpu = lab.services.get('cpu')!.child;
    cpu.kill('SIGSTOP');
    cleanup.push(async () => void cpu.kill('SIGCONT'));
    await nats.kill();
    const reconnects = () => lines.filter((l) => /^io-backend .*NATS reconnected/.test(l)).length;
    nats = await startNatsServer({ storeDir, port: nats.port });
    await waitFor('io-backend back on NATS', () => reconnects() > 0 || undefined, 15_000);

    // A key typed now raises the UART's line at io-backend; its one NATS message finds no cpu.
    const bus: Bus = await testBus(nats.url);
    cleanup.push(() => bus.drain());
    // The console as dom0 shows it: from the stream, where a chunk io-backend sent again
    // (its ack lost or late, the server just restarted) is stored once under its id. A
    // core-NATS subscriber would see both sends.
    let out = '';
    const stopReading = await bus.replay(
      streams.console,
      subjects.consoleOut('irq'),
      ConsoleOutputCodec,
      (m) => (out += Buffer.from(m.data).toString('latin1')),
      'new',
    );
    cleanup.push(async () => stopReading());
    await bus.publishAcked(subjects.consoleIn('irq'), ConsoleInputCodec, { vmId: 'irq', data: Buffer.from('h') }, 5000);

    // The cpu thaws, reconnects, reads the levels again, and the guest takes the interrupt.
    cpu.kill('SIGCONT');
    await waitFor(
      () => `the guest to take the interrupt (console: ${JSON.stringify(out)})`,
      () => out.includes('got h\r\n') || undefined,
      20_000,
    );
    expect(lines.some((l) => /^cpu .*IRQ levels read again after a gap/.test(l))).toBe(true);
    // Nothing lost after it either: more input, and the guest ends as it should.
    await bus.publishAcked(subjects.consoleIn('irq'), ConsoleInputCodec, { vmId: 'irq', data: Buffer.from('iq') }, 5000);
    await waitFor(
      () => `bye (console: ${JSON.stringify(out)})`,
      () => out.endsWith('got i\r\ngot q\r\nbye\r\n') || undefined,
      20_000,
    );
    expect(out).toBe('got h\r\ngot i\r\ngot q\r\nbye\r\n');
  }, 90_000);
});
