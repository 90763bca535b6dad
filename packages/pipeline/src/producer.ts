// Producer stage: takes queued jobs, probes and decodes the input with ffmpeg, letterboxes each sampled frame
// to the square resolution of the largest φ the job allows, stores the pixels (with a TTL) and queues small
// chunk messages for the workers. Decoding pauses while the job has too many frames in flight. Each queued chunk
// moves the job's producer checkpoint; a producer that gets the job again after a crash decodes the input from
// the start and queues only the frames after the checkpoint (or fails the job when the input is a live stream).

import { PRODUCER_DEFAULTS } from "@vdet/config";
import { getConfig } from "@vdet/effdet";
import { VdetError } from "@vdet/errors";
import { type JobStore, jobClassIds, type ModelRegistry } from "@vdet/jobs";
import { metrics } from "@vdet/metrics";
import {
  type FrameChunk,
  type FrameRef,
  isTerminal,
  type JobEvent,
  type JobRecord,
  parsePhi,
  type VideoSummary,
} from "@vdet/protocol";
import type { Consumer, Transport } from "@vdet/transport";
import {
  decodeFrames,
  type InputKind,
  type NetworkOptions,
  probeVideo,
  redactUrl,
  type VideoInfo,
  type VideoInput,
} from "@vdet/video";
import { PIPELINE_ERRORS } from "./error-codes.ts";
import {
  checkDecodedDuration,
  checkInputSize,
  checkProbedInput,
  type InputLimits,
  limitInputBytes,
} from "./input-limits.ts";
import { letterboxFor, padToSquare } from "./letterbox.ts";
import { type StageLogger, silentLogger } from "./logger.ts";
import { canReadAgain } from "./preview.ts";

export interface ProducerConfig {
  transport: Transport;
  jobStore: JobStore;
  /** Turns a job's input string into something ffmpeg reads (s3:// → a stream); default: as given. */
  openInput?: (input: string) => Promise<VideoInput>;
  /** Size of an input that `openInput` streams (an S3 object), checked against limits.maxInputBytes first. */
  inputSizeBytes?: (input: string) => Promise<number | undefined>;
  framesPerChunk?: number;
  /** A partial chunk is queued once its first frame has waited this long (live sources), ms. */
  maxChunkDelayMs?: number;
  /** Decoding of a job pauses while more of its frames than this are queued and not yet inferred. */
  maxFramesInFlight?: number;
  /** Decoding of every job pauses while the frame queue holds more than this many chunks (Redis memory). */
  maxQueuedChunks?: number;
  frameTtlSeconds?: number;
  /** Jobs decoded at the same time by this producer. */
  concurrency?: number;
  limits?: InputLimits;
  /** A probe that gives no answer, or a decode that makes no progress, for this long fails the job (ms). */
  inputTimeoutMs?: number;
  /**
   * Checks a job's input before anything opens it (the roles pass @vdet/input-policy's InputPolicy.checkInput:
   * buckets, real-path roots, addresses); a throw fails the job with its message. Default: no check.
   */
  checkInput?: (input: string) => Promise<void>;
  /** How ffmpeg reaches http(s) inputs (the roles pass the input policy's proxy); default: directly. */
  network?: NetworkOptions;
  /** Input kinds this producer reads (default: all); `["url", "hls", "rtsp", "stream"]` never opens local files. */
  allowedInputKinds?: readonly InputKind[];
  /** What the workers run per φ: a job's `classes` names become ids by its models' labels (default: COCO). */
  models?: ModelRegistry;
  logger?: StageLogger;
}

export interface Stage {
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function startProducer(config: ProducerConfig): Stage {
  const log = config.logger ?? silentLogger;
  const consumer: Consumer = config.transport.jobs.consume(
    async ({ jobId }) => {
      const job = await config.jobStore.get(jobId);
      if (!job) {
        log.warn({ jobId, stage: "producer" }, "job not found; dropping request");
        return;
      }
      // Redelivered after the job ended (a producer crashed after its last step): nothing to do.
      if (isTerminal(job.state)) return;
      if (job.cancelRequested) {
        // Cancelled while queued (or before a redelivery): nothing more is decoded; the aggregator ends it.
        const resume = await config.jobStore.producerCheckpoint(job.id);
        log.info({ jobId, stage: "producer" }, "cancelled before decoding");
        await endDecoding(job, config, {
          frames: resume?.nextFrame ?? 0,
          chunks: resume?.chunks ?? 0,
          video: job.video,
          error: null,
          cancelled: true,
        });
        return;
      }
      await produceJob(job, config, log);
    },
    { concurrency: config.concurrency ?? PRODUCER_DEFAULTS.concurrency },
  );
  return { close: () => consumer.close() };
}

async function produceJob(job: JobRecord, config: ProducerConfig, log: StageLogger): Promise<void> {
  const { transport, jobStore } = config;
  const spec = job.spec;
  // A latency job's frames must not wait for chunk-mates: each frame is its own chunk (workers still batch them).
  const framesPerChunk =
    spec.mode === "latency" ? 1 : (config.framesPerChunk ?? PRODUCER_DEFAULTS.framesPerChunk);
  const maxChunkDelayMs = config.maxChunkDelayMs ?? PRODUCER_DEFAULTS.maxChunkDelayMs;
  let firstPendingAtMs = 0;
  const maxInFlight = config.maxFramesInFlight ?? PRODUCER_DEFAULTS.maxFramesInFlight;
  const ttl = config.frameTtlSeconds ?? PRODUCER_DEFAULTS.frameTtlSeconds;
  const side = getConfig(parsePhi(spec.phi.max)).imageSize;
  const abort = new AbortController();
  const fields = { jobId: job.id, stage: "producer" };

  await jobStore.setState(job.id, "running");
  // Frames a crashed producer already queued: decoded again from the input but not queued again.
  const resume = await jobStore.producerCheckpoint(job.id);
  const resumeFrom = resume?.nextFrame ?? 0;
  let info: VideoInfo | null = null;
  let decoded = resumeFrom;
  let chunks = resume?.chunks ?? 0;
  let error: string | null = null;
  let cancelled = false;
  let pending: FrameRef[] = [];
  let classes: number[] | undefined;

  const flush = async (letterbox: ReturnType<typeof letterboxFor>) => {
    if (pending.length === 0) return;
    const chunk: FrameChunk = {
      jobId: job.id,
      chunk: chunks,
      frames: pending,
      size: side,
      letterbox,
      phi: spec.phi,
      mode: spec.mode,
      latencyBudgetMs: spec.latencyBudgetMs,
      scoreThreshold: spec.scoreThreshold,
      classes,
      priority: spec.priority,
      enqueuedAtMs: Date.now(),
      target: spec.throughput
        ? {
            framesPerSecond: spec.throughput.framesPerSecond,
            finishByMs: spec.throughput.finishBy ? Date.parse(spec.throughput.finishBy) : undefined,
          }
        : undefined,
    };
    await transport.frames.add(chunk, { id: `${job.id}-${chunks}`, priority: spec.priority });
    // After the add: a crash between the two queues this chunk again under the same id (a duplicate the
    // aggregator drops), never a frame that the checkpoint skips but no chunk holds.
    await jobStore.commitChunk(job.id, pending.length, {
      chunks: chunks + 1,
      nextFrame: pending[pending.length - 1].index + 1,
    });
    metrics.framesQueued(pending.length);
    chunks++;
    pending = [];
  };

  try {
    // Before the input is opened: a class the job's model does not have fails the job at once.
    if (spec.classes) classes = jobClassIds(spec.classes, (await config.models?.read()) ?? {}, spec.phi);
    const limits = config.limits ?? {};
    const openRaw = config.openInput ?? (async (input: string) => input);
    const open = async (input: string) => limitInputBytes(await openRaw(input), limits.maxInputBytes);
    const display = /^[A-Za-z][A-Za-z0-9+.-]+:/.test(spec.input) ? redactUrl(spec.input) : spec.input;
    if (resume) {
      if (!canReadAgain(spec.input)) {
        throw new VdetError(
          PIPELINE_ERRORS.INPUT_CHANGED,
          `the producer restarted after queueing ${resumeFrom} frames, and ${display} is a live stream that cannot be read again from there; the job ends with the frames already queued`,
        );
      }
      log.warn({ ...fields, resumeFrom, chunks }, "resuming after a producer restart");
    }
    const kinds = config.allowedInputKinds;
    await config.checkInput?.(spec.input);
    if (config.inputSizeBytes && limits.maxInputBytes !== undefined) {
      checkInputSize(await config.inputSizeBytes(spec.input), limits.maxInputBytes, display);
    }
    info = await probeVideo(await open(spec.input), {
      signal: abort.signal,
      timeoutMs: config.inputTimeoutMs,
      allowedKinds: kinds,
      network: config.network,
    });
    checkProbedInput(info, spec, limits, display);
    const letterbox = letterboxFor(info.width, info.height, side);
    await jobStore.setVideo(job.id, videoSummary(info));
    log.info({ ...fields, width: info.width, height: info.height, fps: info.fps, side }, "decoding");
    const frames = decodeFrames(await open(spec.input), {
      sampling: spec.sampling,
      size: { width: letterbox.contentWidth, height: letterbox.contentHeight },
      signal: abort.signal,
      maxWidth: limits.maxWidth,
      maxHeight: limits.maxHeight,
      maxFrames: limits.maxFrames,
      stallTimeoutMs: config.inputTimeoutMs,
      allowedKinds: kinds,
      network: config.network,
    });
    let seen = 0;
    for await (const frame of frames) {
      seen = frame.index + 1;
      if (frame.index < resumeFrom) continue;
      if (spec.maxFrames !== undefined && decoded >= spec.maxFrames) break; // reached before the restart
      checkDecodedDuration(frame.ptsSeconds, limits, display);
      const key = `${job.id}/${frame.index}`;
      await transport.frameStore.put(key, padToSquare(frame.data, frame.width, frame.height, side), ttl);
      const ptsMs = Number.isFinite(frame.ptsSeconds) ? Math.round(frame.ptsSeconds * 1e6) / 1e3 : 0;
      if (pending.length === 0) firstPendingAtMs = Date.now();
      pending.push({ index: frame.index, ptsMs, key });
      decoded++;
      metrics.framesDecoded();
      const reachedLimit = spec.maxFrames !== undefined && decoded >= spec.maxFrames;
      // A slow (live) source flushes a partial chunk rather than holding frames back.
      const waitedTooLong = Date.now() - firstPendingAtMs >= maxChunkDelayMs;
      if (pending.length >= framesPerChunk || reachedLimit || waitedTooLong) {
        await flush(letterbox);
        const state = await waitForCapacity(
          job.id,
          jobStore,
          maxInFlight,
          transport,
          config.maxQueuedChunks ?? PRODUCER_DEFAULTS.maxQueuedChunks,
        );
        if (state === "cancelled") {
          cancelled = true;
          abort.abort();
          break;
        }
      }
      if (reachedLimit) break; // leaving the loop stops ffmpeg
    }
    await flush(letterbox);
    if (seen < resumeFrom && !cancelled) {
      throw new VdetError(
        PIPELINE_ERRORS.INPUT_CHANGED,
        `the producer restarted after queueing ${resumeFrom} frames, but ${display} now gives only ${seen}: the input changed`,
      );
    }
  } catch (err) {
    if (!cancelled) {
      error = err instanceof Error ? err.message : String(err);
      metrics.error("producer", err instanceof Error ? err.name : "unknown");
      log.error({ ...fields, err: error, decoded }, "decoding failed");
      await jobStore.addError(job.id, { stage: "producer", message: error });
      // Frames decoded before the failure are already queued; the job still accounts for them.
      if (pending.length > 0 && info) await flush(letterboxFor(info.width, info.height, side));
    }
  }
  await endDecoding(job, config, {
    frames: decoded,
    chunks,
    video: info ? videoSummary(info) : null,
    error,
    cancelled,
  });
  log.info({ ...fields, frames: decoded, chunks, cancelled }, "decoded");
}

/** Records the job's frame count and tells the aggregator that no more chunks will come. */
async function endDecoding(
  job: JobRecord,
  { transport, jobStore }: ProducerConfig,
  end: {
    frames: number;
    chunks: number;
    video: VideoSummary | null;
    error: string | null;
    cancelled: boolean;
  },
): Promise<void> {
  await jobStore.setTotal(job.id, end.frames);
  const event: JobEvent = {
    type: "decoded",
    jobId: job.id,
    totalFrames: end.frames,
    chunks: end.chunks,
    video: end.video,
    error: end.error,
    cancelled: end.cancelled,
  };
  await transport.events.add(event, { id: `${job.id}-decoded` });
}

function videoSummary(info: VideoInfo): VideoSummary {
  return {
    width: info.width,
    height: info.height,
    fps: info.fps ?? null,
    durationMs: info.durationSeconds === undefined ? null : Math.round(info.durationSeconds * 1000),
    codec: info.codec,
  };
}

/**
 * Waits while the job has more than `max` frames decoded but not yet inferred (fair share: a long job cannot fill
 * the queue) or the frame queue as a whole holds more than `maxChunks` chunks (Redis memory); reports a cancel.
 */
async function waitForCapacity(
  jobId: string,
  store: JobStore,
  max: number,
  transport: Transport,
  maxChunks: number,
): Promise<"ok" | "cancelled"> {
  for (;;) {
    const job = await store.get(jobId);
    if (!job || job.cancelRequested) return "cancelled";
    const inFlight = job.progress.decoded - job.progress.inferred - job.progress.failed;
    if (inFlight <= max && (await transport.frames.counts()).waiting <= maxChunks) return "ok";
    await sleep(25);
  }
}
