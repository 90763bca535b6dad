// The api role: the HTTP server over the deployment's Redis, job outputs and inputs resolved by storage.

import { buildServer } from "@vdet/api";
import { type ApiRoleConfig, ConfigError } from "@vdet/config";
import { RedisNotificationStore, readRoleLiveness } from "@vdet/jobs";
import { StorageResolver } from "@vdet/storage";
import type { Logger } from "pino";
import { startBacklogPublisher } from "./backlog-metric.ts";
import { connect, type RunningRole } from "./connections.ts";
import { inputPolicyFor } from "./input-policy.ts";

export async function startApiRole(
  config: ApiRoleConfig,
  logger: Logger,
): Promise<RunningRole & { url: string }> {
  if (!config.token && !config.noAuth) {
    throw new ConfigError(
      "set VDET_API_TOKEN (or --token); run without authentication only with --no-auth in local setups",
    );
  }
  if (config.noAuth && !["127.0.0.1", "::1", "localhost"].includes(config.host)) {
    throw new ConfigError(
      `--no-auth (VDET_API_NO_AUTH) is for local setups: it needs VDET_API_HOST=127.0.0.1, not ${config.host}; set VDET_API_TOKEN to listen on other addresses`,
    );
  }
  const c = connect(config, logger, { kind: "api" });
  const storage = new StorageResolver({ outputRoots: config.outputRoots });
  const app = await buildServer({
    transport: c.transport,
    jobStore: c.jobStore,
    models: c.models,
    token: config.noAuth ? null : config.token!,
    allowFileInputs: config.allowFileInputs,
    inputPolicy: inputPolicyFor(config),
    allowDirectoryOutputs: config.allowDirectoryOutputs,
    allowedOutputBuckets: config.allowedOutputBuckets,
    outputRoots: config.outputRoots,
    maxActiveJobs: config.maxActiveJobs,
    bodyLimitBytes: config.bodyLimitBytes,
    requestTimeoutMs: config.requestTimeoutMs,
    connectionTimeoutMs: config.connectionTimeoutMs,
    keepAliveTimeoutMs: config.keepAliveTimeoutMs,
    ready: async () => {
      await c.redis.ping();
    },
    roleLiveness: () => readRoleLiveness(c.redis, c.transport.keys),
    notifications: new RedisNotificationStore(c.redis, c.transport.keys),
    openOutput: (location) => storage.openSink(location),
    openVideo: (input) => storage.openObject(input),
  });
  const url = await app.listen({ host: config.host, port: config.port });
  logger.info({ url }, "api listening");
  const publisher = config.cloudwatchNamespace
    ? startBacklogPublisher({
        transport: c.transport,
        namespace: config.cloudwatchNamespace,
        deployment: config.prefix,
        intervalMs: config.metricsIntervalSeconds * 1000,
        logger,
      })
    : undefined;
  return {
    url,
    close: async () => {
      await publisher?.close();
      await app.close();
      await c.close();
      storage.close();
    },
  };
}
