// Summary statistics of dwell times: count, mean and quantiles (linear interpolation between order statistics,
// numpy's default), in milliseconds.

export interface DwellStats {
  count: number;
  meanMs: number | null;
  p50Ms: number | null;
  p90Ms: number | null;
  maxMs: number | null;
}

/** The q-quantile (0 … 1) of ascending `sorted`. */
export function quantile(sorted: readonly number[], q: number): number {
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

export function dwellStats(durationsMs: readonly number[]): DwellStats {
  if (durationsMs.length === 0) return { count: 0, meanMs: null, p50Ms: null, p90Ms: null, maxMs: null };
  const sorted = [...durationsMs].sort((a, b) => a - b);
  const sum = sorted.reduce((s, v) => s + v, 0);
  return {
    count: sorted.length,
    meanMs: sum / sorted.length,
    p50Ms: quantile(sorted, 0.5),
    p90Ms: quantile(sorted, 0.9),
    maxMs: sorted[sorted.length - 1],
  };
}
