export { createLogger, vmLogger, parseLogLevel, LOG_LEVELS, type Logger, type LoggerOptions } from './logger.js';
