// Running one role as a process: read its configuration (environment, then flags), log it with secrets masked,
// start it, and keep it running until SIGTERM/SIGINT. Shared by services/* and the `vdet <role>` commands.

import {
  aggregatorConfigSchema,
  apiConfigSchema,
  describeConfig,
  loadConfig,
  producerConfigSchema,
  workerConfigSchema,
} from "./config.ts";
import { startHealthServer } from "./health.ts";
import { createLogger } from "./logging.ts";
import {
  type RunningRole,
  runUntilSignal,
  startAggregatorRole,
  startApiRole,
  startProducerRole,
  startWorkerRole,
} from "./start.ts";

export type RoleName = "api" | "producer" | "worker" | "aggregator";

export async function serveRole(role: RoleName, flags: Record<string, unknown> = {}): Promise<void> {
  let start: (logger: ReturnType<typeof createLogger>) => Promise<RunningRole> | RunningRole;
  let described: Record<string, unknown>;
  let logLevel: string;
  let healthPort: number | undefined;
  switch (role) {
    case "api": {
      const config = loadConfig(apiConfigSchema, process.env, flags);
      healthPort = config.healthPort;
      [described, logLevel, start] = [
        describeConfig(config),
        config.logLevel,
        (l) => startApiRole(config, l),
      ];
      break;
    }
    case "producer": {
      const config = loadConfig(producerConfigSchema, process.env, flags);
      healthPort = config.healthPort;
      [described, logLevel, start] = [
        describeConfig(config),
        config.logLevel,
        (l) => startProducerRole(config, l),
      ];
      break;
    }
    case "worker": {
      const config = loadConfig(workerConfigSchema, process.env, flags);
      healthPort = config.healthPort;
      [described, logLevel, start] = [
        describeConfig(config),
        config.logLevel,
        (l) => startWorkerRole(config, l),
      ];
      break;
    }
    case "aggregator": {
      const config = loadConfig(aggregatorConfigSchema, process.env, flags);
      healthPort = config.healthPort;
      [described, logLevel, start] = [
        describeConfig(config),
        config.logLevel,
        (l) => startAggregatorRole(config, l),
      ];
      break;
    }
  }
  const logger = createLogger(role, logLevel);
  logger.info({ config: described }, "configuration");
  const running = await start(logger);
  if (healthPort === undefined) return runUntilSignal(running, logger);
  const health = await startHealthServer(running, healthPort);
  logger.info({ port: health.port }, "health server listening (/healthz, /readyz)");
  await runUntilSignal(
    {
      close: async () => {
        health.markStopping();
        await running.close();
        await health.close();
      },
    },
    logger,
  );
}
