// A worker's frame queue in front of its one model runner: frames of every chunk and job wait here, and each time
// the runner is free the φ policy picks the next batch — its φ and frames (earliest deadline first) — from what
// waits. One batch runs at a time, as on one accelerator, so the profile's timings hold. Every run's time goes back
// into the profile, so predictions follow the machine as it is now.

import type { PostprocessOptions } from "@vdet/effdet";
import { metrics } from "@vdet/metrics";
import type { Detections, PhiValue, RgbImage } from "@vdet/protocol";
import {
  type BatchDecision,
  type DecisionReason,
  type LatencyProfile,
  type PendingFrame,
  PhiPolicy,
  type PhiPolicyOptions,
} from "@vdet/scheduler";
import type { ModelProvider } from "./models.ts";

export interface ScheduledFrame extends PendingFrame {
  frame: RgbImage;
  options: PostprocessOptions;
}

export interface ScheduledResult {
  detections: Detections<Float32Array>;
  phi: PhiValue;
  /** Deadline minus the time the detections were ready, ms (negative: missed); latency frames only. */
  slackMs?: number;
  reason: DecisionReason;
}

export interface BatchRecord {
  phi: PhiValue;
  size: number;
  ms: number;
  reason: DecisionReason;
  predictedMs: number | undefined;
}

export interface FrameSchedulerOptions {
  models: ModelProvider;
  profile: LatencyProfile;
  maxBatch: number;
  /** Longest wait for a fuller batch, counted from the oldest waiting frame's arrival, ms. */
  maxDelayMs: number;
  policy?: Omit<PhiPolicyOptions, "maxBatch">;
  /** Epoch ms (deadlines are epoch ms); injectable for tests. */
  now?: () => number;
  onBatch?: (batch: BatchRecord) => void;
}

interface Waiting extends ScheduledFrame {
  arrivedAtMs: number;
  resolve: (result: ScheduledResult) => void;
  reject: (error: unknown) => void;
}

export class FrameScheduler {
  readonly policy: PhiPolicy;
  /** The batches run so far (bounded: the last 10 000). */
  readonly batches: BatchRecord[] = [];
  private readonly queue: Waiting[] = [];
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => number;

  constructor(private readonly options: FrameSchedulerOptions) {
    if (!(options.maxBatch >= 1)) throw new RangeError("maxBatch must be at least 1");
    this.policy = new PhiPolicy(options.profile, { ...options.policy, maxBatch: options.maxBatch });
    this.now = options.now ?? Date.now;
  }

  get waiting(): number {
    return this.queue.length;
  }

  submit(frame: ScheduledFrame): Promise<ScheduledResult> {
    return new Promise((resolve, reject) => {
      const now = this.now();
      if (Number.isFinite(frame.deadlineMs)) this.policy.noteArrival(now);
      this.queue.push({ ...frame, arrivedAtMs: now, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    if (this.queue.length < this.options.maxBatch) {
      if (this.timer) return;
      // Wait a little for a fuller batch, counted from the oldest frame's arrival (not from the last batch's end).
      let oldest = Number.POSITIVE_INFINITY;
      for (const w of this.queue) oldest = Math.min(oldest, w.arrivedAtMs);
      const waitMs = oldest + this.options.maxDelayMs - this.now();
      if (waitMs > 0) {
        this.timer = setTimeout(() => {
          this.timer = null;
          void this.runBatch();
        }, waitMs);
        return;
      }
    }
    void this.runBatch();
  }

  private async runBatch(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    let batch: Waiting[] = [];
    try {
      const decision: BatchDecision = this.policy.decide(this.queue, this.now());
      metrics.phiDecision(decision.reason);
      const chosen = new Set(decision.frames);
      batch = decision.frames.map((i) => this.queue[i]);
      const rest = this.queue.filter((_, i) => !chosen.has(i));
      this.queue.splice(0, this.queue.length, ...rest);
      const tightest = Math.min(...batch.map((w) => w.deadlineMs)) - this.now();
      if (Number.isFinite(tightest)) metrics.slack(tightest, "batch");
      // Loading a model (first use of a φ) is not inference time: it stays out of the profile.
      const detector = await this.options.models.detector(decision.phi);
      const started = performance.now();
      const detections = await detector.detect(
        batch.map((w) => w.frame),
        batch.map((w) => w.options),
      );
      const ms = performance.now() - started;
      this.options.profile.observe(decision.phi, batch.length, ms, decision.precision);
      const record: BatchRecord = {
        phi: decision.phi,
        size: batch.length,
        ms,
        reason: decision.reason,
        predictedMs: decision.predictedMs,
      };
      this.batches.push(record);
      if (this.batches.length > 10_000) this.batches.splice(0, this.batches.length - 10_000);
      this.options.onBatch?.(record);
      const doneMs = this.now();
      batch.forEach((w, i) => {
        w.resolve({
          detections: detections[i],
          phi: decision.phi,
          slackMs: Number.isFinite(w.deadlineMs) ? w.deadlineMs - doneMs : undefined,
          reason: decision.reason,
        });
      });
    } catch (error) {
      for (const w of batch) w.reject(error);
      // A decision that failed before taking frames (it should not) must not leave the queue stuck.
      if (batch.length === 0) for (const w of this.queue.splice(0)) w.reject(error);
    } finally {
      this.running = false;
      this.schedule();
    }
  }
}
