// The producer process: configuration from VDET_* environment variables, runs until SIGTERM.
import {
  createLogger,
  describeConfig,
  loadConfig,
  producerConfigSchema,
  runUntilSignal,
  startProducerRole,
} from "@vdet/roles";

const config = loadConfig(producerConfigSchema, process.env);
const logger = createLogger("producer", config.logLevel);
logger.info({ config: describeConfig(config) }, "configuration");
await runUntilSignal(startProducerRole(config, logger), logger);
