export { Lab, type LabOptions, type LabSecurity, type ServiceProcess } from './lab.js';
export { makeLabPki, LAB_IDENTITIES } from './pki.js';
export { NATS_PERMISSIONS, writeNatsAuthConfig } from './nats-auth.js';
export { startNatsServer, findNatsServer, type NatsServerHandle, type NatsServerOptions } from './nats-server.js';
export { freePort, isListening, waitForPort } from './ports.js';
export { DEFAULT_PORTS, SERVICE_ENV, SERVICE_ORDER, REPO_ROOT, CLI_MAIN, serviceMain, serviceOf, type InstanceName, type ServiceName } from './services.js';
