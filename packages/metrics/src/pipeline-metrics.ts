// The metric objects of the pipeline stages, with a small API per stage so call sites stay one line.
// Names follow Prometheus conventions: vdet_ prefix, _total for counters, base units (_seconds) in names.
// Labels stay low-cardinality: stage, queue, state, φ, batch size, error kind — never a job id.

import { Counter, Gauge, Histogram } from "prom-client";
import { registry } from "./registry.ts";

const registers = [registry];
const seconds = (ms: number) => ms / 1000;

/** Frames through each stage: decoded, queued (producer), inferred (model runs), written, failed, skipped (aggregator). */
export const framesTotal = new Counter({
  name: "vdet_frames_total",
  help: "Sampled frames that passed a pipeline stage (decoded, queued, inferred, written, failed, skipped)",
  labelNames: ["stage"] as const,
  registers,
});

// Every stage's series exists from the start (at 0), so rates and sums work before the first frame.
for (const stage of ["decoded", "queued", "inferred", "written", "failed", "skipped"])
  framesTotal.inc({ stage }, 0);

export const batchSize = new Histogram({
  name: "vdet_batch_size",
  help: "Frames per inference batch",
  labelNames: ["phi"] as const,
  buckets: [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64],
  registers,
});

export const inferenceSeconds = new Histogram({
  name: "vdet_inference_seconds",
  help: "Model run time of one batch, by φ and batch size",
  labelNames: ["phi", "batch_size"] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers,
});

export const chunkSeconds = new Histogram({
  name: "vdet_chunk_seconds",
  help: "Time a frame chunk spent queued (enqueue to first frame handed to the batcher) and being computed (batcher wait + model), as reported by the worker",
  labelNames: ["phase"] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  registers,
});

export const deadlineSlackSeconds = new Histogram({
  name: "vdet_deadline_slack_seconds",
  help: "Latency budget left when a frame's detections were ready (negative: missed), latency jobs only",
  labelNames: ["where"] as const,
  buckets: [-10, -1, -0.5, -0.25, -0.1, -0.05, 0, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
  registers,
});

export const deadlineMissesTotal = new Counter({
  name: "vdet_deadline_misses_total",
  help: "Frames of latency jobs whose detections were ready after their deadline",
  registers,
});

export const phiFramesTotal = new Counter({
  name: "vdet_phi_frames_total",
  help: "Frames run at each φ (the φ chosen per batch)",
  labelNames: ["phi"] as const,
  registers,
});

export const phiLast = new Gauge({
  name: "vdet_phi_chosen",
  help: "φ of the latest batch (7x reported as 8)",
  registers,
});

export const trackerSeconds = new Histogram({
  name: "vdet_tracker_update_seconds",
  help: "Tracker update time per frame",
  buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
  registers,
});

export const sinkSeconds = new Histogram({
  name: "vdet_sink_write_seconds",
  help: "Time of writes to a job's output (append tracks, put a file, finish tracks.jsonl)",
  labelNames: ["operation"] as const,
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
  registers,
});

export const errorsTotal = new Counter({
  name: "vdet_errors_total",
  help: "Errors by stage and kind (error class or reason)",
  labelNames: ["stage", "kind"] as const,
  registers,
});

export const jobsTotal = new Counter({
  name: "vdet_jobs_total",
  help: "Jobs submitted (api) and finished by final state (aggregator)",
  labelNames: ["event"] as const,
  registers,
});

export const phiDecisionsTotal = new Counter({
  name: "vdet_phi_decisions_total",
  help: "Batches the φ policy formed, by reason: deadline (largest φ that fits), late, squeezed, unprofiled, archive",
  labelNames: ["reason"] as const,
  registers,
});

export const liveReconnectsTotal = new Counter({
  name: "vdet_live_reconnects_total",
  help: "Reconnects of live inputs (HLS, RTSP), by why the connection ended: dropped, stalled, ended",
  labelNames: ["reason"] as const,
  registers,
});

export const liveGapSeconds = new Counter({
  name: "vdet_live_gap_seconds_total",
  help: "Stream time of live inputs lost to reconnects (gaps between one connection's last frame and the next one's first)",
  registers,
});

export const liveConnections = new Gauge({
  name: "vdet_live_connections",
  help: "Live inputs read by this producer, by connection state (connecting, live, reconnecting)",
  labelNames: ["state"] as const,
  registers,
});

/** Turns a φ ("0"…"7", "7x", or a number) into a label value. */
const phiLabel = (phi: number | string) => String(phi);
const phiNumber = (phi: number | string) => (String(phi) === "7x" ? 8 : Number(phi));

/** Calls for each stage; every method is cheap and safe to call on any path. */
export const metrics = {
  framesDecoded: (n = 1) => framesTotal.inc({ stage: "decoded" }, n),
  framesQueued: (n: number) => framesTotal.inc({ stage: "queued" }, n),
  framesInferred: (n: number) => framesTotal.inc({ stage: "inferred" }, n),
  framesWritten: (n: number) => framesTotal.inc({ stage: "written" }, n),
  framesFailed: (n: number) => framesTotal.inc({ stage: "failed" }, n),
  /** Frames the overload policy skipped before inference (written to tracks.jsonl as skipped). */
  framesSkipped: (n: number) => framesTotal.inc({ stage: "skipped" }, n),

  /** One model run: its φ, batch size and compute time. Counts the batch's frames as inferred. */
  observeBatch({
    phi,
    batchSize: size,
    computeMs,
  }: {
    phi: number | string;
    batchSize: number;
    computeMs: number;
  }) {
    batchSize.observe({ phi: phiLabel(phi) }, size);
    inferenceSeconds.observe({ phi: phiLabel(phi), batch_size: String(size) }, seconds(computeMs));
    framesTotal.inc({ stage: "inferred" }, size);
  },

  /** The φ chosen for a batch of `frames` frames (the φ policy's decision). */
  phiChosen(phi: number | string, frames: number) {
    phiFramesTotal.inc({ phi: phiLabel(phi) }, frames);
    phiLast.set(phiNumber(phi));
  },

  /** Why the φ policy chose a batch's φ (late and squeezed batches run the smallest φ to catch up). */
  phiDecision: (reason: string) => phiDecisionsTotal.inc({ reason }),

  /** A chunk's time in the queue and in compute (from the worker's measurements), ms. */
  observeChunk({ queueMs, computeMs }: { queueMs: number; computeMs: number }) {
    chunkSeconds.observe({ phase: "queue" }, seconds(queueMs));
    chunkSeconds.observe({ phase: "compute" }, seconds(computeMs));
  },

  /**
   * Slack of a frame against its deadline, ms (negative: late). `where` says when it was measured:
   * "batch" when the worker forms a batch (the φ decision), "done" when the detections are ready.
   * A "done" slack below zero counts as a deadline miss.
   */
  slack(slackMs: number, where: "batch" | "done" = "done") {
    deadlineSlackSeconds.observe({ where }, seconds(slackMs));
    if (where === "done" && slackMs < 0) deadlineMissesTotal.inc();
  },
  /** Deadline misses counted by the caller itself (when it does not report "done" slack). */
  deadlineMiss: (n = 1) => deadlineMissesTotal.inc(n),

  trackerUpdate: (ms: number) => trackerSeconds.observe(seconds(ms)),
  sinkWrite: (operation: "append" | "put" | "finish", ms: number) =>
    sinkSeconds.observe({ operation }, seconds(ms)),

  /** An error: `kind` is a short stable name (error class, "inference", "expired_frame", …). */
  error: (stage: string, kind: string) => errorsTotal.inc({ stage, kind }),

  /** A live input's connection moved from one state to another (undefined: it starts or ends). */
  liveConnection(from: string | undefined, to: string | undefined) {
    if (from !== undefined && from !== "stopped") liveConnections.dec({ state: from });
    if (to !== undefined && to !== "stopped") liveConnections.inc({ state: to });
  },
  /** A live input reconnected after losing `gapMs` of stream time. */
  liveReconnect(reason: string, gapMs: number) {
    liveReconnectsTotal.inc({ reason });
    liveGapSeconds.inc(seconds(Math.max(0, gapMs)));
  },

  jobSubmitted: () => jobsTotal.inc({ event: "submitted" }),
  jobFinished: (state: string) => jobsTotal.inc({ event: state }),
};

/** Milliseconds since `startMs` (performance.now()), for timing a call: `const t = performance.now(); …`. */
export const since = (startMs: number) => performance.now() - startMs;
