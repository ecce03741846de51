// @splitvisor/dom0: the control plane. Its face is the service definition that main.ts runs
// (and the `splitvisor` bin, built from cli/main.ts); nothing imports this package.
export { dom0Service, type Dom0Config } from './service.js';
