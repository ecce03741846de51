// Shared test harness: real NATS, real services as child processes, teardown that leaves
// no process or port behind.
export { startTestNats, dockerEngineLikely, type TestNats } from './nats.js';
export { startTestLab, type TestLab } from './lab.js';
export { silentLogger } from './log.js';
export { Lab, freePort, isListening, makeLabPki, NATS_PASSWORD_FILE, REPO_ROOT, CLI_MAIN, type ServiceName } from '@splitvisor/lab';
export { until } from './until.js';
export { file, qemuSystem, requireOrSkip, tool, type AllowMissing, type Requirement, type SkipFn } from './require.js';
