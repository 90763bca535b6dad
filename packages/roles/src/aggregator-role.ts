// The aggregator role: orders, tracks and writes results to job outputs (sinks resolved by storage).

import type { AggregatorRoleConfig } from "@vdet/config";
import { RedisAggregatorCheckpoints } from "@vdet/jobs";
import { type JobOutputFactory, openSinkOutput, startAggregator } from "@vdet/pipeline";
import { StorageResolver } from "@vdet/storage";
import type { Logger } from "pino";
import { connect, type RunningRole, runningRole } from "./connections.ts";

function outputs(storage: StorageResolver, tracksPartBytes: number): JobOutputFactory {
  return async (_jobId, location, resume, files) =>
    openSinkOutput(await storage.openSink(location), { resume, tracksPartBytes, files });
}

export function startAggregatorRole(config: AggregatorRoleConfig, logger: Logger): RunningRole {
  // The heartbeat names the jobs the stage holds work of (it starts before the stage: none yet).
  let held: (() => string[]) | undefined;
  const c = connect(config, logger, { kind: "aggregator", jobs: () => held?.() ?? [] });
  const storage = new StorageResolver({ outputRoots: config.outputRoots });
  const stage = startAggregator({
    transport: c.transport,
    jobStore: c.jobStore,
    openOutput: outputs(storage, config.tracksPartBytes),
    openInput: async (input) => storage.openInput(input),
    models: c.models,
    checkpoints: new RedisAggregatorCheckpoints(c.redis, c.transport.keys),
    logger,
  });
  held = () => stage.jobs?.() ?? [];
  logger.info({}, "aggregator started");
  return runningRole(c.redis, [stage, c, storage]);
}
