// The aggregator role: orders, tracks and writes results to job outputs (sinks resolved by storage), and tells a
// job's notify targets when it ends (@vdet/notify; webhooks through the same address policy as inputs).

import type { AggregatorRoleConfig } from "@vdet/config";
import { RedisAggregatorCheckpoints } from "@vdet/jobs";
import { notifyJobEnds } from "@vdet/notify";
import { type JobOutputFactory, openSinkOutput, startAggregator } from "@vdet/pipeline";
import { StorageResolver } from "@vdet/storage";
import type { Logger } from "pino";
import { connect, type RunningRole, runningRole } from "./connections.ts";
import { roleNotifier } from "./notifier.ts";

function outputs(storage: StorageResolver, tracksPartBytes: number): JobOutputFactory {
  return async (_jobId, location, resume, layout) =>
    openSinkOutput(await storage.openSink(location), { resume, tracksPartBytes, layout });
}

export function startAggregatorRole(config: AggregatorRoleConfig, logger: Logger): RunningRole {
  // The heartbeat names the jobs the stage holds work of (it starts before the stage: none yet).
  let held: (() => string[]) | undefined;
  const c = connect(config, logger, { kind: "aggregator", jobs: () => held?.() ?? [] });
  const storage = new StorageResolver({ outputRoots: config.outputRoots });
  const notifier = roleNotifier(config, c.redis, c.transport.keys, logger);
  // What a stopped aggregator had not delivered yet (at-least-once).
  notifier.resume().then(
    (n) => n > 0 && logger.info({ pending: n }, "re-sending undelivered notifications"),
    (error) => logger.warn({ err: (error as Error).message }, "notification outbox not read"),
  );
  const stage = startAggregator({
    transport: c.transport,
    jobStore: c.jobStore,
    openOutput: outputs(storage, config.tracksPartBytes),
    openInput: async (input) => storage.openInput(input),
    models: c.models,
    checkpoints: new RedisAggregatorCheckpoints(c.redis, c.transport.keys),
    logger,
    onJobFinished: notifyJobEnds(notifier, c.jobStore, logger),
  });
  held = () => stage.jobs?.() ?? [];
  logger.info({}, "aggregator started");
  return runningRole(c.redis, [stage, notifier, c, storage]);
}
