export { configFromFlags, driverFlags, parseDriverArgs, type DriverConfig } from './config.js';
export { startDriver, type DriverOverrides, type RunningDriver } from './daemon.js';
export { DriverError, driverErrorCodes } from './errors.js';
export { DriverMetrics } from './metrics.js';
export { VolumePublisher, type PublishOutcome, type PublishRequest } from './publish/publisher.js';
export { DRIVER_VERSION, buildInfo } from './version.js';
export {
  publishOnce,
  type PublishOnceFile,
  type PublishOnceOptions,
  type PublishOnceReport,
} from './standalone/once.js';
