import { describe, expect, it } from 'vitest';
import { ConsoleOutputCodec, DoorbellCodec, LifecycleEventCodec, MalformedPayloadError, protos } from './index.js';

describe('NATS payload codecs', () => {
  it('round-trips a lifecycle event with enum names and numbers', () => {
    const bytes = LifecycleEventCodec.encode({
      vmId: 'hello',
      kind: 'LIFECYCLE_POWEROFF',
      exitCode: 3,
      reason: 'guest wrote 0x3333 to sifive_test',
      source: 'io-backend',
      at: 1764000000000.5,
    });
    const ev = LifecycleEventCodec.decode(bytes);
    expect(ev).toEqual({
      vmId: 'hello',
      kind: 'LIFECYCLE_POWEROFF',
      exitCode: 3,
      reason: 'guest wrote 0x3333 to sifive_test',
      source: 'io-backend',
      at: 1764000000000.5,
    });
  });

  it('round-trips console bytes, including non-UTF-8 bytes', () => {
    const data = Buffer.from([0x48, 0x00, 0xff, 0x0a]);
    const out = ConsoleOutputCodec.decode(ConsoleOutputCodec.encode({ vmId: 'v', data }));
    expect(Buffer.from(out.data)).toEqual(data);
  });

  it('round-trips a doorbell with a 64-bit address and sequence number', () => {
    const msg = { vmId: 'net0', vcpu: 0, addr: 0x10008050, value: 1, seq: 2 ** 40 + 7 };
    expect(DoorbellCodec.decode(DoorbellCodec.encode(msg))).toEqual(msg);
  });

  it('fills defaults for fields the sender left out', () => {
    const ev = LifecycleEventCodec.decode(LifecycleEventCodec.encode({ vmId: 'v' }));
    expect(ev.kind).toBe('LIFECYCLE_UNSPECIFIED');
    expect(ev.exitCode).toBe(0);
    expect(ev.reason).toBe('');
  });

  it('names the type when bytes are garbage', () => {
    expect(() => LifecycleEventCodec.decode(Uint8Array.from([0xff, 0xff, 0xff]))).toThrow(MalformedPayloadError);
    expect(() => LifecycleEventCodec.decode(Uint8Array.from([0xff, 0xff, 0xff]))).toThrow(/malformed splitvisor\.events\.v1\.LifecycleEvent payload/);
  });

  it('refuses to encode a field of the wrong type', () => {
    expect(() => LifecycleEventCodec.encode({ vmId: 'v', exitCode: 'three' as unknown as number })).toThrow(
      /LifecycleEvent payload: exitCode: integer expected/,
    );
  });
});

describe('gRPC packages', () => {
  it('loads every service with its methods', () => {
    const p = protos();
    expect(Object.keys(p.io.IoBackend.service)).toEqual(expect.arrayContaining(['AttachVm', 'DetachVm', 'Mmio', 'PostWrites', 'Ping']));
    expect(Object.keys(p.mmu.Mmu.service)).toContain('FetchPages');
    expect(Object.keys(p.cpu.Cpu.service)).toContain('StartVm');
    expect(Object.keys(p.dom0.Dom0.service)).toContain('CreateVm');
    expect(Object.keys(p.health.Health.service)).toEqual(['Check', 'Watch']);
  });
});

describe('enum names', () => {
  it('refuses an unknown enum name, naming field and value', () => {
    expect(() => LifecycleEventCodec.encode({ vmId: 'v', kind: 'LIFECYCLE_EXPLODED' as never })).toThrow(/kind: unknown enum name LIFECYCLE_EXPLODED/);
  });
});
