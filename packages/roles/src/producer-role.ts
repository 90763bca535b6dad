// The producer role: decodes jobs' inputs (s3:// objects streamed by storage) into frame chunks, records live
// inputs, and sends live jobs' stream events to their notify targets (@vdet/notify, as the aggregator role does).

import type { ProducerRoleConfig } from "@vdet/config";
import { startInputProxy } from "@vdet/input-policy";
import { type Stage, startProducer, startSegmentSweeper } from "@vdet/pipeline";
import { S3SegmentStore, StorageResolver } from "@vdet/storage";
import { ALL_INPUT_KINDS } from "@vdet/video";
import type { Logger } from "pino";
import { connect, type RunningRole, runningRole } from "./connections.ts";
import { inputPolicyFor } from "./input-policy.ts";
import { roleNotifier } from "./notifier.ts";

export async function startProducerRole(config: ProducerRoleConfig, logger: Logger): Promise<RunningRole> {
  // Every input is checked against the input policy before it is opened, and ffmpeg reaches http(s) inputs only
  // through the policy's proxy, which checks and pins every connection, redirect and playlist segment. ffmpeg
  // bypasses a proxy for hosts in no_proxy, so this process has none.
  const policy = inputPolicyFor(config);
  const proxy = await startInputProxy(policy);
  if (process.env.no_proxy !== undefined || process.env.NO_PROXY !== undefined) {
    logger.warn(
      "no_proxy is ignored by the producer: ffmpeg reaches every input through the input policy's proxy",
    );
    delete process.env.no_proxy;
    delete process.env.NO_PROXY;
  }
  // The heartbeat names the jobs the stage holds work of (it starts before the stage: none yet).
  let held: (() => string[]) | undefined;
  const c = connect(config, logger, { kind: "producer", jobs: () => held?.() ?? [] });
  const storage = new StorageResolver();
  // Live jobs' stream events (state changes, gaps), sent as the aggregator sends job ends. An undelivered event
  // left in the outbox is re-sent by the next aggregator that starts.
  const notifier = roleNotifier(config, c.redis, c.transport.keys, logger);
  // Recorded live segments in S3 (Redis then carries only descriptors), swept of what ended jobs left behind.
  const segmentStore = config.liveSegmentStore
    ? new S3SegmentStore(config.liveSegmentStore, storage.s3Client())
    : undefined;
  const sweeper = segmentStore
    ? startSegmentSweeper({ store: segmentStore, jobStore: c.jobStore, log: logger })
    : undefined;
  const stage: Stage = startProducer({
    liveSegmentStore: segmentStore,
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
    checkInput: (input) => policy.checkInput(input),
    network: { httpProxy: proxy.url },
    openInput: async (input) => storage.openInput(input),
    inputSizeBytes: (input) => storage.inputSizeBytes(input),
    models: c.models,
    streamEvents: notifier,
    logger,
  });
  held = () => stage.jobs?.() ?? [];
  logger.info({}, "producer started");
  if (segmentStore) logger.info({ store: segmentStore.location }, "recorded live segments go to S3");
  return runningRole(c.redis, [stage, notifier, ...(sweeper ? [sweeper] : []), c, storage, proxy]);
}
