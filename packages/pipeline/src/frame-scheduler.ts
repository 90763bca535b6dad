// A worker's frame queue in front of its one model runner: frames of every chunk and job wait here, and each time
// the runner is free the φ policy picks the next batch — its φ and frames (earliest deadline first) — from what
// waits. One batch runs at a time, as on one accelerator, so the profile's timings hold. Every run's time goes back
// into the profile, so predictions follow the machine as it is now (and the batch sizes and φ not run lately move
// with the ones that were: LatencyProfile.loadShift).
//
// Overload ("drop" frames): before each decision, a waiting frame whose deadline can no longer be met even alone at
// its smallest φ (the profile's prediction, scaled by the worst recent overrun, plus the policy's spare share of the
// budget) is skipped — earliest deadline (oldest) first, never its job's newest frame. While its
// job sheds (a frame of it was skipped lately), "alone" becomes the batch the policy then runs, sized for
// throughput as far as the waiting frames fill it (now and then a batch size the load has left behind runs again
// with the newest frames: the policy's "explore"). A batch of such frames is trimmed (its newest frames back to the
// queue) until each of them is predicted to make its deadline. "queue" frames always run, late or not.

import type { PostprocessOptions } from "@vdet/effdet";
import { metrics } from "@vdet/metrics";
import type { Detections, OverloadPolicy, PhiValue, RgbImage } from "@vdet/protocol";
import {
  type BatchDecision,
  type DecisionReason,
  inRange,
  type LatencyProfile,
  type PendingFrame,
  PhiPolicy,
  type PhiPolicyOptions,
} from "@vdet/scheduler";
import type { ModelProvider } from "./models.ts";

/**
 * How many recent batches the overrun is taken over. The worst of them guards the frames kept against load spikes:
 * with 20, a 15-s overload under a CPU hog (docs/benchmarks.md) ran 1–2 of ≈ 70 frames late, by 14–177 ms.
 */
const OVERRUN_BATCHES = 50;

export interface ScheduledFrame extends PendingFrame {
  frame: RgbImage;
  options: PostprocessOptions;
  /** Latency frames: skip the frame once its deadline is out of reach ("drop"), or run it late (default "queue"). */
  overload?: OverloadPolicy;
}

/** A "drop" frame the scheduler skipped before inference: it could no longer make its deadline. */
export interface SkippedFrame {
  skipped: string;
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
  /**
   * Monotonic ms that batch times are measured on (default performance.now); a test on a virtual clock injects it
   * with `now`, so the profile learns the simulated runner's time rather than the host's timer lateness.
   */
  elapsed?: () => number;
  onBatch?: (batch: BatchRecord) => void;
}

interface Waiting extends ScheduledFrame {
  arrivedAtMs: number;
  /** Submission order (the newest frame of a job is never skipped). */
  seq: number;
  resolve: (result: ScheduledResult | SkippedFrame) => void;
  reject: (error: unknown) => void;
}

export class FrameScheduler {
  readonly policy: PhiPolicy;
  /** The batches run so far (bounded: the last 10 000). */
  readonly batches: BatchRecord[] = [];
  /** Frames skipped by the overload policy so far. */
  skipped = 0;
  private readonly queue: Waiting[] = [];
  private seq = 0;
  /**
   * The last OVERRUN_BATCHES batches' measured and predicted times, with the profile's predictions when each ran:
   * how far the machine overran its profile lately (overrun()).
   */
  private readonly recent: {
    ms: number;
    predictedMs: number;
    predictionsThen: ReadonlyMap<string, number>;
  }[] = [];
  /** overrun() by (φ, batch), until the next batch changes the profile. */
  private readonly overrunMemo = new Map<string, number>();
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => number;
  private readonly elapsed: () => number;

  constructor(private readonly options: FrameSchedulerOptions) {
    if (!(options.maxBatch >= 1)) throw new RangeError("maxBatch must be at least 1");
    this.policy = new PhiPolicy(options.profile, {
      ...options.policy,
      maxBatch: options.maxBatch,
      // The policy's explorations must pass the same test the batch is trimmed by below (tooSlow).
      adjust: (phi, batch, ms) => ms * this.overrun(phi, batch),
    });
    this.now = options.now ?? Date.now;
    this.elapsed = options.elapsed ?? (() => performance.now());
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** Queues a frame; a "drop" frame may come back skipped instead of run. */
  submit(frame: ScheduledFrame & { overload?: "queue" }): Promise<ScheduledResult>;
  submit(frame: ScheduledFrame): Promise<ScheduledResult | SkippedFrame>;
  submit(frame: ScheduledFrame): Promise<ScheduledResult | SkippedFrame> {
    return new Promise((resolve, reject) => {
      const now = this.now();
      if (Number.isFinite(frame.deadlineMs)) this.policy.noteArrival(now);
      this.queue.push({ ...frame, arrivedAtMs: now, seq: this.seq++, resolve, reject });
      this.schedule();
    });
  }

  /** What a frame needs to be run alone at its smallest profiled φ and still make its deadline, ms (undefined: unprofiled). */
  private neededMs(w: Waiting, batch = 1, phi?: PhiValue): { ms: number; phi: PhiValue } | undefined {
    const profile = this.options.profile;
    const at = phi ?? profile.phis().find((p) => inRange(p, w));
    if (at === undefined) return undefined;
    const predicted = profile.predict(at, batch);
    if (predicted === undefined) return undefined;
    const spareMs = Number.isFinite(w.budgetMs ?? Number.POSITIVE_INFINITY)
      ? this.policy.drainMargin * w.budgetMs!
      : 0;
    return { ms: predicted * this.overrun(at, batch) + spareMs, phi: at };
  }

  /**
   * What a prediction at (φ, batch) is scaled by: the profile's prediction is a percentile of recent runs, and on a
   * machine whose load swings (other work, a CPU hog) a batch can take longer than any of them. A frame kept must
   * make it even then: the worst overrun of the last OVERRUN_BATCHES batches (measured ÷ predicted), less what this
   * prediction has grown since each of them ran — the profile has absorbed that much of the slowdown already, and
   * counting it twice would shed frames the machine can run. At least 1, at most 4.
   */
  private overrun(phi: PhiValue, batch: number): number {
    const key = `${phi}|${batch}`;
    const memo = this.overrunMemo.get(key);
    if (memo !== undefined) return memo;
    let worst = 1;
    for (const r of this.recent)
      worst = Math.max(
        worst,
        r.ms / r.predictedMs / this.options.profile.growthSince(r.predictionsThen, phi, batch),
      );
    const overrun = Math.min(4, worst);
    this.overrunMemo.set(key, overrun);
    return overrun;
  }

  /**
   * The batch a shedding job's frame must make its deadline in: the size with the best throughput at its smallest
   * φ (by median times: the overrun guards deadlines, it is no cost), among those whose prediction scaled by their
   * recent overrun fits its budget, of at most the `available` frames from it on; 1 when
   * none fits. Not bounded by half the budget as the policy's batches otherwise are: frames arrive faster than they
   * can run, so fresh ones to fill the next batch are always there (the older ones are what is shed).
   */
  private shedBatch(w: Waiting, phi: PhiValue, available: number): number {
    const best = this.options.profile.throughput(phi, Math.min(this.options.maxBatch, available), {
      maxBatchMs: w.budgetMs ?? Number.POSITIVE_INFINITY,
      adjust: (batch, ms) => ms * this.overrun(phi, batch),
      rankBy: "typical",
    });
    return best?.batch ?? 1;
  }

  private skip(w: Waiting, reason: string): void {
    this.skipped++;
    w.resolve({ skipped: reason });
  }

  /** Skips the "drop" frames that can no longer make their deadline, earliest deadline first, never a job's newest. */
  private shed(now: number): void {
    const newest = new Map<string, number>();
    let dropping = false;
    for (const w of this.queue) {
      if (w.overload !== "drop" || !Number.isFinite(w.deadlineMs)) continue;
      dropping = true;
      newest.set(w.group, Math.max(newest.get(w.group) ?? -1, w.seq));
    }
    if (!dropping) return;
    const kept: Waiting[] = [];
    const order = [...this.queue].sort((a, b) => a.deadlineMs - b.deadlineMs || a.seq - b.seq);
    const skipped = new Set<Waiting>();
    // Each frame's smallest profiled φ, from one list (not re-derived from the profile's samples per frame).
    const profiled = this.options.profile.phis();
    // Latency frames from each one on (earliest deadline first): those a batch with it would take.
    let behind = order.filter((w) => Number.isFinite(w.deadlineMs)).length;
    for (const w of order) {
      if (!Number.isFinite(w.deadlineMs)) continue;
      const from = behind--;
      if (w.overload !== "drop" || newest.get(w.group) === w.seq) continue;
      const phi = profiled.find((p) => inRange(p, w));
      if (phi === undefined) continue; // unprofiled: no prediction to skip it by
      // While its job sheds (a sustained overload, not a passing burst), a frame must make its deadline in the
      // batch the policy then runs (sized for throughput, as far as the backlog fills it): one late frame at a time
      // would run the machine below its throughput, and frames behind it would be shed for that. Otherwise alone,
      // as a burst drains.
      const batch = this.policy.isShedding(w.group, now) ? this.shedBatch(w, phi, from) : 1;
      const need = this.neededMs(w, batch, phi);
      const slackMs = w.deadlineMs - now;
      if (need === undefined || slackMs >= need.ms) continue;
      skipped.add(w);
      this.policy.noteShed(w.group, now);
      this.skip(
        w,
        `overload: ${Math.round(slackMs)} ms left to the deadline, D${need.phi} needs ${Math.round(need.ms)} ms${batch > 1 ? ` in a batch of ${batch}` : ""}`,
      );
    }
    if (skipped.size === 0) return;
    for (const w of this.queue) if (!skipped.has(w)) kept.push(w);
    this.queue.splice(0, this.queue.length, ...kept);
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
      this.shed(this.now());
      if (this.queue.length === 0) return;
      const decision: BatchDecision = this.policy.decide(this.queue, this.now());
      metrics.phiDecision(decision.reason);
      const chosen = new Set(decision.frames);
      batch = decision.frames.map((i) => this.queue[i]);
      const rest = this.queue.filter((_, i) => !chosen.has(i));
      // "drop" frames run only in a batch they can finish in time: its newest frames go back to the queue while
      // one of them would miss (a batch of one that still would is a frame the next shed skips, or a job's newest).
      const tooSlow = () => {
        const now = this.now();
        return batch.some(
          (w) =>
            w.overload === "drop" &&
            Number.isFinite(w.deadlineMs) &&
            w.deadlineMs - now < (this.neededMs(w, batch.length, decision.phi)?.ms ?? 0),
        );
      };
      while (batch.length > 1 && tooSlow()) rest.push(batch.pop()!);
      // One "drop" frame that would miss at the chosen φ runs at its smallest φ instead, where that makes it.
      let rechosen = false;
      if (batch.length === 1 && batch[0].overload === "drop" && tooSlow()) {
        const need = this.neededMs(batch[0]);
        if (need !== undefined && need.phi !== decision.phi && batch[0].deadlineMs - this.now() >= need.ms) {
          decision.phi = need.phi;
          decision.precision = this.options.profile.precisionOf(need.phi);
          decision.reason = "deadline";
          rechosen = true;
        }
      }
      if (batch.length < decision.frames.length || rechosen)
        decision.predictedMs = this.options.profile.predict(decision.phi, batch.length, decision.precision);
      this.queue.splice(0, this.queue.length, ...rest);
      const tightest = Math.min(...batch.map((w) => w.deadlineMs)) - this.now();
      if (Number.isFinite(tightest)) metrics.slack(tightest, "batch");
      // Loading a model (first use of a φ) is not inference time: it stays out of the profile.
      const detector = await this.options.models.detector(decision.phi);
      const started = this.elapsed();
      const detections = await detector.detect(
        batch.map((w) => w.frame),
        batch.map((w) => w.options),
      );
      const ms = this.elapsed() - started;
      const predictedMs = this.options.profile.predict(decision.phi, batch.length, decision.precision);
      if (predictedMs !== undefined && predictedMs > 0) {
        this.recent.push({ ms, predictedMs, predictionsThen: this.options.profile.snapshot() });
        if (this.recent.length > OVERRUN_BATCHES) this.recent.shift();
      }
      this.options.profile.observe(decision.phi, batch.length, ms, decision.precision);
      this.overrunMemo.clear();
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
