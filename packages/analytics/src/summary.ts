// analytics.json: counts, occupancy, dwell statistics and per-minute series, built from the analytics state.

import type { ClassCounts, LineState, MinuteBucket, ZoneClassCounts, ZoneState, ZoneTrack } from "./state.ts";
import { type DwellStats, dwellStats } from "./stats.ts";

export interface SeriesPoint {
  minute: number;
  in: number;
  out: number;
  byClass: Record<string, ClassCounts>;
  /** Zones only: most tracks inside at once during the minute. */
  peakOccupancy?: number;
}
export interface ZoneClassSummary {
  in: number;
  out: number;
  visits: number;
  loitering: number;
  /** Over every visit: finished ones, and open ones up to their last sighting. */
  dwell: DwellStats & { open: number };
}
export interface ZoneSummary {
  name: string;
  total: ZoneClassSummary;
  classes: Record<string, ZoneClassSummary>;
  occupancy: {
    current: number;
    peak: number;
    peakFrame: number | null;
    peakPtsMs: number | null;
    byClass: Record<string, { current: number; peak: number }>;
  };
  series: SeriesPoint[];
}
export interface LineSummary {
  name: string;
  total: ClassCounts;
  classes: Record<string, ClassCounts>;
  series: SeriesPoint[];
}
/** analytics.json. */
export interface AnalyticsSummary {
  frames: number;
  firstFrame: number | null;
  lastFrame: number | null;
  firstPtsMs: number | null;
  lastPtsMs: number | null;
  zones: ZoneSummary[];
  lines: LineSummary[];
}

export function zoneSummary(name: string, zs: ZoneState, tracks: Map<number, ZoneTrack>): ZoneSummary {
  const open: Record<string, number[]> = {};
  const current: Record<string, number> = {};
  for (const t of tracks.values()) {
    if (!t.inside) continue;
    open[t.visitClass] ??= [];
    open[t.visitClass].push(t.lastPtsMs - t.visitPtsMs);
    current[t.visitClass] = (current[t.visitClass] ?? 0) + 1;
  }
  const labels = [...new Set([...Object.keys(zs.classes), ...Object.keys(open)])].sort();
  const classSummary = (counts: ZoneClassCounts | undefined, openDwell: number[]): ZoneClassSummary => ({
    in: counts?.in ?? 0,
    out: counts?.out ?? 0,
    visits: counts?.visits ?? 0,
    loitering: counts?.loitering ?? 0,
    dwell: { ...dwellStats([...(counts?.dwellMs ?? []), ...openDwell]), open: openDwell.length },
  });
  const classes: Record<string, ZoneClassSummary> = {};
  for (const label of labels) classes[label] = classSummary(zs.classes[label], open[label] ?? []);
  const all = Object.values(zs.classes);
  const total = classSummary(
    {
      in: all.reduce((n, c) => n + c.in, 0),
      out: all.reduce((n, c) => n + c.out, 0),
      visits: all.reduce((n, c) => n + c.visits, 0),
      loitering: all.reduce((n, c) => n + c.loitering, 0),
      dwellMs: all.flatMap((c) => c.dwellMs),
    },
    Object.values(open).flat(),
  );
  const byClass: Record<string, { current: number; peak: number }> = {};
  for (const label of [...new Set([...Object.keys(zs.peakByClass), ...Object.keys(current)])].sort())
    byClass[label] = { current: current[label] ?? 0, peak: zs.peakByClass[label] ?? 0 };
  return {
    name,
    total,
    classes,
    occupancy: {
      current: Object.values(current).reduce((n, v) => n + v, 0),
      peak: zs.peak,
      peakFrame: zs.peakFrame,
      peakPtsMs: zs.peakPtsMs,
      byClass,
    },
    series: series(zs.minutes, true),
  };
}

export function lineSummary(name: string, ls: LineState): LineSummary {
  const classes = sortKeys(ls.classes, (c) => ({ in: c.in, out: c.out }));
  const total = { in: 0, out: 0 };
  for (const c of Object.values(classes)) {
    total.in += c.in;
    total.out += c.out;
  }
  return { name, total, classes, series: series(ls.minutes, false) };
}

/** Every minute from the first to the last bucket, gaps filled with zeros. */
function series(minutes: [number, MinuteBucket][], withOccupancy: boolean): SeriesPoint[] {
  if (minutes.length === 0) return [];
  const byMinute = new Map(minutes);
  const out: SeriesPoint[] = [];
  for (let m = minutes[0][0]; m <= minutes[minutes.length - 1][0]; m++) {
    const b = byMinute.get(m) ?? { in: {}, out: {}, peakOccupancy: 0 };
    const byClass: Record<string, ClassCounts> = {};
    for (const label of [...new Set([...Object.keys(b.in), ...Object.keys(b.out)])].sort())
      byClass[label] = { in: b.in[label] ?? 0, out: b.out[label] ?? 0 };
    const sum = (r: Record<string, number>) => Object.values(r).reduce((n, v) => n + v, 0);
    out.push({
      minute: m,
      in: sum(b.in),
      out: sum(b.out),
      byClass,
      ...(withOccupancy ? { peakOccupancy: b.peakOccupancy } : {}),
    });
  }
  return out;
}

function sortKeys<T, U>(record: Record<string, T>, map: (v: T) => U): Record<string, U> {
  return Object.fromEntries(
    Object.keys(record)
      .sort()
      .map((k) => [k, map(record[k])]),
  );
}
