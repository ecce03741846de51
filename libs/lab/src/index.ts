export { Lab, NATS_PASSWORD_FILE, type LabOptions, type LabSecurity, type ServiceProcess } from './lab.js';
export { INSECURE_LAB_WARNING } from './insecure.js';
export { makeLabPki, newLabId, LAB_IDENTITIES, type LabPki, type LabPkiOptions } from './pki.js';
export { NATS_PERMISSIONS, NODE_REGISTRY, natsPasswordsFor, writeNatsAuthConfig } from './nats-auth.js';
export { startNatsServer, findNatsServer, type NatsServerHandle, type NatsServerOptions } from './nats-server.js';
export { freePort, isListening, waitForPort } from './ports.js';
export { DEFAULT_PORTS, SERVICE_ENV, SERVICE_ORDER, REPO_ROOT, CLI_MAIN, serviceMain, serviceOf, type InstanceName, type ServiceName } from './services.js';
export { Backoff, DEFAULT_RESTART_POLICY, checkRestartPolicy, type RestartPolicy } from './restart-policy.js';
export { Supervisor, describeExit, type ExitInfo, type ServiceStatus, type SupervisorEvent, type SupervisorOptions } from './supervisor.js';
