// How long a batch of b frames takes at φ on this worker: measured at start-up, then kept current from live
// runs as a moving percentile over the last samples, so a slower or busier machine corrects its own predictions.

import { type PhiValue, phiRank, phiSchema } from "@vdet/protocol";
import { z } from "zod";

export interface LatencyProfileOptions {
  /** Percentile of the recent samples used as the prediction (0…1). */
  percentile?: number;
  /** Samples kept per (φ, batch size). */
  window?: number;
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
          batch: z.number().int().min(1),
          p50Ms: z.number().min(0),
          p90Ms: z.number().min(0),
          samplesMs: z.array(z.number().min(0)).min(1),
        })
        .strict(),
    ),
  })
  .strict();
export type ProfileTable = z.infer<typeof profileTableSchema>;
export type ProfileRow = ProfileTable["rows"][number];

export class LatencyProfile {
  private readonly samples = new Map<string, number[]>();
  private readonly percentile: number;
  private readonly window: number;

  constructor(options: LatencyProfileOptions = {}) {
    this.percentile = options.percentile ?? 0.9;
    this.window = options.window ?? 32;
    if (!(this.percentile > 0 && this.percentile <= 1)) throw new RangeError("percentile must be in (0, 1]");
    if (!(this.window >= 1)) throw new RangeError("window must be at least 1");
  }

  static fromTable(table: ProfileTable, options?: LatencyProfileOptions): LatencyProfile {
    const profile = new LatencyProfile(options);
    for (const row of table.rows) for (const ms of row.samplesMs) profile.observe(row.phi, row.batch, ms);
    return profile;
  }

  /** Records one measured run of `batch` frames at φ. */
  observe(phi: PhiValue, batch: number, ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    const key = keyOf(phi, batch);
    const list = this.samples.get(key) ?? [];
    list.push(ms);
    if (list.length > this.window) list.splice(0, list.length - this.window);
    this.samples.set(key, list);
  }

  /** The median of the kept samples for exactly (φ, batch), or undefined when there are none. */
  median(phi: PhiValue, batch: number): number | undefined {
    const list = this.samples.get(keyOf(phi, batch));
    return list && list.length > 0 ? quantile(list, 0.5) : undefined;
  }

  /** φ with at least one measurement, ascending. */
  phis(): PhiValue[] {
    const set = new Set<PhiValue>();
    for (const key of this.samples.keys()) set.add(parseKey(key).phi);
    return [...set].sort((a, b) => phiRank(a) - phiRank(b));
  }

  /** Measured batch sizes for φ, ascending. */
  batchSizes(phi: PhiValue): number[] {
    return [...this.samples.keys()]
      .map(parseKey)
      .filter((k) => k.phi === phi)
      .map((k) => k.batch)
      .sort((a, b) => a - b);
  }

  /**
   * Predicted time for a batch of `batch` frames at φ, ms, or undefined when φ was never measured. Between
   * measured batch sizes the prediction is interpolated; above the largest it grows with the per-frame cost of
   * the largest (batching is never assumed to get cheaper than measured); below the smallest it is the smallest's.
   */
  predict(phi: PhiValue, batch: number): number | undefined {
    const sizes = this.batchSizes(phi);
    if (sizes.length === 0) return undefined;
    const at = (b: number) => quantile(this.samples.get(keyOf(phi, b))!, this.percentile);
    const exact = this.samples.get(keyOf(phi, batch));
    if (exact) return quantile(exact, this.percentile);
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
   * within `maxBatchMs` (a latency budget's share); undefined when no batch size fits.
   */
  throughput(
    phi: PhiValue,
    maxBatch: number,
    maxBatchMs = Number.POSITIVE_INFINITY,
  ): { batch: number; framesPerSecond: number; batchMs: number } | undefined {
    let best: { batch: number; framesPerSecond: number; batchMs: number } | undefined;
    for (let b = 1; b <= maxBatch; b++) {
      const ms = this.predict(phi, b);
      if (ms === undefined || ms > maxBatchMs) continue;
      const framesPerSecond = (1000 * b) / Math.max(ms, 1e-3);
      if (!best || framesPerSecond > best.framesPerSecond) best = { batch: b, framesPerSecond, batchMs: ms };
    }
    return best;
  }

  toTable(key: string, measuredAt = new Date().toISOString(), load?: ProfileTable["load"]): ProfileTable {
    const rows: ProfileRow[] = [...this.samples]
      .map(([k, samplesMs]) => ({
        ...parseKey(k),
        p50Ms: round(quantile(samplesMs, 0.5)),
        p90Ms: round(quantile(samplesMs, 0.9)),
        samplesMs: samplesMs.map(round),
      }))
      .sort((a, b) => phiRank(a.phi) - phiRank(b.phi) || a.batch - b.batch);
    return { version: 1, key, measuredAt, ...(load ? { load } : {}), rows };
  }
}

/** Where live batch times differ most from a stored profile: the (φ, batch) with the largest ratio either way. */
export interface ProfileDrift {
  phi: PhiValue;
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
    const liveMs = live.median(row.phi, row.batch);
    if (liveMs === undefined || row.p50Ms <= 0) continue;
    const ratio = liveMs / row.p50Ms;
    const off = Math.max(ratio, 1 / ratio);
    if (off > threshold && (!worst || off > Math.max(worst.ratio, 1 / worst.ratio)))
      worst = { phi: row.phi, batch: row.batch, cachedMs: row.p50Ms, liveMs, ratio };
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
  lines.push(["φ", "batch", "p50 ms", "p90 ms", "ms/frame", "frames/s"].map((c) => c.padStart(9)).join(""));
  for (const row of table.rows) {
    lines.push(
      [
        `D${row.phi}`,
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
  return lines.join("\n");
}

const keyOf = (phi: PhiValue, batch: number) => `${phi}|${batch}`;
function parseKey(key: string): { phi: PhiValue; batch: number } {
  const [phi, batch] = key.split("|");
  return { phi: phi === "7x" ? "7x" : (Number(phi) as PhiValue), batch: Number(batch) };
}
const round = (v: number) => Math.round(v * 100) / 100;
