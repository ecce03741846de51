export * from './addresses.js';
export * from './machine.js';
export * from './latency.js';
export * from './page-state.js';
export * from './vm-id.js';
export * from './exit-reasons.js';
export * from './modes.js';
export * from './engines.js';
