// How long a batch of b frames takes at φ (and precision) on this worker: measured at start-up, then kept current
// from live runs as a moving percentile over the last samples, so a slower or busier machine corrects its own
// predictions. A row not run lately follows the rows that were: when they have moved (the machine got busier or
// quieter), its prediction moves with them, and its first new run replaces its old level (see loadShift). The
// profile also knows what each (φ, precision) choice is worth (its utility): the published COCO
// AP of φ, times the agreement of an int8 build with its fp32 twin measured when it was built.

import { getConfig } from "@vdet/effdet";
import {
  choiceLabel,
  type ModelChoice,
  type PhiValue,
  type Precision,
  phiRank,
  phiSchema,
  precisionSchema,
} from "@vdet/protocol";
import { z } from "zod";

export interface LatencyProfileOptions {
  /** Percentile of the recent samples used as the prediction (0…1). */
  percentile?: number;
  /** Samples kept per (φ, batch size). */
  window?: number;
  /**
   * A row is run lately while it was observed within the last `recentRuns` runs of any row (default 8); the others
   * follow the load shift of those (loadShift).
   */
  recentRuns?: number;
  /** A row not run lately is stale once the rows run lately have moved by this factor either way (default 1.25). */
  staleShift?: number;
  /**
   * fromTable: the table was measured just now on this machine (a worker's start-up profiling), so its timings are
   * known to hold (`confirmed`) before any run. A table from a cache or another time is not.
   */
  measuredNow?: boolean;
}

/** A profile as stored and printed: one row per (φ, batch size). */
export const profileTableSchema = z
  .object({
    version: z.literal(1),
    /** What the measurements are valid for (model hash, hardware, execution provider, threads). */
    key: z.string().min(1),
    measuredAt: z.string(),
    /** The load the machine was under while it was measured (absent in profiles from before it was recorded). */
    load: z
      .object({
        /** 1-minute load average at the start of the measurement. */
        loadAverage1m: z.number().min(0),
        cpus: z.number().int().min(1),
      })
      .strict()
      .optional(),
    rows: z.array(
      z
        .object({
          phi: phiSchema,
          /** Absent: fp32 (profiles from before precision was a choice). */
          precision: precisionSchema.optional(),
          batch: z.number().int().min(1),
          p50Ms: z.number().min(0),
          p90Ms: z.number().min(0),
          samplesMs: z.array(z.number().min(0)).min(1),
        })
        .strict(),
    ),
    /**
     * Agreement (0…1) of the int8 choices with their fp32 twins, from the models' build metadata (`vdet model
     * build --precision int8` measures it): their utility is the COCO AP of φ times this.
     */
    agreements: z
      .array(
        z
          .object({ phi: phiSchema, precision: precisionSchema, agreement: z.number().min(0).max(1) })
          .strict(),
      )
      .optional(),
  })
  .strict();
export type ProfileTable = z.infer<typeof profileTableSchema>;
export type ProfileRow = ProfileTable["rows"][number];

export class LatencyProfile {
  private readonly samples = new Map<string, number[]>();
  private readonly agreements = new Map<string, number>();
  private readonly percentile: number;
  private readonly window: number;
  private readonly recentRuns: number;
  private readonly staleShift: number;
  /** Runs observed so far (every row); a row's `seenAt` is this count at its last run. */
  private runs = 0;
  private measuredNow = false;
  /**
   * Per row: when it last ran, and every row's own prediction then (`context`): how far the rows run lately have
   * moved since is this row's load shift.
   */
  private readonly seen = new Map<string, { seenAt: number; context: ReadonlyMap<string, number> }>();
  /** own() and loadShift() by row key, until the next observation. */
  private readonly ownMemo = new Map<string, number>();
  private readonly shiftMemo = new Map<string, number>();

  constructor(options: LatencyProfileOptions = {}) {
    this.percentile = options.percentile ?? 0.9;
    this.window = options.window ?? 32;
    this.recentRuns = options.recentRuns ?? 8;
    this.staleShift = options.staleShift ?? 1.25;
    if (!(this.percentile > 0 && this.percentile <= 1)) throw new RangeError("percentile must be in (0, 1]");
    if (!(this.window >= 1)) throw new RangeError("window must be at least 1");
    if (!(this.recentRuns >= 1)) throw new RangeError("recentRuns must be at least 1");
    if (!(this.staleShift > 1)) throw new RangeError("staleShift must be above 1");
  }

  /** A profile from a stored table: every row counts as run just now, none moved since. */
  static fromTable(table: ProfileTable, options?: LatencyProfileOptions): LatencyProfile {
    const profile = new LatencyProfile(options);
    for (const row of table.rows) {
      const samples = row.samplesMs.filter((ms) => Number.isFinite(ms) && ms >= 0);
      if (samples.length > 0)
        profile.samples.set(
          keyOf(row.phi, row.batch, row.precision ?? "fp32"),
          samples.slice(-profile.window),
        );
    }
    const context = profile.ownPredictions();
    for (const key of profile.samples.keys()) profile.seen.set(key, { seenAt: 0, context });
    profile.measuredNow = options?.measuredNow ?? false;
    for (const a of table.agreements ?? []) profile.setAgreement(a, a.agreement);
    return profile;
  }

  /**
   * Records one measured run of `batch` frames at φ (fp32 unless `precision` says otherwise). A stale row
   * (isStale: the rows run lately have moved since it last ran) keeps the shape of its old samples but moves them
   * to this run's level: they describe a machine that is gone, and one new sample among many old ones would not
   * move a percentile for a whole window.
   */
  observe(phi: PhiValue, batch: number, ms: number, precision: Precision = "fp32"): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    const key = keyOf(phi, batch, precision);
    let list = this.samples.get(key) ?? [];
    if (list.length > 0 && this.isStale(phi, batch, precision)) {
      const level = quantile(list, 0.5);
      if (level > 0) list = list.map((s) => (s * ms) / level);
    }
    list.push(ms);
    if (list.length > this.window) list.splice(0, list.length - this.window);
    this.samples.set(key, list);
    this.ownMemo.clear();
    this.shiftMemo.clear();
    this.runs++;
    this.seen.set(key, { seenAt: this.runs, context: this.ownPredictions() });
  }

  /**
   * Whether its timings are known to hold on the machine as it is now: measured just now (fromTable with
   * `measuredNow`), or a run observed since it was made or loaded. A cached table's are not, until a run: the machine
   * may have become busier since.
   */
  get confirmed(): boolean {
    return this.measuredNow || this.runs > 0;
  }

  /** Every row's own prediction (its samples' percentile, no load shift). */
  private ownPredictions(): Map<string, number> {
    const own = new Map<string, number>();
    for (const key of this.samples.keys()) own.set(key, this.own(key));
    return own;
  }

  /** A row's own samples at quantile `q` (default: the profile's percentile), no load shift. */
  private own(key: string, q = this.percentile): number {
    const memoKey = `${key}@${q}`;
    let v = this.ownMemo.get(memoKey);
    if (v === undefined) {
      v = quantile(this.samples.get(key)!, q);
      this.ownMemo.set(memoKey, v);
    }
    return v;
  }

  private ranLately(key: string): boolean {
    const seen = this.seen.get(key);
    return seen !== undefined && this.runs - seen.seenAt < this.recentRuns;
  }

  /**
   * How far the machine has moved since (φ, batch) last ran, as a factor on its prediction: the median, over the
   * rows run lately (any φ and precision), of their prediction now ÷ their prediction when this row last ran. 1 for
   * a row run lately itself, an unmeasured row, or when no row run lately was measured then. A batch of another
   * size or φ slows down with the machine as this one does, near enough to predict with until it runs again.
   */
  loadShift(phi: PhiValue, batch: number, precision?: Precision): number {
    const key = keyOf(phi, batch, precision ?? this.precisionOf(phi));
    const memo = this.shiftMemo.get(key);
    if (memo !== undefined) return memo;
    let shift = 1;
    const seen = this.seen.get(key);
    if (seen && !this.ranLately(key)) {
      const ratios: number[] = [];
      for (const [other, then] of seen.context)
        if (other !== key && then > 0 && this.samples.has(other) && this.ranLately(other))
          ratios.push(this.own(other) / then);
      if (ratios.length > 0) shift = quantile(ratios, 0.5);
    }
    this.shiftMemo.set(key, shift);
    return shift;
  }

  /**
   * Whether (φ, batch)'s own samples describe a machine that has moved on: it has not run lately, and the rows that
   * have moved by `staleShift` or more (either way) since it last ran. Its prediction then rests on loadShift alone;
   * a shedding job runs it again when it can (PhiPolicy), to learn what it costs now.
   */
  isStale(phi: PhiValue, batch: number, precision?: Precision): boolean {
    const shift = this.loadShift(phi, batch, precision);
    return Math.abs(Math.log(shift)) >= Math.log(this.staleShift) - 1e-12;
  }

  /** The median of the kept samples for exactly (φ, batch, precision), or undefined when there are none. */
  median(phi: PhiValue, batch: number, precision?: Precision): number | undefined {
    const list = this.samples.get(keyOf(phi, batch, precision ?? this.precisionOf(phi)));
    return list && list.length > 0 ? quantile(list, 0.5) : undefined;
  }

  /** φ with at least one measurement (at any precision), ascending. */
  phis(): PhiValue[] {
    const set = new Set<PhiValue>();
    for (const key of this.samples.keys()) set.add(parseKey(key).phi);
    return [...set].sort((a, b) => phiRank(a) - phiRank(b));
  }

  /**
   * The measured (φ, precision) choices, by utility ascending (ties: the faster first). A worker's φ policy and
   * `vdet plan` choose among these.
   */
  choices(): ModelChoice[] {
    const seen = new Map<string, ModelChoice>();
    for (const key of this.samples.keys()) {
      const { phi, precision } = parseKey(key);
      seen.set(`${phi}|${precision}`, { phi, precision });
    }
    return [...seen.values()].sort(
      (a, b) =>
        this.utility(a) - this.utility(b) ||
        (this.predict(a.phi, 1, a.precision) ?? 0) - (this.predict(b.phi, 1, b.precision) ?? 0) ||
        phiRank(a.phi) - phiRank(b.phi),
    );
  }

  /**
   * The precision a φ-only question means: fp32 when φ was measured at fp32, else its measured precision of
   * highest utility (a worker that runs φ only as int8), else fp32.
   */
  precisionOf(phi: PhiValue): Precision {
    let best: Precision | undefined;
    for (const key of this.samples.keys()) {
      const k = parseKey(key);
      if (k.phi !== phi) continue;
      if (k.precision === "fp32") return "fp32";
      if (best === undefined || this.utility(k) > this.utility({ phi, precision: best })) best = k.precision;
    }
    return best ?? "fp32";
  }

  /** Records the agreement (0…1) of a choice with its fp32 twin (int8 builds: from their metadata). */
  setAgreement(choice: ModelChoice, agreement: number): void {
    if (!(agreement >= 0 && agreement <= 1))
      throw new RangeError(`agreement must be in [0, 1], got ${agreement}`);
    this.agreements.set(`${choice.phi}|${choice.precision}`, agreement);
  }

  /** fp32: 1; other precisions: the recorded agreement, 0 when none was recorded (never preferred over a measured one). */
  agreement(choice: ModelChoice): number {
    if (choice.precision === "fp32") return 1;
    return this.agreements.get(`${choice.phi}|${choice.precision}`) ?? 0;
  }

  /** What a choice is worth: the published COCO AP of φ times its agreement with fp32. */
  utility(choice: ModelChoice): number {
    return getConfig(choice.phi).cocoAp * this.agreement(choice);
  }

  /**
   * The prediction of every measured (φ, precision, batch) now: kept beside a run's measured time, it tells later
   * how far each prediction has moved since (growthSince).
   */
  snapshot(): ReadonlyMap<string, number> {
    const snapshot = new Map<string, number>();
    for (const key of this.samples.keys()) snapshot.set(key, this.rowPrediction(key));
    return snapshot;
  }

  /** A measured row's prediction: its own percentile (or quantile `q`), moved by its load shift. */
  private rowPrediction(key: string, q = this.percentile): number {
    const { phi, precision, batch } = parseKey(key);
    return this.own(key, q) * this.loadShift(phi, batch, precision);
  }

  /**
   * How far the prediction for `batch` frames at φ has grown since `snapshot` (1: not at all), judged on the
   * measured batch size nearest to `batch` (the larger on a tie); 1 where the snapshot has no such row.
   */
  growthSince(
    snapshot: ReadonlyMap<string, number>,
    phi: PhiValue,
    batch: number,
    precision?: Precision,
  ): number {
    const p = precision ?? this.precisionOf(phi);
    const sizes = this.batchSizes(phi, p);
    if (sizes.length === 0) return 1;
    let nearest = sizes[0];
    for (const b of sizes) if (Math.abs(b - batch) <= Math.abs(nearest - batch)) nearest = b;
    const then = snapshot.get(keyOf(phi, nearest, p));
    const now = this.predict(phi, nearest, p);
    return then === undefined || now === undefined || then <= 0 ? 1 : now / then;
  }

  /** Measured batch sizes for φ (at `precision`, default `precisionOf(φ)`), ascending. */
  batchSizes(phi: PhiValue, precision?: Precision): number[] {
    const p = precision ?? this.precisionOf(phi);
    return [...this.samples.keys()]
      .map(parseKey)
      .filter((k) => k.phi === phi && k.precision === p)
      .map((k) => k.batch)
      .sort((a, b) => a - b);
  }

  /**
   * Predicted time for a batch of `batch` frames at φ, ms, or undefined when φ was never measured (each measured row
   * moved by its loadShift). Between
   * measured batch sizes the prediction is interpolated; above the largest it grows with the per-frame cost of
   * the largest (batching is never assumed to get cheaper than measured); below the smallest it is the smallest's.
   */
  predict(phi: PhiValue, batch: number, precision?: Precision): number | undefined {
    return this.predictAt(phi, batch, precision, this.percentile);
  }

  /**
   * The median time of a batch of `batch` frames at φ, ms (as predict, at the median): what such batches cost on
   * average, which is what a sustained rate depends on. predict's percentile is the time to count on for a deadline.
   */
  typical(phi: PhiValue, batch: number, precision?: Precision): number | undefined {
    return this.predictAt(phi, batch, precision, 0.5);
  }

  private predictAt(
    phi: PhiValue,
    batch: number,
    precision: Precision | undefined,
    q: number,
  ): number | undefined {
    const p = precision ?? this.precisionOf(phi);
    const sizes = this.batchSizes(phi, p);
    if (sizes.length === 0) return undefined;
    const at = (b: number) => this.rowPrediction(keyOf(phi, b, p), q);
    if (this.samples.has(keyOf(phi, batch, p))) return at(batch);
    const first = sizes[0];
    const last = sizes[sizes.length - 1];
    if (batch < first) return at(first);
    if (batch > last) return (at(last) * batch) / last;
    const upper = sizes.findIndex((b) => b > batch);
    const lo = sizes[upper - 1];
    const hi = sizes[upper];
    const t = (batch - lo) / (hi - lo);
    return at(lo) * (1 - t) + at(hi) * t;
  }

  /**
   * The best sustained rate at φ, frames per second, over batch sizes up to `maxBatch` whose predicted time stays
   * within `maxBatchMs` (a latency budget's share); undefined when no batch size fits. `adjust` turns each
   * prediction into the time to count on (a worker's recent overruns). `rankBy: "typical"` ranks the sizes that fit
   * by their median time (typical) instead: the rate a stream of such batches sustains, where the percentile and
   * the adjustment are guards for a deadline, and would favour whichever size has the narrower tail.
   */
  throughput(
    phi: PhiValue,
    maxBatch: number,
    options: {
      maxBatchMs?: number;
      precision?: Precision;
      adjust?: (batch: number, predictedMs: number) => number;
      rankBy?: "predicted" | "typical";
    } = {},
  ): { batch: number; framesPerSecond: number; batchMs: number } | undefined {
    const maxBatchMs = options.maxBatchMs ?? Number.POSITIVE_INFINITY;
    let best: { batch: number; framesPerSecond: number; batchMs: number } | undefined;
    for (let b = 1; b <= maxBatch; b++) {
      const predicted = this.predict(phi, b, options.precision);
      const ms = predicted === undefined ? undefined : (options.adjust?.(b, predicted) ?? predicted);
      if (ms === undefined || ms > maxBatchMs) continue;
      const rankMs = options.rankBy === "typical" ? (this.typical(phi, b, options.precision) ?? ms) : ms;
      const framesPerSecond = (1000 * b) / Math.max(rankMs, 1e-3);
      if (!best || framesPerSecond > best.framesPerSecond) best = { batch: b, framesPerSecond, batchMs: ms };
    }
    return best;
  }

  toTable(key: string, measuredAt = new Date().toISOString(), load?: ProfileTable["load"]): ProfileTable {
    const rows: ProfileRow[] = [...this.samples]
      .map(([k, samplesMs]) => {
        const { phi, precision, batch } = parseKey(k);
        return {
          phi,
          ...(precision === "fp32" ? {} : { precision }),
          batch,
          p50Ms: round(quantile(samplesMs, 0.5)),
          p90Ms: round(quantile(samplesMs, 0.9)),
          samplesMs: samplesMs.map(round),
        };
      })
      .sort(
        (a, b) =>
          phiRank(a.phi) - phiRank(b.phi) ||
          (a.precision ?? "fp32").localeCompare(b.precision ?? "fp32") ||
          a.batch - b.batch,
      );
    const agreements = [...this.agreements].map(([k, agreement]) => {
      const [phi, precision] = k.split("|");
      return { phi: parsePhiKey(phi), precision: precision as Precision, agreement };
    });
    return {
      version: 1,
      key,
      measuredAt,
      ...(load ? { load } : {}),
      rows,
      ...(agreements.length ? { agreements } : {}),
    };
  }
}

/** Where live batch times differ most from a stored profile: the (φ, batch) with the largest ratio either way. */
export interface ProfileDrift {
  phi: PhiValue;
  precision?: Precision;
  batch: number;
  cachedMs: number;
  liveMs: number;
  /** liveMs / cachedMs. */
  ratio: number;
}

/**
 * The largest drift of `live`'s median from `table`'s p50 over the rows both have, when it exceeds `threshold`
 * (a factor, either way: 1.5 flags 1.5× slower and 1.5× faster); undefined otherwise.
 */
export function profileDrift(
  table: ProfileTable,
  live: LatencyProfile,
  threshold: number,
): ProfileDrift | undefined {
  let worst: ProfileDrift | undefined;
  for (const row of table.rows) {
    const liveMs = live.median(row.phi, row.batch, row.precision ?? "fp32");
    if (liveMs === undefined || row.p50Ms <= 0) continue;
    const ratio = liveMs / row.p50Ms;
    const off = Math.max(ratio, 1 / ratio);
    if (off > threshold && (!worst || off > Math.max(worst.ratio, 1 / worst.ratio)))
      worst = {
        phi: row.phi,
        ...(row.precision ? { precision: row.precision } : {}),
        batch: row.batch,
        cachedMs: row.p50Ms,
        liveMs,
        ratio,
      };
  }
  return worst;
}

/** Linear-interpolated quantile of unsorted samples (q in [0, 1]). */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** The profile as a text table (φ × batch size), for `vdet worker --profile-only` and `vdet plan`. */
export function formatProfile(table: ProfileTable): string {
  const load = table.load ? `, load ${table.load.loadAverage1m.toFixed(2)} on ${table.load.cpus} CPUs` : "";
  const lines = [`profile ${table.key} (measured ${table.measuredAt}${load})`];
  lines.push(
    ["model", "batch", "p50 ms", "p90 ms", "ms/frame", "frames/s"].map((c) => c.padStart(9)).join(""),
  );
  for (const row of table.rows) {
    lines.push(
      [
        choiceLabel({ phi: row.phi, precision: row.precision ?? "fp32" }),
        String(row.batch),
        row.p50Ms.toFixed(1),
        row.p90Ms.toFixed(1),
        (row.p90Ms / row.batch).toFixed(1),
        ((1000 * row.batch) / Math.max(row.p90Ms, 1e-3)).toFixed(1),
      ]
        .map((c) => c.padStart(9))
        .join(""),
    );
  }
  for (const a of table.agreements ?? [])
    lines.push(`${choiceLabel(a)}: agreement with fp32 ${a.agreement.toFixed(3)} (from its build)`);
  return lines.join("\n");
}

const keyOf = (phi: PhiValue, batch: number, precision: Precision) => `${phi}|${precision}|${batch}`;
const parsePhiKey = (phi: string): PhiValue => (phi === "7x" ? "7x" : (Number(phi) as PhiValue));
function parseKey(key: string): { phi: PhiValue; precision: Precision; batch: number } {
  const [phi, precision, batch] = key.split("|");
  return { phi: parsePhiKey(phi), precision: precision as Precision, batch: Number(batch) };
}
const round = (v: number) => Math.round(v * 100) / 100;
