import { PassThrough } from 'node:stream';
import { createLogger, type Logger } from '@splitvisor/log';

/** A logger that writes nowhere unless SPLITVISOR_TEST_LOG=1. */
export function silentLogger(service = 'test'): Logger {
  if (process.env['SPLITVISOR_TEST_LOG'] === '1') return createLogger({ service, level: 'debug', pretty: false });
  return createLogger({ service, level: 'silent', destination: new PassThrough() });
}
