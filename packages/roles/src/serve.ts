// Running one role as a process: read its configuration (environment, then flags), log it with secrets masked,
// start it, and keep it running until SIGTERM/SIGINT. Shared by services/* and the `vdet <role>` commands.

import { enableProcessMetrics, startMetricsServer } from "@vdet/metrics";
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
  checkRoleRedis,
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
  /** The role's own GET /metrics server (not the api, which serves /metrics itself); 0: none. */
  let metricsPort = 0;
  let common: Parameters<typeof checkRoleRedis>[0];
  switch (role) {
    case "api": {
      const config = loadConfig(apiConfigSchema, process.env, flags);
      healthPort = config.healthPort;
      [described, logLevel, start] = [
        describeConfig(config),
        config.logLevel,
        (l) => startApiRole(config, l),
      ];
      common = config;
      break;
    }
    case "producer": {
      const config = loadConfig(producerConfigSchema, process.env, flags);
      healthPort = config.healthPort;
      metricsPort = config.metricsPort;
      [described, logLevel, start] = [
        describeConfig(config),
        config.logLevel,
        (l) => startProducerRole(config, l),
      ];
      common = config;
      break;
    }
    case "worker": {
      const config = loadConfig(workerConfigSchema, process.env, flags);
      healthPort = config.healthPort;
      metricsPort = config.metricsPort;
      [described, logLevel, start] = [
        describeConfig(config),
        config.logLevel,
        (l) => startWorkerRole(config, l),
      ];
      common = config;
      break;
    }
    case "aggregator": {
      const config = loadConfig(aggregatorConfigSchema, process.env, flags);
      healthPort = config.healthPort;
      metricsPort = config.metricsPort;
      [described, logLevel, start] = [
        describeConfig(config),
        config.logLevel,
        (l) => startAggregatorRole(config, l),
      ];
      common = config;
      break;
    }
  }
  const logger = createLogger(role, logLevel);
  logger.info({ config: described }, "configuration");
  // A wrong password or TLS setting fails here with one clear error instead of endless reconnect warnings.
  await checkRoleRedis(common);
  enableProcessMetrics();
  const metrics = metricsPort === 0 ? null : await startMetricsServer({ port: metricsPort });
  if (metrics) logger.info({ url: `${metrics.url}/metrics` }, "metrics served");
  const running = await start(logger);
  const health = healthPort === undefined ? null : await startHealthServer(running, healthPort);
  if (health) logger.info({ port: health.port }, "health server listening (/healthz, /readyz)");
  await runUntilSignal(
    {
      close: async () => {
        health?.markStopping();
        await running.close();
        await health?.close();
      },
    },
    logger,
  );
  await metrics?.close();
}
