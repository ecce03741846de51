export {
  runService,
  commonOptions,
  natsUrlWithPassword,
  type ServiceDefinition,
  type ServiceContext,
  type RunningService,
  type CommonConfig,
} from './service.js';
export { parseConfig, parsers, usage, ConfigError, type OptionSpec, type OptionSpecs } from './config.js';
export { ACCESS } from './access.js';
export { followFaults, specOf } from './faults.js';
