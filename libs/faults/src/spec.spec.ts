import { describe, expect, it } from 'vitest';
import { parseDuration } from './duration.js';
import { checkProcessFault } from './process-fault.js';
import { parseFault, describeFault } from './spec.js';
import { parseLink, subjectLink } from './link.js';

describe('durations', () => {
  it('reads ms, s and m, and names the field of a bad one', () => {
    expect([parseDuration('500ms', 'for'), parseDuration('3s', 'for'), parseDuration('1.5s', 'for'), parseDuration('2m', 'for')]).toEqual([
      500, 3000, 1500, 120_000,
    ]);
    expect(() => parseDuration('3', 'for')).toThrow('for: "3" is not a duration (e.g. 500ms, 3s, 2m)');
    expect(() => parseDuration('-1s', 'for')).toThrow('for: "-1s" is not a duration');
  });
});

describe('process faults', () => {
  const lab = ['mmu', 'io-backend', 'cpu', 'dom0'];
  it('stop takes --for (10 s by default, at most 5 min); the others take none', () => {
    expect(checkProcessFault({ action: 'stop', service: 'io-backend', for: '3s' }, lab)).toEqual({ action: 'stop', service: 'io-backend', forMs: 3000 });
    expect(checkProcessFault({ action: 'stop', service: 'cpu' }, lab)).toEqual({ action: 'stop', service: 'cpu', forMs: 10_000 });
    expect(checkProcessFault({ action: 'kill', service: 'dom0' }, lab)).toEqual({ action: 'kill', service: 'dom0' });
    expect(() => checkProcessFault({ action: 'stop', service: 'cpu', for: '6m' }, lab)).toThrow('for: 6m is outside 1ms..5m');
    expect(() => checkProcessFault({ action: 'kill', service: 'cpu', for: '3s' }, lab)).toThrow('for: only stop takes a duration (kill is at once)');
  });
  it('refuses an unknown action or service, naming it and what there is', () => {
    expect(() => checkProcessFault({ action: 'freeze', service: 'cpu' }, lab)).toThrow('action: "freeze" is not a process fault (kill, stop, cont, restart)');
    expect(() => checkProcessFault({ action: 'kill', service: 'cpu-2' }, lab)).toThrow(
      'service: "cpu-2" is not a service of this lab (mmu, io-backend, cpu, dom0)',
    );
    expect(() => checkProcessFault({ action: 'stop', service: 'cpu', for: 'soon' }, lab)).toThrow('for: "soon" is not a duration');
  });
});

describe('links', () => {
  it('names gRPC links from the caller and NATS links by family and VM', () => {
    expect(parseLink('cpu:mmu')).toEqual({ kind: 'rpc', name: 'cpu:mmu', from: 'cpu', to: 'mmu' });
    expect(parseLink('doorbell:hello')).toEqual({ kind: 'nats', name: 'doorbell:hello', family: 'doorbell', scope: 'hello' });
    expect(parseLink('irq:*')).toMatchObject({ family: 'irq', scope: '*' });
    expect(() => parseLink('mmu:cpu')).toThrow(/^link: "mmu:cpu" is not a link \(gRPC: cpu:io-backend, cpu:mmu, /);
    expect(() => parseLink('irq:Bad.Vm')).toThrow('link: "Bad.Vm" in irq:Bad.Vm is not a VM name (1-63 of a-z 0-9 -) or *');
  });
  it('knows which family a subject belongs to', () => {
    expect(subjectLink('sv.vm.hello.irq')).toEqual({ family: 'irq', scope: 'hello' });
    expect(subjectLink('sv.vm.hello.irq.query')).toEqual({ family: 'irq', scope: 'hello' });
    expect(subjectLink('sv.vm.hello.mem.recall.cpu-1')).toEqual({ family: 'recall', scope: 'hello' });
    expect(subjectLink('sv.vm.hello.io.shadow.revoke')).toEqual({ family: 'shadow', scope: 'hello' });
    expect(subjectLink('sv.net.lab0.frames')).toEqual({ family: 'net', scope: 'lab0' });
    expect(subjectLink('sv.vm.hello.lifecycle.cpu')).toBeUndefined();
    expect(subjectLink('_INBOX.abc')).toBeUndefined();
  });
});

describe('parseFault', () => {
  it('reads each kind with its parameters', () => {
    expect(parseFault(['cpu:io-backend', 'latency', '200ms', '20ms'], '10s')).toEqual({
      link: 'cpu:io-backend',
      kind: 'latency',
      latencyMs: 200,
      jitterMs: 20,
      probability: 0,
      bytesPerSecond: 0,
      forMs: 10_000,
    });
    expect(parseFault(['io-backend:mmu', 'bandwidth', '64KB/s'], '10s')).toMatchObject({ kind: 'bandwidth', bytesPerSecond: 64_000 });
    expect(describeFault(parseFault(['net:lab0', 'bandwidth', '1.5MB/s'], '10s'))).toBe('bandwidth 1.5MB/s on net:lab0');
    expect(parseFault(['doorbell:*', 'drop', '10%'], undefined)).toMatchObject({ kind: 'drop', probability: 0.1, forMs: 30_000 });
    expect(parseFault(['irq:vm1', 'duplicate', '0.5'], '1m')).toMatchObject({ kind: 'duplicate', probability: 0.5, forMs: 60_000 });
    expect(parseFault(['cpu:mmu', 'partition'], '5s')).toMatchObject({ kind: 'partition', forMs: 5000 });
    expect(parseFault(['irq:*', 'reorder', '20%'], undefined)).toMatchObject({ kind: 'reorder', probability: 0.2, latencyMs: 50 });
    expect(describeFault(parseFault(['doorbell:vm1', 'reorder', '0.25', '200ms'], undefined))).toBe('reorder 25% by 200ms on doorbell:vm1');
  });
  it('refuses a malformed fault, naming the field and value', () => {
    expect(() => parseFault([], undefined)).toThrow('link: missing (e.g. cpu:io-backend)');
    expect(() => parseFault(['cpu:mmu', 'slow'], undefined)).toThrow(
      'kind: "slow" is not a fault kind (latency, bandwidth, drop, duplicate, reorder, partition)',
    );
    expect(() => parseFault(['cpu:mmu', 'bandwidth', '64kbit'], undefined)).toThrow('bandwidth: "64kbit" is not a rate from 1B/s to 1000MB/s (e.g. 64KB/s)');
    expect(() => parseFault(['cpu:mmu', 'bandwidth'], undefined)).toThrow('bandwidth: "" is not a rate');
    expect(() => parseFault(['cpu:mmu', 'latency'], undefined)).toThrow('latency: missing its delay');
    expect(() => parseFault(['cpu:mmu', 'latency', 'fast'], undefined)).toThrow('latency: "fast" is not a duration');
    expect(() => parseFault(['cpu:mmu', 'latency', '10ms', '20ms'], undefined)).toThrow('jitter: 20ms is more than the latency 10ms');
    expect(() => parseFault(['cpu:mmu', 'drop', '1.5'], undefined)).toThrow('drop: probability "1.5" is not in (0, 1]');
    expect(() => parseFault(['cpu:mmu', 'drop', '0'], undefined)).toThrow('drop: probability "0" is not in (0, 1]');
    expect(() => parseFault(['cpu:mmu', 'duplicate', '0.1'], undefined)).toThrow('duplicate: only on NATS links');
    expect(() => parseFault(['irq:*', 'partition'], undefined)).toThrow('partition: cuts two services apart, so it takes a gRPC link');
    expect(() => parseFault(['cpu:mmu', 'partition', 'now'], undefined)).toThrow('partition: unexpected parameter "now"');
    expect(() => parseFault(['cpu:mmu', 'reorder', '10%'], undefined)).toThrow('reorder: only on NATS links (each gRPC call has its own answer), not cpu:mmu');
    expect(() => parseFault(['irq:*', 'reorder'], undefined)).toThrow('reorder: missing its probability');
    expect(() => parseFault(['irq:*', 'reorder', '10%', 'soon'], undefined)).toThrow('reorder: "soon" is not a duration');
    expect(() => parseFault(['irq:*', 'reorder', '10%', '2m'], undefined)).toThrow('reorder: 2m is outside 1ms..1m');
    expect(() => parseFault(['irq:*', 'reorder', '10%', '5ms', 'x'], undefined)).toThrow('reorder: unexpected parameter "x"');
    expect(() => parseFault(['cpu:mmu', 'partition'], '11m')).toThrow('for: 11m is outside 1ms..10m');
  });
  it('describes a fault as the list shows it', () => {
    expect(describeFault(parseFault(['cpu:io-backend', 'latency', '200ms', '20ms'], undefined))).toBe('latency 200ms±20ms on cpu:io-backend');
    expect(describeFault(parseFault(['doorbell:*', 'drop', '10%'], undefined))).toBe('drop 10% on doorbell:*');
  });
});
