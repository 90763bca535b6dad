// Running one role as a process: read its configuration (environment, then flags), log it with secrets masked,
// start it, and keep it running until SIGTERM/SIGINT. Shared by services/* and the `vdet <role>` commands.

import {
  aggregatorConfigSchema,
  apiConfigSchema,
  describeConfig,
  loadConfig,
  producerConfigSchema,
  workerConfigSchema,
} from "@vdet/config";
import { enableProcessMetrics, startMetricsServer } from "@vdet/metrics";
import type { Logger } from "pino";
import type { z } from "zod";
import { startAggregatorRole } from "./aggregator-role.ts";
import { startApiRole } from "./api-role.ts";
import { checkRoleRedis, type RunningRole } from "./connections.ts";
import { startHealthServer } from "./health.ts";
import { createLogger } from "./logging.ts";
import { startProducerRole } from "./producer-role.ts";
import { runUntilSignal } from "./run-until-signal.ts";
import { startWorkerRole } from "./worker-role.ts";

/** What every role's configuration has (the common settings of @vdet/config's role schemas). */
type RoleConfig = Record<string, unknown> &
  Parameters<typeof checkRoleRedis>[0] & { logLevel: string; healthPort?: number; metricsPort?: number };

interface RoleEntry {
  load(flags: Record<string, unknown>): RoleConfig;
  start(config: RoleConfig, logger: Logger): Promise<RunningRole> | RunningRole;
}

function role<S extends z.ZodObject>(
  schema: S,
  start: (config: z.output<S>, logger: Logger) => Promise<RunningRole> | RunningRole,
): RoleEntry {
  return {
    load: (flags) => loadConfig(schema, process.env, flags) as RoleConfig,
    start: (config, logger) => start(config as z.output<S>, logger),
  };
}

/**
 * The roles: a configuration schema and a start function each. The api serves /metrics itself, so its schema
 * has no metricsPort and it gets no separate metrics server.
 */
const ROLES = {
  api: role(apiConfigSchema, startApiRole),
  producer: role(producerConfigSchema, startProducerRole),
  worker: role(workerConfigSchema, startWorkerRole),
  aggregator: role(aggregatorConfigSchema, startAggregatorRole),
};

export type RoleName = keyof typeof ROLES;

export async function serveRole(name: RoleName, flags: Record<string, unknown> = {}): Promise<void> {
  const entry = ROLES[name];
  const config = entry.load(flags);
  const logger = createLogger(name, config.logLevel);
  logger.info({ config: describeConfig(config) }, "configuration");
  // A wrong password or TLS setting fails here with one clear error instead of endless reconnect warnings.
  await checkRoleRedis(config);
  enableProcessMetrics();
  const metricsPort = config.metricsPort ?? 0;
  const metrics = metricsPort === 0 ? null : await startMetricsServer({ port: metricsPort });
  if (metrics) logger.info({ url: `${metrics.url}/metrics` }, "metrics served");
  const running = await entry.start(config, logger);
  const health = config.healthPort === undefined ? null : await startHealthServer(running, config.healthPort);
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
