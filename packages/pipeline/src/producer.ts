// Producer stage. Re-readable inputs (files, s3:// objects, http(s) files): a planner — it indexes the input
// (@vdet/video indexVideo: stream info and every frame's pts and keyframe flag, demux only), cuts the sampled
// frames into segments (planSegments) and queues one small descriptor per segment; workers decode their own
// segments. It decodes nothing. While the job has `maxSegmentsInFlight` segments queued and not reported it waits
// on a blocking pop (JobStore.waitForCapacity), never on a timer.
// Other inputs (live streams, stdin, inputs that cannot be cut frame-exactly): it decodes with ffmpeg,
// letterboxes each sampled frame to the square resolution of the largest φ the job allows, stores the pixels
// (with a TTL) and queues chunks of frame references. Each queued unit moves the job's producer checkpoint; a
// producer that gets the job again after a crash queues only the units after it (or fails the job when the
// input is a live stream).

import { LIVE_DEFAULTS, PRODUCER_DEFAULTS } from "@vdet/config";
import { getConfig } from "@vdet/effdet";
import { VdetError } from "@vdet/errors";
import { encodeJpeg } from "@vdet/image";
import { type Capacity, type JobStore, jobClassIds, type ModelRegistry } from "@vdet/jobs";
import { metrics } from "@vdet/metrics";
import {
  type FrameChunk,
  type FrameEncoding,
  type FrameRef,
  type Gap,
  isTerminal,
  type JobEvent,
  type JobRecord,
  type JobSpec,
  type LiveTransport,
  parsePhi,
  type SegmentWork,
} from "@vdet/protocol";
import type { Consumer, Transport } from "@vdet/transport";
import {
  decodeFrames,
  type InputKind,
  indexVideo,
  type NetworkOptions,
  planSegments,
  probeVideo,
  redactUrl,
  type VideoInfo,
  type VideoInput,
  VideoInputRejectedError,
  VideoNotIndexableError,
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
import { LiveConnection, reconnectingFrames } from "./live-connection.ts";
import { chooseLiveTransport } from "./live-policy.ts";
import { type LiveRecordingConfig, recordLiveJob } from "./live-recording.ts";
import { type StageLogger, silentLogger } from "./logger.ts";
import { canReadAgain } from "./preview.ts";
import { defaultSegmentInput, framePtsMs, type SegmentInputResolver } from "./segments.ts";
import { type DecodingEnd, videoSummary, workFields } from "./work-fields.ts";

export interface ProducerConfig extends LiveRecordingConfig {
  transport: Transport;
  /** How live inputs' frames reach the workers when a job's spec does not say (default: by its latency budget). */
  liveTransport?: LiveTransport;
  /** JPEG quality of the low-latency path's frames (default LIVE_DEFAULTS.jpegQuality). */
  jpegQuality?: number;
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
  /**
   * Where a worker reads a re-readable input by itself (a path, an http(s) URL; s3:// → a presigned URL), or
   * null for inputs that are not segmented. Default: s3:// → null, anything else as given.
   */
  segmentInput?: SegmentInputResolver;
  /** Segment the re-readable inputs (default true); false: every input is decoded here (frame chunks). */
  segments?: boolean;
  /**
   * Sampled frames per segment, and seconds of video per segment: a segment ends at whichever comes first. Given,
   * they apply to every job; by default latency jobs get PRODUCER_DEFAULTS.segmentFrames/segmentSeconds and archive
   * jobs the larger archiveSegmentFrames/archiveSegmentSeconds (fewer Redis commands per frame).
   */
  segmentFrames?: number;
  segmentSeconds?: number;
  /** Planning of a job waits while this many of its segments are queued and not reported. */
  maxSegmentsInFlight?: number;
  /** What the workers run per φ: a job's `classes` names become ids by its models' labels (default: COCO). */
  models?: ModelRegistry;
  logger?: StageLogger;
}

export interface Stage {
  close(): Promise<void>;
  /** The jobs this stage holds work of now (published in the role's heartbeat). */
  jobs?(): string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function startProducer(config: ProducerConfig): Stage {
  const log = config.logger ?? silentLogger;
  const held = new Map<string, number>();
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
      held.set(job.id, (held.get(job.id) ?? 0) + 1);
      try {
        await produceJob(job, config, log);
      } finally {
        const left = (held.get(job.id) ?? 1) - 1;
        if (left > 0) held.set(job.id, left);
        else held.delete(job.id);
      }
    },
    { concurrency: config.concurrency ?? PRODUCER_DEFAULTS.concurrency },
  );
  return { close: () => consumer.close(), jobs: () => [...held.keys()] };
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
  const gaps: Gap[] = [];
  const display = /^[A-Za-z][A-Za-z0-9+.-]+:/.test(spec.input) ? redactUrl(spec.input) : spec.input;
  // Live inputs on the low-latency path send JPEG frames unless raw pixels were asked for; other inputs that are
  // decoded here (stdin, inputs not cut into segments) send raw pixels.
  const live = !canReadAgain(spec.input);
  const encoding: FrameEncoding = live && liveTransportOf(spec, config) === "jpeg" ? "jpeg" : "raw";
  let pendingCapturedAtMs = 0;
  let liveConnection: LiveConnection | undefined;
  const jpegQuality = config.jpegQuality ?? LIVE_DEFAULTS.jpegQuality;

  const flush = async (letterbox: ReturnType<typeof letterboxFor>) => {
    if (pending.length === 0) return;
    const chunk: FrameChunk = {
      jobId: job.id,
      chunk: chunks,
      frames: pending,
      size: side,
      ...(encoding === "jpeg" ? { encoding } : {}),
      letterbox,
      ...workFields(spec, classes),
      ...(live
        ? { capture: { atMs: pendingCapturedAtMs, ptsMs: pending[0].ptsMs, clock: "arrival" as const } }
        : {}),
      enqueuedAtMs: Date.now(),
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
    const planned = await planJob(job, config, log, { resumeFrom, segmentsBefore: chunks, classes, display });
    if (planned) {
      await endDecoding(job, config, planned);
      log.info({ ...fields, frames: planned.frames, segments: planned.chunks }, "planned");
      return;
    }
    if (!canReadAgain(spec.input) && liveTransportOf(spec, config) === "segments") {
      const recorded = await recordLiveJob(config, { job, classes, side, display, log });
      await endDecoding(job, config, recorded);
      log.info({ ...fields, frames: recorded.frames, segments: recorded.chunks }, "recorded");
      return;
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
    const recordGap = (gap: Gap) => {
      gaps.push(gap);
      metrics.error("producer", "gap");
      log.warn({ ...fields, ...gap }, "gap in the input");
      void jobStore
        .addError(job.id, {
          stage: "producer",
          message: `gap ${(gap.fromMs / 1000).toFixed(3)}–${(gap.toMs / 1000).toFixed(3)} s: ${gap.reason}${gap.detail ? ` (${gap.detail})` : ""}`,
        })
        .catch(() => {});
    };
    const decode = async (onGap: (gap: Gap) => void) =>
      decodeFrames(await open(spec.input), {
        sampling: spec.sampling,
        size: { width: letterbox.contentWidth, height: letterbox.contentHeight },
        signal: abort.signal,
        maxWidth: limits.maxWidth,
        maxHeight: limits.maxHeight,
        maxFrames: limits.maxFrames,
        stallTimeoutMs: config.inputTimeoutMs,
        allowedKinds: kinds,
        network: config.network,
        onGap,
      });
    // A live input reconnects when it drops (its gaps then live in liveConnection); others decode once.
    if (live) {
      liveConnection = new LiveConnection(job, jobStore, log, config.streamEvents);
      await liveConnection.start();
    }
    const frames =
      liveConnection === undefined
        ? await decode(recordGap)
        : reconnectingFrames(
            liveConnection,
            decode,
            async () => (await jobStore.get(job.id))?.cancelRequested ?? true,
          );
    let seen = 0;
    for await (const frame of frames) {
      seen = frame.index + 1;
      if (frame.index < resumeFrom) continue;
      if (spec.maxFrames !== undefined && decoded >= spec.maxFrames) break; // reached before the restart
      checkDecodedDuration(frame.ptsSeconds, limits, display);
      const key = `${job.id}/${frame.index}`;
      const stored =
        encoding === "jpeg"
          ? encodeJpeg({ width: frame.width, height: frame.height, data: frame.data }, jpegQuality)
          : padToSquare(frame.data, frame.width, frame.height, side);
      await transport.frameStore.put(key, stored, ttl);
      const ptsMs = framePtsMs(frame.ptsSeconds);
      if (pending.length === 0) {
        firstPendingAtMs = Date.now();
        // The frame just came out of the decoder: its arrival is its capture time (the clock the chunk carries).
        pendingCapturedAtMs = firstPendingAtMs;
      }
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
          Math.max(1, Math.ceil(maxInFlight / framesPerChunk)),
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
  await liveConnection?.stop(error ?? undefined);
  await endDecoding(job, config, {
    frames: decoded,
    chunks,
    video: info ? videoSummary(info) : null,
    error,
    cancelled,
    gaps: liveConnection?.gaps ?? gaps,
  });
  log.info({ ...fields, frames: decoded, chunks, cancelled }, "decoded");
}

/** How a live job's frames reach the workers: its spec, else this producer's setting, else by its budget. */
export function liveTransportOf(
  spec: JobSpec,
  config: Pick<ProducerConfig, "liveSegmentSeconds" | "liveTransport">,
): LiveTransport {
  return chooseLiveTransport({
    requested: spec.liveTransport ?? config.liveTransport,
    latencyBudgetMs: spec.mode === "latency" ? spec.latencyBudgetMs : undefined,
    segmentSeconds: config.liveSegmentSeconds,
  });
}

/**
 * The planner: indexes a re-readable input, cuts its sampled frames into segments and queues their descriptors,
 * waiting (blocking pop) while the job has too many in flight. Returns null when the input is not segmented
 * (live, a stream, not indexable frame-exactly): the caller decodes it itself. Errors after planning began end
 * the job's planning with the error (the segments already queued still count).
 */
async function planJob(
  job: JobRecord,
  config: ProducerConfig,
  log: StageLogger,
  context: { resumeFrom: number; segmentsBefore: number; classes: number[] | undefined; display: string },
): Promise<DecodingEnd | null> {
  if (config.segments === false || !canReadAgain(job.spec.input)) return null;
  const readable = await (config.segmentInput ?? defaultSegmentInput)(job.spec.input);
  if (readable === null) return null;
  const { spec } = job;
  const fields = { jobId: job.id, stage: "producer" };
  const limits = config.limits ?? {};
  const side = getConfig(parsePhi(spec.phi.max)).imageSize;
  let index: Awaited<ReturnType<typeof indexVideo>>;
  try {
    index = await indexVideo(readable, {
      timeoutMs: config.inputTimeoutMs,
      allowedKinds: config.allowedInputKinds,
      // The job's own http(s) inputs through the policy proxy; s3:// (presigned, the deployment's endpoint) direct.
      network: /^s3:\/\//i.test(job.spec.input) ? undefined : config.network,
    });
  } catch (error) {
    if (error instanceof VideoNotIndexableError || error instanceof VideoInputRejectedError) {
      log.info({ ...fields, reason: error.message }, "not segmented; decoding here");
      return null;
    }
    throw error;
  }
  const { info } = index;
  checkProbedInput(info, spec, limits, context.display);
  const video = videoSummary(info);
  await config.jobStore.setVideo(job.id, video);
  const letterbox = letterboxFor(info.width, info.height, side);
  const archive = spec.mode !== "latency";
  const plan = planSegments(index, {
    sampling: spec.sampling,
    segmentFrames:
      config.segmentFrames ??
      (archive ? PRODUCER_DEFAULTS.archiveSegmentFrames : PRODUCER_DEFAULTS.segmentFrames),
    segmentSeconds:
      config.segmentSeconds ??
      (archive ? PRODUCER_DEFAULTS.archiveSegmentSeconds : PRODUCER_DEFAULTS.segmentSeconds),
  });
  const cap = Math.min(spec.maxFrames ?? Number.POSITIVE_INFINITY, plan.sampledFrames);
  const lastPts = plan.segments.at(-1)?.endMs;
  if (lastPts !== undefined) checkDecodedDuration(lastPts / 1000, limits, context.display);
  const maxInFlight = config.maxSegmentsInFlight ?? PRODUCER_DEFAULTS.maxSegmentsInFlight;
  log.info(
    {
      ...fields,
      width: info.width,
      height: info.height,
      fps: info.fps,
      frames: cap,
      segments: plan.segments.length,
    },
    "planning segments",
  );
  let segments = context.segmentsBefore;
  let frames = context.resumeFrom;
  let room: Capacity | null = null;
  try {
    for (const planned of plan.segments) {
      if (planned.firstIndex >= cap) break;
      const count = Math.min(planned.frameCount, cap - planned.firstIndex);
      const end = planned.firstIndex + count;
      if (end <= context.resumeFrom) continue; // queued before a producer restart
      // The last commit said how many are in flight (and whether the job was cancelled): a blocking wait only
      // when the job is at its limit (and once at the start, before this run committed anything).
      while (room === null || (room.inFlight >= maxInFlight && !room.cancelled)) {
        room = await config.jobStore.waitForCapacity(job.id, maxInFlight - 1, 30_000);
      }
      if (room.cancelled) return { frames, chunks: segments, video, error: null, cancelled: true };
      const segment: SegmentWork = {
        jobId: job.id,
        segment: planned.sequence,
        source: { kind: "input", input: spec.input },
        firstIndex: planned.firstIndex,
        frames: count,
        startPtsMs: planned.startMs,
        endPtsMs: planned.endMs,
        plan: { ...planned },
        size: side,
        letterbox,
        ...workFields(spec, context.classes),
        enqueuedAtMs: Date.now(),
      };
      await config.transport.segments.add(segment, {
        id: `${job.id}-s${planned.sequence}`,
        priority: spec.priority,
      });
      // After the add, as with chunks: a crash in between queues the segment again under the same id.
      room = await config.jobStore.commitChunk(job.id, count, {
        chunks: planned.sequence + 1,
        nextFrame: end,
      });
      metrics.framesQueued(count);
      segments = planned.sequence + 1;
      frames = end;
    }
  } catch (error) {
    // The segments queued so far still count: the job ends with them and the error.
    const message = error instanceof Error ? error.message : String(error);
    metrics.error("producer", error instanceof Error ? error.name : "unknown");
    log.error({ ...fields, err: message, frames }, "planning failed");
    await config.jobStore.addError(job.id, { stage: "producer", message });
    return { frames, chunks: segments, video, error: message, cancelled: false };
  }
  return { frames, chunks: segments, video, error: null, cancelled: false };
}

/** Records the job's frame count and tells the aggregator that no more chunks will come. */
async function endDecoding(
  job: JobRecord,
  { transport, jobStore }: ProducerConfig,
  end: DecodingEnd,
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
    gaps: end.gaps ?? [],
  };
  await transport.events.add(event, { id: `${job.id}-decoded` });
}

/**
 * Waits while the job has more than `maxUnits` chunks queued and not yet reported (fair share: a long job cannot
 * fill the queue) — a blocking pop on the job's in-flight tokens (JobStore.waitForCapacity), no polling — and,
 * when the frame queue as a whole holds more than `maxChunks` chunks (Redis memory, other jobs' chunks), until one
 * of this job's chunks is reported (or for a second when it has none in flight). Reports a cancel.
 */
async function waitForCapacity(
  jobId: string,
  store: JobStore,
  maxUnits: number,
  transport: Transport,
  maxChunks: number,
): Promise<"ok" | "cancelled"> {
  for (;;) {
    const room = await store.waitForCapacity(jobId, maxUnits, 30_000);
    if (room.cancelled) return "cancelled";
    if (room.inFlight > maxUnits) continue;
    if ((await transport.frames.counts()).waiting <= maxChunks) return "ok";
    if (room.inFlight > 0) await store.waitForCapacity(jobId, room.inFlight - 1, 1000);
    else await sleep(1000);
  }
}
