// The producer's path for live inputs (HLS, RTSP) whose frames travel as recorded segments: @vdet/video's
// recordLive remuxes the stream (-c copy, ≈1 s or one GOP per segment), each segment's bytes go to the frame store
// with a TTL (or, configured, to the S3 segment store: RecordedSegmentStore) and a small descriptor to the segment
// queue; workers decode it as they decode a file's segment.
// Latency starts at capture: a segment's clock (enqueuedAtMs) is when its first frame was captured, so its
// frames' deadline includes the wait for the segment to be complete.
// When the source drops, stalls or ends unexpectedly, the recorder reconnects with capped exponential backoff and
// jitter (the job's `reconnect`, defaults LIVE_DEFAULTS.reconnect) and records the hole as a gap; the new
// connection's timeline continues the old one, shifted by the wall-clock time lost, so frame indices stay
// contiguous and ptsMs increasing. Back-pressure: while the job has maxSegmentsInFlight segments queued and not
// reported, recording waits on a blocking pop (JobStore.waitForCapacity), never on a timer.

import { Readable } from "node:stream";
import { LIVE_DEFAULTS } from "@vdet/config";
import type { JobStore } from "@vdet/jobs";
import { metrics } from "@vdet/metrics";
import { isTerminal, type JobRecord, type SegmentWork, type VideoSummary } from "@vdet/protocol";
import type { Transport } from "@vdet/transport";
import {
  type InputKind,
  type NetworkOptions,
  probeVideo,
  type RecordTimeline,
  recordLive,
} from "@vdet/video";
import { letterboxFor } from "./letterbox.ts";
import { LiveConnection, type StreamEventSink } from "./live-connection.ts";
import type { StageLogger } from "./logger.ts";
import { framePtsMs } from "./segments.ts";
import { type DecodingEnd, videoSummary, workFields } from "./work-fields.ts";

/**
 * Where recorded segments wait for a worker when not in the frame store (@vdet/storage's S3SegmentStore,
 * VDET_LIVE_SEGMENT_STORE): Redis then carries only the descriptors.
 */
export interface RecordedSegmentStore {
  /** Stores a segment's bytes; returns its s3:// URI, which the descriptor carries. */
  put(jobId: string, name: string, bytes: Uint8Array): Promise<string>;
}

/** What the live recorder needs of the producer's configuration. */
export interface LiveRecordingConfig {
  transport: Transport;
  jobStore: JobStore;
  inputTimeoutMs?: number;
  allowedInputKinds?: readonly InputKind[];
  network?: NetworkOptions;
  /** Recorded segment length, seconds (default LIVE_DEFAULTS.segmentSeconds). */
  liveSegmentSeconds?: number;
  /** Time to live of a recorded segment in the frame store, seconds. */
  liveSegmentTtlSeconds?: number;
  /** Recording of a job waits while this many of its segments are queued and not reported. */
  maxLiveSegmentsInFlight?: number;
  /** Where live jobs with `notify` send their stream events (the producer role passes its Notifier); default: none. */
  streamEvents?: StreamEventSink;
  /** Recorded segments go here (S3) instead of the frame store (Redis, with liveSegmentTtlSeconds). */
  liveSegmentStore?: RecordedSegmentStore;
}

export interface LiveRecordingContext {
  job: JobRecord;
  classes: number[] | undefined;
  /** The φ range's largest square side: frames are letterboxed into it. */
  side: number;
  display: string;
  log: StageLogger;
}

/** Records a live job until its stream ends, it gives up reconnecting, reaches maxFrames, or is cancelled. */
export async function recordLiveJob(
  config: LiveRecordingConfig,
  context: LiveRecordingContext,
): Promise<DecodingEnd> {
  const { job, log } = context;
  const { spec } = job;
  const { transport, jobStore } = config;
  const fields = { jobId: job.id, stage: "producer" };
  const segmentSeconds = config.liveSegmentSeconds ?? LIVE_DEFAULTS.segmentSeconds;
  const ttl = config.liveSegmentTtlSeconds ?? LIVE_DEFAULTS.segmentTtlSeconds;
  const maxInFlight = config.maxLiveSegmentsInFlight ?? LIVE_DEFAULTS.maxSegmentsInFlight;
  const cap = spec.maxFrames ?? Number.POSITIVE_INFINITY;
  const abort = new AbortController();

  let video: VideoSummary | null = null;
  let units = 0;
  let frames = 0;
  let error: string | null = null;
  let cancelled = false;
  const live = new LiveConnection(job, jobStore, log, config.streamEvents);
  await live.start();

  /** Where the next connection's timeline continues; undefined until a frame was recorded. */
  let next: RecordTimeline | undefined;
  /** When the last segment arrived, epoch ms. */
  let lastArrivedAtMs = 0;

  try {
    for (;;) {
      // A reconnect's timeline starts after the wall-clock time lost since the last segment arrived.
      const connectedAtMs = Date.now();
      const timeline: RecordTimeline | undefined =
        next === undefined
          ? undefined
          : { ...next, startMs: next.startMs + Math.max(0, connectedAtMs - lastArrivedAtMs) };
      let recorded = 0;
      let failure: unknown;
      let stoppedByUs = false;
      try {
        for await (const segment of recordLive(spec.input, {
          sampling: spec.sampling,
          segmentSeconds,
          signal: abort.signal,
          stallTimeoutMs: config.inputTimeoutMs,
          allowedKinds: config.allowedInputKinds,
          network: config.network,
          // A reconnect joins an HLS stream at its newest segment: at most one segment repeats what was recorded.
          ...(timeline === undefined ? {} : { timeline, liveStartIndex: -1 }),
          onGap: (gap) => live.addGap(gap),
        })) {
          recorded += 1;
          lastArrivedAtMs = segment.arrivedAtMs;
          if (recorded === 1) {
            // Each connection's first segment: the video may differ after a reconnect (a camera restarted).
            const info = await probeVideo(Readable.from([segment.bytes]), {
              timeoutMs: config.inputTimeoutMs,
            });
            video = videoSummary(info);
            await jobStore.setVideo(job.id, video);
            // In the frame lines' own ms (framePtsMs), so the gap's bounds compare exactly with the lines' ptsMs.
            await live.connected(
              next === undefined ? undefined : framePtsMs(next.startMs / 1000),
              framePtsMs(segment.startPtsMs / 1000),
              connectedAtMs,
            );
          }
          next = segment.next;
          const descriptor = segment.descriptor;
          if (descriptor === undefined || video === null) continue; // nothing sampled in this segment
          const count = Math.min(descriptor.frameCount, cap - descriptor.firstIndex);
          if (count <= 0) break;
          for (;;) {
            const room = await jobStore.waitForCapacity(job.id, maxInFlight - 1, 30_000);
            if (room.cancelled) {
              cancelled = true;
              break;
            }
            if (room.inFlight < maxInFlight) break;
          }
          if (cancelled) break;
          const unit = units;
          let source: SegmentWork["source"];
          if (config.liveSegmentStore) {
            const uri = await config.liveSegmentStore.put(job.id, `live-${unit}.ts`, segment.bytes);
            source = { kind: "object", uri };
          } else {
            const key = `${job.id}/live-${unit}`;
            await transport.frameStore.put(key, segment.bytes, ttl);
            source = { kind: "stored", key };
          }
          const work: SegmentWork = {
            jobId: job.id,
            segment: unit,
            source,
            firstIndex: descriptor.firstIndex,
            frames: count,
            startPtsMs: descriptor.startMs,
            endPtsMs: descriptor.endMs,
            plan: { ...descriptor, sequence: unit },
            size: context.side,
            letterbox: letterboxFor(video.width, video.height, context.side),
            ...workFields(spec, context.classes),
            // Latency starts at capture: the segment's first frame was captured about its duration before the
            // segment was complete.
            enqueuedAtMs: segment.arrivedAtMs - segment.durationMs,
            capture: {
              atMs: segment.arrivedAtMs - segment.durationMs,
              ptsMs: segment.startPtsMs,
              clock: "arrival",
            },
          };
          await transport.segments.add(work, { id: `${job.id}-s${unit}`, priority: spec.priority });
          await jobStore.commitChunk(job.id, count, {
            chunks: unit + 1,
            nextFrame: descriptor.firstIndex + count,
          });
          metrics.framesQueued(count);
          units = unit + 1;
          frames = descriptor.firstIndex + count;
          if (frames >= cap) break;
        }
        stoppedByUs = cancelled || frames >= cap;
      } catch (err) {
        failure = err;
      }
      if (stoppedByUs) break;
      if ((await jobStore.get(job.id))?.cancelRequested) {
        cancelled = true;
        break;
      }
      const then = await live.ended(failure, next?.startMs, lastArrivedAtMs);
      if (then === "stop") break;
      if (then !== "reconnect") throw then.error;
    }
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
    metrics.error("producer", err instanceof Error ? err.name : "unknown");
    log.error({ ...fields, err: error, frames }, "recording failed");
    await jobStore.addError(job.id, { stage: "producer", message: error });
  } finally {
    abort.abort();
    await live.stop(error ?? undefined);
  }
  return { frames, chunks: units, video, error, cancelled, gaps: live.gaps };
}

/** A segment store that can remove what ended jobs left behind and what outlived its time to live. */
export interface SweepableSegmentStore {
  sweep(
    running: (jobId: string) => Promise<boolean>,
    ttlSeconds: number,
  ): Promise<{ ended: number; expired: number; kept: number }>;
}

/**
 * The producer's clean-up of the S3 segment store (S3 lifecycle rules expire objects only daily, and cannot be
 * set everywhere): every `intervalMs`, the segments of ended (or unknown) jobs and any older than the live
 * segment TTL are deleted. `sweep()` runs one pass now.
 */
export function startSegmentSweeper(options: {
  store: SweepableSegmentStore;
  jobStore: JobStore;
  ttlSeconds?: number;
  intervalMs?: number;
  log?: StageLogger;
}): { sweep(): Promise<{ ended: number; expired: number; kept: number }>; close(): Promise<void> } {
  const ttl = options.ttlSeconds ?? LIVE_DEFAULTS.segmentTtlSeconds;
  const running = async (jobId: string) => {
    const job = await options.jobStore.get(jobId);
    return job !== null && !isTerminal(job.state);
  };
  let pass: Promise<unknown> = Promise.resolve();
  const sweep = async () => {
    const result = await options.store.sweep(running, ttl);
    if (result.ended + result.expired > 0)
      options.log?.info({ stage: "producer", ...result }, "segment store swept");
    return result;
  };
  const timer = setInterval(
    () => {
      pass = sweep().catch((error: unknown) =>
        options.log?.warn(
          { stage: "producer", err: error instanceof Error ? error.message : String(error) },
          "segment store sweep failed; the next one tries again",
        ),
      );
    },
    options.intervalMs ?? Math.min(60_000, (ttl * 1000) / 2),
  );
  timer.unref();
  return {
    sweep,
    close: async () => {
      clearInterval(timer);
      await pass;
    },
  };
}
