// The aggregator process: configuration from VDET_* environment variables, runs until SIGTERM.
import {
  aggregatorConfigSchema,
  createLogger,
  describeConfig,
  loadConfig,
  runUntilSignal,
  startAggregatorRole,
} from "@vdet/roles";

const config = loadConfig(aggregatorConfigSchema, process.env);
const logger = createLogger("aggregator", config.logLevel);
logger.info({ config: describeConfig(config) }, "configuration");
await runUntilSignal(startAggregatorRole(config, logger), logger);
