export {
  createLogger,
  recordingLogger,
  silentLogger,
  type LogLine,
  type LogFields,
  type LogFormat,
  type LogLevel,
  type Logger,
  type LoggerOptions,
} from './logger.js';
export { REDACTED, SecretValues, isSecretKey, redactValue } from './redact.js';
