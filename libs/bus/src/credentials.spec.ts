import { describe, expect, it } from 'vitest';
import { withCredentials } from './bus.js';

describe('NATS URLs with credentials', () => {
  it('takes user and password out of the URL, for the client options', () => {
    expect(withCredentials('nats://cpu:s3cr%40t@127.0.0.1:4222')).toEqual({ servers: 'nats://127.0.0.1:4222', user: 'cpu', pass: 's3cr@t' });
    expect(withCredentials('nats://127.0.0.1:4222')).toEqual({ servers: 'nats://127.0.0.1:4222' });
  });
});
