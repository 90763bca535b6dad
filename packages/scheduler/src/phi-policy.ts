// The deadline policy: for each batch, the model choice (φ and precision) and batch size with the highest
// expected accuracy (its utility: COCO AP of φ, times an int8 build's agreement with fp32) whose predicted time
// fits the tightest slack in the batch and half the latency budget, leaves the frames behind it able to make their
// deadlines, and keeps up with the arrival rate. The choice steps down at once when it must and up one step at a
// time after a run of batches with room to spare (hysteresis). "Smallest" below means the fastest choice of a
// frame's φ range: what a frame falls back to.

import { InvariantError } from "@vdet/errors";
import { type ModelChoice, type PhiValue, type Precision, phiRank } from "@vdet/protocol";
import type { LatencyProfile } from "./latency-profile.ts";

export interface PendingFrame {
  /** Frames of one group (a job) share hysteresis state. */
  group: string;
  /** Epoch ms by which the frame's result is due; Infinity for archive frames (no deadline). */
  deadlineMs: number;
  /** The job's latency budget, ms (latency frames). */
  budgetMs?: number;
  phiMin: PhiValue;
  phiMax: PhiValue;
  /** Archive frames: the φ to run them at (the job's request or its throughput target's choice). */
  archivePhi?: PhiValue;
}

export type DecisionReason =
  /** Largest φ that fits every constraint. */
  | "deadline"
  /** A job with frames whose slack is gone: its frames in deadline order at their smallest φ, as many as other jobs' frames allow. */
  | "late"
  /** Another job's late frames wait: this job's frames run at the smallest φ until those are affordable. */
  | "catch-up"
  /** No φ fits every constraint: smallest φ, as many frames as its slack allows. */
  | "squeezed"
  /** No φ of the job's range has been profiled: its smallest φ, unpredicted. */
  | "unprofiled"
  /**
   * A shedding job's newest frames in a batch size whose measurements the machine has moved away from
   * (LatencyProfile.isStale), run to learn what it costs now.
   */
  | "explore"
  | "archive";

export interface BatchDecision {
  phi: PhiValue;
  precision: Precision;
  /** Indices into the pending list, in run order (earliest deadline first). */
  frames: number[];
  predictedMs: number | undefined;
  reason: DecisionReason;
  /** Frames of the batch predicted to finish after their deadline. */
  predictedMisses: number;
}

export interface PhiPolicyOptions {
  maxBatch: number;
  /** Consecutive batches in which the next φ up fits with margin before stepping up to it. */
  stepUpAfter?: number;
  /** The next φ up counts only when its predicted time is within this share of what the batch allows. */
  stepUpMargin?: number;
  /**
   * After a batch, the smallest φ must clear the frames left behind plus those arriving meanwhile (at the recent
   * arrival rate) within this share of the tightest budget. Bounds the backlog a larger φ may build.
   */
  backlogShare?: number;
  /** Share of the budget the frames left behind must have to spare in that check (timing noise). */
  drainMargin?: number;
  /**
   * A choice other than the fastest runs only while the fastest would be busy at most this share of the time at the
   * recent arrival rate (its median throughput at the largest batch; default 0.8). Near 1 a queue's wait grows
   * without bound, and the drain check, which counts a backlog under one batch as cleared, cannot see it.
   */
  maxUtilization?: number;
  /**
   * The time to count on for a batch of `batch` frames at φ predicted at `ms` (a worker's recent overruns: the frame
   * scheduler passes its own). Used where a batch must surely make its deadlines: a stale size's exploration,
   * which the frame scheduler would otherwise trim to a size that is not stale (and the size would stay unexplored).
   */
  adjust?: (phi: PhiValue, batch: number, ms: number) => number;
  /** The arrival rate counts the arrivals of this last stretch, ms (a past burst stops weighing on φ). */
  arrivalWindowMs?: number;
  /**
   * The shortest stretch the arrival rate is taken over, ms: frames arrive in chunks, and a chunk's frames arriving
   * within a few ms are a backlog to clear, not a rate of hundreds per second.
   */
  minArrivalSpanMs?: number;
}

interface Fit {
  frames: number[];
  predictedMs: number;
  /** What the batch may take: the tightest slack and half the tightest budget, ms. */
  allowedMs: number;
}

interface GroupState {
  choice: ModelChoice;
  upStreak: number;
  lastUsedMs: number;
}

export class PhiPolicy {
  private readonly states = new Map<string, GroupState>();
  /** When the overload shedder last skipped a frame of each group (noteShed). */
  private readonly shedAtMs = new Map<string, number>();
  private readonly arrivalsMs: number[] = [];
  private readonly maxBatch: number;
  private readonly stepUpAfter: number;
  private readonly stepUpMargin: number;
  private readonly backlogShare: number;
  private readonly maxUtilization: number;
  private readonly adjust: (phi: PhiValue, batch: number, ms: number) => number;
  /** Share of the budget kept spare for timing noise (PhiPolicyOptions.drainMargin); the overload shedder uses it too. */
  readonly drainMargin: number;
  private readonly arrivalWindowMs: number;
  private readonly minArrivalSpanMs: number;
  /** When the current run of arrivals began (the first after a pause longer than the window). */
  private streamStartMs = 0;

  constructor(
    private readonly profile: LatencyProfile,
    options: PhiPolicyOptions,
  ) {
    this.maxBatch = options.maxBatch;
    this.stepUpAfter = options.stepUpAfter ?? 3;
    this.stepUpMargin = options.stepUpMargin ?? 0.8;
    this.backlogShare = options.backlogShare ?? 0.5;
    this.maxUtilization = options.maxUtilization ?? 0.8;
    this.adjust = options.adjust ?? ((_phi, _batch, ms) => ms);
    this.drainMargin = options.drainMargin ?? 0.1;
    this.arrivalWindowMs = options.arrivalWindowMs ?? 2000;
    this.minArrivalSpanMs = Math.min(options.minArrivalSpanMs ?? 500, this.arrivalWindowMs);
    if (!(this.maxBatch >= 1)) throw new RangeError("maxBatch must be at least 1");
  }

  /**
   * Notes that the overload shedder skipped a frame of `group` (overload "drop"): the frames arrive faster than
   * they can run. For the next `arrivalWindowMs` the group runs at its smallest φ — a larger φ would only cost
   * more frames.
   */
  noteShed(group: string, nowMs: number): void {
    this.shedAtMs.set(group, nowMs);
  }

  /** Whether a frame of `group` was shed within the last `arrivalWindowMs` (noteShed). */
  isShedding(group: string, nowMs: number): boolean {
    const shedAt = this.shedAtMs.get(group);
    return shedAt !== undefined && nowMs - shedAt < this.arrivalWindowMs;
  }

  /** Notes that a latency frame arrived (for the arrival-rate estimate). */
  noteArrival(nowMs: number): void {
    const last = this.arrivalsMs.at(-1);
    if (last === undefined || nowMs - last > this.arrivalWindowMs) this.streamStartMs = nowMs;
    this.arrivalsMs.push(nowMs);
    if (this.arrivalsMs.length > 100_000) this.arrivalsMs.splice(0, this.arrivalsMs.length - 100_000);
  }

  /**
   * Latency frames arriving per second: the arrivals of the last `arrivalWindowMs` over that stretch, or over the
   * time since the stream began when that is shorter (but at least `minArrivalSpanMs`). Falls as the stream
   * pauses; 0 once no arrival is left in the window.
   */
  arrivalRate(nowMs: number): number {
    const horizon = nowMs - this.arrivalWindowMs;
    let old = 0;
    while (old < this.arrivalsMs.length && this.arrivalsMs[old] < horizon) old++;
    if (old > 0) this.arrivalsMs.splice(0, old);
    const n = this.arrivalsMs.length;
    if (n === 0) return 0;
    const spanMs = Math.min(
      this.arrivalWindowMs,
      Math.max(this.minArrivalSpanMs, nowMs - this.streamStartMs),
    );
    return (n * 1000) / spanMs;
  }

  /** The φ a group (job) currently runs at, if it has run. */
  currentPhi(group: string): PhiValue | undefined {
    return this.states.get(group)?.choice.phi;
  }

  /** The (φ, precision) a group (job) currently runs at, if it has run. */
  currentChoice(group: string): ModelChoice | undefined {
    return this.states.get(group)?.choice;
  }

  /** Forgets a group's hysteresis state (its job ended). */
  forget(group: string): void {
    this.states.delete(group);
    this.shedAtMs.delete(group);
  }

  /** Chooses the next batch from the pending frames (at least one). */
  decide(pending: readonly PendingFrame[], nowMs: number): BatchDecision {
    if (pending.length === 0) throw new InvariantError("decide() needs at least one pending frame");
    const order = pending
      .map((_, i) => i)
      .sort((a, b) => pending[a].deadlineMs - pending[b].deadlineMs || a - b);
    const head = pending[order[0]];
    if (!Number.isFinite(head.deadlineMs)) return this.archiveBatch(pending, order);

    // Frames that miss even alone at their smallest φ are lost to the deadline already. Their job's output is
    // in frame order (tracking), so its later frames wait for them whatever runs first: within a job, frames run
    // in deadline order. Other jobs' frames do not wait for them, and one job's backlog (a burst, a budget it
    // cannot have) must not make them late too: a job's late frames run when a batch of them is affordable — the
    // other jobs' frames still drain after it — and until then those jobs run at their smallest φ (catching up
    // comes before accuracy). Late frames always run, and count as misses.
    // The profiled φ and each one's single-frame time, once per decision rather than once per waiting frame.
    const profiled = this.fastestFirst();
    const late: number[] = [];
    const live: number[] = [];
    for (const i of order) {
      const f = pending[i];
      if (!Number.isFinite(f.deadlineMs)) continue;
      const c = smallestIn(profiled, f);
      (c !== undefined && f.deadlineMs - nowMs < this.predict(c, 1) ? late : live).push(i);
    }
    const rate = this.arrivalRate(nowMs);
    if (late.length === 0) {
      const shedding = live.length > 0 && this.isShedding(pending[live[0]].group, nowMs);
      return this.decideLive(live, pending, nowMs, rate, shedding, shedding);
    }
    const behind = new Set(late.map((i) => pending[i].group));
    const blocked = order.filter(
      (i) => Number.isFinite(pending[i].deadlineMs) && behind.has(pending[i].group),
    );
    const others = live.filter((i) => !behind.has(pending[i].group));
    return (
      this.catchUp(smallestIn(profiled, pending[blocked[0]])!, blocked, others, pending, nowMs, rate) ??
      this.decideLive(others, pending, nowMs, rate, true, false)
    );
  }

  /**
   * The next batch of the jobs that are behind (`blocked`: their frames in deadline order, late ones first), at
   * `phi` (the first one's smallest), as large as the other jobs' frames allow (`others` still drain after it; the
   * largest batch when there are none), or undefined when not even one frame is affordable now.
   */
  private catchUp(
    choice: ModelChoice,
    blocked: number[],
    others: number[],
    pending: readonly PendingFrame[],
    nowMs: number,
    rate: number,
  ): BatchDecision | undefined {
    const first = pending[blocked[0]];
    const frames = blocked.filter((i) => inRange(choice.phi, pending[i]));
    for (let b = Math.min(this.maxBatch, frames.length); b >= 1; b--) {
      const endMs = nowMs + this.predict(choice, b);
      if (others.length > 0 && !this.drains(others, pending, nowMs, endMs, rate, others[0])) continue;
      const { state } = this.stateFor(first.group, choice, nowMs);
      state.choice = choice;
      state.upStreak = 0;
      return this.decision(choice, frames.slice(0, b), pending, nowMs, "late");
    }
    return undefined;
  }

  /**
   * The batch for the frames that can still make their deadlines (earliest first); `smallestOnly` while catching up.
   * While the head's group sheds (`shedding`), the smallest φ runs batches sized for throughput instead: the
   * backlog cannot drain (that is why frames are shed), so rules 2 and 3 (half the budget, the backlog drains), which
   * keep a backlog from building, would only shrink the batches and waste the machine.
   */
  private decideLive(
    live: number[],
    pending: readonly PendingFrame[],
    nowMs: number,
    rate: number,
    smallestOnly: boolean,
    shedding: boolean,
  ): BatchDecision {
    const head = pending[live[0]];
    const eligible = (c: ModelChoice) => live.filter((i) => inRange(c.phi, pending[i]));
    // Candidates by utility ascending: a later one is worth more.
    const inHeadRange = this.profile.choices().filter((c) => inRange(c.phi, head));
    if (inHeadRange.length === 0) {
      const frames = live.filter((i) => inRange(head.phiMin, pending[i])).slice(0, this.maxBatch);
      return {
        phi: head.phiMin,
        precision: this.profile.precisionOf(head.phiMin),
        frames,
        predictedMs: undefined,
        reason: "unprofiled",
        predictedMisses: 0,
      };
    }
    const minChoice = smallestIn(this.fastestFirst(), head)!;
    if (shedding) {
      const { state } = this.stateFor(head.group, minChoice, nowMs);
      state.choice = minChoice;
      state.upStreak = 0;
      const candidates = eligible(minChoice);
      const explore = this.exploreFrames(minChoice, candidates, pending, nowMs);
      if (explore) return this.decision(minChoice, explore, pending, nowMs, "explore");
      const frames = this.throughputFrames(minChoice, candidates, pending, nowMs);
      return this.decision(
        minChoice,
        frames ?? this.squeeze(minChoice, candidates, pending, nowMs),
        pending,
        nowMs,
        frames ? "catch-up" : "squeezed",
      );
    }
    const candidates = smallestOnly ? [minChoice] : inHeadRange;
    const { state, fresh } = this.stateFor(head.group, minChoice, nowMs);

    // Rule 4: a choice above the fastest only while the fastest keeps up with room to spare (once per decision,
    // and only where there is a choice above it).
    const fastestRate =
      rate > 0 && candidates.length > 1
        ? this.profile.throughput(minChoice.phi, this.maxBatch, {
            precision: minChoice.precision,
            rankBy: "typical",
          })
        : undefined;
    const fastestBusy = fastestRate !== undefined && rate > this.maxUtilization * fastestRate.framesPerSecond;
    const fits = new Map<string, Fit>();
    for (const c of candidates) {
      if (fastestBusy && keyOf(c) !== keyOf(minChoice)) continue;
      const fit = this.fit(c, eligible(c), live, pending, nowMs, rate);
      if (fit) fits.set(keyOf(c), fit);
    }
    const fitOf = (c: ModelChoice) => fits.get(keyOf(c));
    const feasible = candidates.filter((c) => fitOf(c));
    if (feasible.length === 0 || smallestOnly) {
      const frames = fitOf(minChoice)?.frames ?? this.squeeze(minChoice, eligible(minChoice), pending, nowMs);
      state.choice = minChoice;
      state.upStreak = 0;
      const reason = !fitOf(minChoice) ? "squeezed" : smallestOnly ? "catch-up" : "deadline";
      return this.decision(minChoice, frames, pending, nowMs, reason);
    }

    const best = feasible[feasible.length - 1];
    const rank = (c: ModelChoice) => inHeadRange.findIndex((x) => keyOf(x) === keyOf(c));
    let chosen: ModelChoice;
    if (fresh && !this.profile.confirmed) {
      // Nothing has run since the profile was loaded: the machine may be busier than it was when measured (a
      // larger φ taken on those timings can cost several times its prediction, and at a rate the smallest φ only
      // just keeps up with, its backlog never drains). The first job starts at its least valuable choice that fits
      // and steps up as runs confirm the profile (or move it: LatencyProfile.loadShift).
      chosen = feasible[0];
      state.upStreak = 0;
    } else if (fresh || rank(best) <= rank(state.choice)) {
      // A job starts at the most valuable choice that fits; a less valuable best choice is taken at once.
      chosen = best;
      state.upStreak = 0;
    } else if (!fitOf(state.choice)) {
      chosen = feasible.filter((c) => rank(c) <= rank(state.choice)).at(-1) ?? best;
      state.upStreak = 0;
    } else {
      chosen = state.choice;
      const next = candidates[rank(state.choice) + 1];
      const nextFit = next === undefined ? undefined : fitOf(next);
      if (nextFit && nextFit.predictedMs <= this.stepUpMargin * nextFit.allowedMs) {
        state.upStreak += 1;
        if (state.upStreak >= this.stepUpAfter) {
          chosen = next;
          state.upStreak = 0;
        }
      } else {
        state.upStreak = 0;
      }
    }
    state.choice = chosen;
    return this.decision(chosen, fitOf(chosen)!.frames, pending, nowMs, "deadline");
  }

  /**
   * Profiled choices, fastest single frame first (ties: less valuable first). At one precision a larger φ is never
   * faster than a smaller one (the network only grows): a choice counts as at least as slow as every smaller φ of
   * its precision, so runs slowed by load (a busy host, a late timer) cannot make a larger φ the fallback.
   */
  private fastestFirst(): ModelChoice[] {
    const byUtility = this.profile.choices();
    const floorMs = (c: ModelChoice) => {
      let ms = this.predict(c, 1);
      for (const o of byUtility)
        if (o.precision === c.precision && phiRank(o.phi) < phiRank(c.phi))
          ms = Math.max(ms, this.predict(o, 1));
      return ms;
    };
    return byUtility
      .map((c, i) => ({ c, i, ms: floorMs(c) }))
      .sort((a, b) => a.ms - b.ms || a.i - b.i)
      .map((x) => x.c);
  }

  private predict(c: ModelChoice, batch: number): number {
    return this.profile.predict(c.phi, batch, c.precision)!;
  }

  private stateFor(
    group: string,
    initial: ModelChoice,
    nowMs: number,
  ): { state: GroupState; fresh: boolean } {
    let state = this.states.get(group);
    const fresh = state === undefined;
    if (!state) {
      state = { choice: initial, upStreak: 0, lastUsedMs: nowMs };
      this.states.set(group, state);
      if (this.states.size > 10_000) this.evictOldest();
    }
    state.lastUsedMs = nowMs;
    return { state, fresh };
  }

  private evictOldest(): void {
    let oldest: string | undefined;
    let oldestMs = Number.POSITIVE_INFINITY;
    for (const [group, s] of this.states) {
      if (s.lastUsedMs < oldestMs) {
        oldestMs = s.lastUsedMs;
        oldest = group;
      }
    }
    if (oldest !== undefined) this.states.delete(oldest);
  }

  /**
   * The largest batch at φ (earliest deadlines first) that fits its slack and half its budget, after which the
   * backlog still drains.
   */
  private fit(
    choice: ModelChoice,
    eligible: number[],
    latency: number[],
    pending: readonly PendingFrame[],
    nowMs: number,
    arrivalsPerSecond: number,
  ): Fit | undefined {
    for (let b = Math.min(this.maxBatch, eligible.length); b >= 1; b--) {
      const frames = eligible.slice(0, b);
      const predictedMs = this.predict(choice, b);
      let slackMs = Number.POSITIVE_INFINITY;
      let budgetMs = Number.POSITIVE_INFINITY;
      for (const i of frames) {
        slackMs = Math.min(slackMs, pending[i].deadlineMs - nowMs);
        budgetMs = Math.min(budgetMs, pending[i].budgetMs ?? Number.POSITIVE_INFINITY);
      }
      // Predictions are percentiles, not promises: the batch's own frames keep the same spare share of the
      // budget as those left behind (rule 3).
      const spareMs = Number.isFinite(budgetMs) ? this.drainMargin * budgetMs : 0;
      const allowedMs = Math.min(slackMs - spareMs, budgetMs / 2);
      if (predictedMs > allowedMs) continue;
      const inBatch = new Set(frames);
      const rest = latency.filter((i) => !inBatch.has(i));
      if (!this.drains(rest, pending, nowMs, nowMs + predictedMs, arrivalsPerSecond, frames[0])) continue;
      return { frames, predictedMs, allowedMs };
    }
    return undefined;
  }

  /**
   * Whether, after a batch ending at `startMs`, the frames left behind and those arriving meanwhile (at the recent
   * rate, each due a budget after it arrives) all make their deadlines at their smallest φ, in batches of what
   * waits, and the backlog is down to one batch within `backlogShare` of the tightest budget. Frames that would miss even alone are already lost
   * and do not veto a choice. This is what lets a larger φ run while the smallest one has capacity to spare, and
   * stops it before the backlog it leaves grows past what the deadlines allow.
   */
  private drains(
    rest: number[],
    pending: readonly PendingFrame[],
    nowMs: number,
    startMs: number,
    arrivalsPerSecond: number,
    head: number,
  ): boolean {
    const profiled = this.fastestFirst();
    const smallest = (f: PendingFrame) => smallestIn(profiled, f);
    const queue: { deadlineMs: number; choice: ModelChoice }[] = [];
    let budgetMs = pending[head].budgetMs ?? Number.POSITIVE_INFINITY;
    for (const i of rest) {
      const choice = smallest(pending[i]);
      if (choice === undefined || pending[i].deadlineMs - nowMs < this.predict(choice, 1)) continue;
      queue.push({ deadlineMs: pending[i].deadlineMs, choice });
      budgetMs = Math.min(budgetMs, pending[i].budgetMs ?? Number.POSITIVE_INFINITY);
    }
    const arrivalChoice = smallest(pending[head])!;
    const gapMs = arrivalsPerSecond > 0 ? 1000 / arrivalsPerSecond : Number.POSITIVE_INFINITY;
    const lastArrival = this.arrivalsMs.at(-1) ?? nowMs;
    let nextArrival = Number.isFinite(budgetMs)
      ? Math.max(nowMs, lastArrival + gapMs)
      : Number.POSITIVE_INFINITY;
    const emptyBy = startMs + this.backlogShare * budgetMs;
    // Predictions are percentiles, not promises: frames left to the smallest φ keep a share of the budget spare.
    const marginMs = Number.isFinite(budgetMs) ? this.drainMargin * budgetMs : 0;
    let t = startMs;
    for (let step = 0; step < 10_000; step++) {
      while (nextArrival <= t) {
        queue.push({ deadlineMs: nextArrival + budgetMs, choice: arrivalChoice });
        nextArrival += gapMs;
      }
      if (queue.length === 0) return true;
      // At a high arrival rate the queue is never quite empty; a backlog under one batch counts as cleared.
      if (t >= emptyBy) return queue.length <= this.maxBatch;
      const chunk = queue.splice(0, this.maxBatch);
      // A mixed chunk runs at its slowest member's choice.
      let slowest = chunk[0].choice;
      for (const f of chunk) if (this.predict(f.choice, 1) > this.predict(slowest, 1)) slowest = f.choice;
      t += this.predict(slowest, chunk.length);
      if (chunk.some((f) => f.deadlineMs - marginMs < t)) return false;
    }
    return false;
  }

  /**
   * A shedding group's batch at `choice`: the size with the best throughput by median times (LatencyProfile.throughput,
   * rankBy "typical") among those whose predicted time fits the head frame's slack less the spare share of its
   * budget; undefined when not even one frame
   * fits. Not bounded by half the budget (rule 2): the frames come faster than they can run, so fresh ones to fill
   * the next batch are always there, and the shedder skips the older ones.
   */
  private throughputFrames(
    choice: ModelChoice,
    eligible: number[],
    pending: readonly PendingFrame[],
    nowMs: number,
  ): number[] | undefined {
    const head = pending[eligible[0]];
    const budgetMs = head.budgetMs ?? Number.POSITIVE_INFINITY;
    const spareMs = Number.isFinite(budgetMs) ? this.drainMargin * budgetMs : 0;
    const best = this.profile.throughput(choice.phi, Math.min(this.maxBatch, eligible.length), {
      maxBatchMs: head.deadlineMs - nowMs - spareMs,
      precision: choice.precision,
      rankBy: "typical",
    });
    return best && eligible.slice(0, best.batch);
  }

  /**
   * A shedding group's batch in a stale size (LatencyProfile.isStale: the rows run lately have moved since it last
   * ran, e.g. under a CPU hog one frame at a time slows down more than a batch of four does). Throughput-sized
   * batches would never run such a size again, however cheap per frame it has become, so it runs once now, with the
   * newest frames (the older ones are the ones shed) and only where its prediction (moved with the load, and
   * adjusted by the worker's overruns as the frame scheduler trims batches) fits their slack less the spare share;
   * the stale size with the best predicted throughput. Undefined when none is stale or fits.
   */
  private exploreFrames(
    choice: ModelChoice,
    eligible: number[],
    pending: readonly PendingFrame[],
    nowMs: number,
  ): number[] | undefined {
    let best: { frames: number[]; perMs: number } | undefined;
    for (const b of this.profile.batchSizes(choice.phi, choice.precision)) {
      if (b > this.maxBatch || b > eligible.length) continue;
      if (!this.profile.isStale(choice.phi, b, choice.precision)) continue;
      const frames = eligible.slice(-b);
      const slackMs = Math.min(
        ...frames.map((i) => {
          const budgetMs = pending[i].budgetMs ?? Number.POSITIVE_INFINITY;
          const spareMs = Number.isFinite(budgetMs) ? this.drainMargin * budgetMs : 0;
          return pending[i].deadlineMs - nowMs - spareMs;
        }),
      );
      const predicted = this.profile.predict(choice.phi, b, choice.precision);
      const ms = predicted === undefined ? undefined : this.adjust(choice.phi, b, predicted);
      if (ms === undefined || ms > slackMs) continue;
      const perMs = b / Math.max(ms, 1e-3);
      if (!best || perMs > best.perMs) best = { frames, perMs };
    }
    return best?.frames;
  }

  /** Smallest φ with as many frames as the tightest slack allows (at least one). */
  private squeeze(
    choice: ModelChoice,
    eligible: number[],
    pending: readonly PendingFrame[],
    nowMs: number,
  ): number[] {
    for (let b = Math.min(this.maxBatch, eligible.length); b > 1; b--) {
      const frames = eligible.slice(0, b);
      const slackMs = Math.min(...frames.map((i) => pending[i].deadlineMs - nowMs));
      if (this.predict(choice, b) <= slackMs) return frames;
    }
    return eligible.slice(0, 1);
  }

  private archiveBatch(pending: readonly PendingFrame[], order: number[]): BatchDecision {
    const phiOf = (f: PendingFrame) => f.archivePhi ?? f.phiMax;
    const phi = phiOf(pending[order[0]]);
    const frames = order
      .filter((i) => !Number.isFinite(pending[i].deadlineMs) && phiOf(pending[i]) === phi)
      .slice(0, this.maxBatch);
    // Archive frames run at φ's most valuable profiled precision.
    const precision = this.profile.precisionOf(phi);
    return {
      phi,
      precision,
      frames,
      predictedMs: this.profile.predict(phi, frames.length, precision),
      reason: "archive",
      predictedMisses: 0,
    };
  }

  private decision(
    choice: ModelChoice,
    frames: number[],
    pending: readonly PendingFrame[],
    nowMs: number,
    reason: DecisionReason,
  ): BatchDecision {
    const predictedMs = this.profile.predict(choice.phi, frames.length, choice.precision);
    const doneMs = nowMs + (predictedMs ?? 0);
    const predictedMisses = frames.filter((i) => pending[i].deadlineMs < doneMs).length;
    return { phi: choice.phi, precision: choice.precision, frames, predictedMs, reason, predictedMisses };
  }
}

const keyOf = (c: ModelChoice) => `${c.phi}|${c.precision}`;

/** The first choice of `profiled` (fastest first) in a frame's range. */
function smallestIn(profiled: readonly ModelChoice[], frame: PendingFrame): ModelChoice | undefined {
  return profiled.find((c) => inRange(c.phi, frame));
}

export function inRange(phi: PhiValue, range: { phiMin: PhiValue; phiMax: PhiValue }): boolean {
  const r = phiRank(phi);
  return r >= phiRank(range.phiMin) && r <= phiRank(range.phiMax);
}
