export * from './addresses.js';
export * from './machine.js';
