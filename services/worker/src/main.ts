// The worker process: configuration from VDET_* environment variables, runs until SIGTERM.
import {
  createLogger,
  describeConfig,
  loadConfig,
  runUntilSignal,
  startWorkerRole,
  workerConfigSchema,
} from "@vdet/roles";

const config = loadConfig(workerConfigSchema, process.env);
const logger = createLogger("worker", config.logLevel);
logger.info({ config: describeConfig(config) }, "configuration");
await runUntilSignal(await startWorkerRole(config, logger), logger);
