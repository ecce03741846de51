import { describe, expect, it } from 'vitest';
import { withCredentials } from './bus.js';

describe('NATS URLs with credentials', () => {
  it('takes user and password out of the URL, for the client options', () => {
    expect(withCredentials('nats://cpu:s3cr%40t@127.0.0.1:4222')).toEqual({ servers: 'nats://127.0.0.1:4222', user: 'cpu', pass: 's3cr@t' });
    expect(withCredentials('nats://127.0.0.1:4222')).toEqual({ servers: 'nats://127.0.0.1:4222' });
  });

  it("takes a cluster's servers from a comma-separated list, the credentials from the URL that has them", () => {
    expect(withCredentials('nats://cpu:pw@10.0.0.1:4222, nats://10.0.0.2:4222,nats://10.0.0.3:4222')).toEqual({
      servers: ['nats://10.0.0.1:4222', 'nats://10.0.0.2:4222', 'nats://10.0.0.3:4222'],
      user: 'cpu',
      pass: 'pw',
    });
    expect(withCredentials('nats://a:1,nats://b:2')).toEqual({ servers: ['nats://a:1', 'nats://b:2'] });
  });
});
