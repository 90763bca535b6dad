// The producer role: decodes jobs' inputs (s3:// objects streamed by storage) into frame chunks.

import type { ProducerRoleConfig } from "@vdet/config";
import { type Stage, startProducer } from "@vdet/pipeline";
import { StorageResolver } from "@vdet/storage";
import { ALL_INPUT_KINDS } from "@vdet/video";
import type { Logger } from "pino";
import { connect, type RunningRole, runningRole } from "./connections.ts";

export function startProducerRole(config: ProducerRoleConfig, logger: Logger): RunningRole {
  const c = connect(config, logger);
  const storage = new StorageResolver();
  const stage: Stage = startProducer({
    transport: c.transport,
    jobStore: c.jobStore,
    framesPerChunk: config.framesPerChunk,
    maxFramesInFlight: config.maxFramesInFlight,
    segmentFrames: config.segmentFrames,
    maxSegmentsInFlight: config.maxSegmentsInFlight,
    // Workers read re-readable inputs by themselves: s3:// objects through presigned URLs (HTTP ranges).
    segmentInput: (input) => storage.readableUrl(input),
    maxQueuedChunks: config.maxQueuedChunks,
    frameTtlSeconds: config.frameTtlSeconds,
    concurrency: config.concurrency,
    limits: {
      maxWidth: config.maxWidth,
      maxHeight: config.maxHeight,
      maxFrames: config.maxFrames,
      maxDurationSeconds: config.maxDurationSeconds,
      maxInputBytes: config.maxInputBytes,
    },
    inputTimeoutMs: config.inputTimeoutMs,
    // s3:// inputs arrive as streams; local paths only where the deployment allows them (one machine).
    allowedInputKinds: config.allowFileInputs ? ALL_INPUT_KINDS : ALL_INPUT_KINDS.filter((k) => k !== "file"),
    openInput: async (input) => storage.openInput(input),
    inputSizeBytes: (input) => storage.inputSizeBytes(input),
    models: c.models,
    logger,
  });
  logger.info({ role: "producer" }, "producer started");
  return runningRole(c.redis, [stage, c, storage]);
}
