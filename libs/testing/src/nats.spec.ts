import { describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { dockerEngineLikely, startTestNats } from './index.js';

describe('test NATS', () => {
  it('is a real server a client can publish through, gone after stop', async () => {
    const nats = await startTestNats();
    // Where an engine may answer, the container is tried first and the binary is the fallback.
    expect(nats.kind).toEqual(dockerEngineLikely() ? expect.stringMatching(/^(container|binary)$/) : 'binary');
    const nc = await connect({ servers: nats.url });
    const sub = nc.subscribe('t.x', { max: 1 });
    nc.publish('t.x', 'ping');
    for await (const m of sub) expect(m.string()).toBe('ping');
    await nc.close();
    await nats.stop();
    await expect(connect({ servers: nats.url, timeout: 500, reconnect: false })).rejects.toThrow();
  });
});
