// The api process: configuration from VDET_* environment variables, runs until SIGTERM.
import {
  apiConfigSchema,
  createLogger,
  describeConfig,
  loadConfig,
  runUntilSignal,
  startApiRole,
} from "@vdet/roles";

const config = loadConfig(apiConfigSchema, process.env);
const logger = createLogger("api", config.logLevel);
logger.info({ config: describeConfig(config) }, "configuration");
await runUntilSignal(await startApiRole(config, logger), logger);
