// Offline refinement of finished tracks (archive jobs, `--refine`): fill short gaps inside a track
// by interpolation, then smooth every track over time with a Gaussian-weighted local-linear fit
// (the idea of StrongSORT++'s GSI: linear interpolation, then Gaussian-process smoothing). Live
// output cannot wait for it: a box can only be smoothed once the frames after it are known.

import { TrackerOptionsError } from "./errors.ts";
import { scaleFrames } from "./options.ts";

/** One reported box of a track (frames counted in the stream's frames, x1, y1, x2, y2). */
export interface RefineRow {
  frame: number;
  id: number;
  box: ArrayLike<number>;
  score: number;
  classId?: number;
}

/** A refined row; `interpolated` marks boxes added inside a gap (no detection there). */
export interface RefinedRow {
  frame: number;
  id: number;
  box: [number, number, number, number];
  score: number;
  classId?: number;
  interpolated: boolean;
}

export interface RefineOptions {
  /** Frames per second of the rows' frame numbers (after any sampling). */
  fps: number;
  /** Gaps of at most this many missing frames (at 30 fps, scaled to `fps`) are filled. */
  maxGapFrames: number;
  /**
   * Tracks that end and tracks that start at most this many frames later (at 30 fps, scaled to
   * `fps`) are joined into one when the first track, continued at its last velocity, overlaps the
   * second's first box by at least linkIou (best pairs first, each track joined once per end); 0: off.
   */
  maxLinkGapFrames: number;
  /** Minimum IoU of the extrapolated end of one track with the start of the next to join them. */
  linkIou: number;
  /** Standard deviation of the Gaussian time weight, in frames at 30 fps (scaled to `fps`); 0: no smoothing. */
  smoothingSigmaFrames: number;
}

export const DEFAULT_REFINE_OPTIONS: Readonly<RefineOptions> = Object.freeze({
  fps: 30,
  maxGapFrames: 20,
  maxLinkGapFrames: 60,
  linkIou: 0.3,
  smoothingSigmaFrames: 3,
});

const REFERENCE_FPS = 30;

function resolveRefineOptions(options: Partial<RefineOptions>): RefineOptions {
  const o = { ...DEFAULT_REFINE_OPTIONS };
  for (const [key, value] of Object.entries(options)) {
    if (!(key in DEFAULT_REFINE_OPTIONS)) throw new TrackerOptionsError(`unknown refine option "${key}"`);
    if (value !== undefined) (o as Record<string, number>)[key] = value as number;
  }
  if (!(o.fps > 0) || !Number.isFinite(o.fps))
    throw new TrackerOptionsError(`refine option fps must be a positive number, got ${String(o.fps)}`);
  if (!(o.linkIou >= 0 && o.linkIou <= 1))
    throw new TrackerOptionsError(`refine option linkIou must be in [0, 1], got ${String(o.linkIou)}`);
  for (const name of ["maxGapFrames", "maxLinkGapFrames", "smoothingSigmaFrames"] as const) {
    const v = o[name];
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0)
      throw new TrackerOptionsError(`refine option ${name} must be a number ≥ 0, got ${String(v)}`);
  }
  return o;
}

/**
 * Refines tracker output offline: per track id, gaps of ≤ maxGapFrames missing frames are filled
 * by linear interpolation, then each box coordinate is replaced by a Gaussian-weighted local-linear
 * fit over the neighbouring frames (exact for constant velocity, so it does not lag at track ends).
 * Returns rows sorted by frame, then id. Rows of one id must have distinct frames.
 */
export function refineTracks(rows: readonly RefineRow[], options: Partial<RefineOptions> = {}): RefinedRow[] {
  const o = resolveRefineOptions(options);
  const maxGap = o.maxGapFrames === 0 ? 0 : scaleFrames(Math.round(o.maxGapFrames), o.fps, REFERENCE_FPS);
  const sigma = (o.smoothingSigmaFrames * o.fps) / REFERENCE_FPS;
  const maxLinkGap =
    o.maxLinkGapFrames === 0 ? 0 : scaleFrames(Math.round(o.maxLinkGapFrames), o.fps, REFERENCE_FPS);
  let byId = new Map<number, RefineRow[]>();
  for (const row of rows) {
    if (!Number.isInteger(row.frame) || !Number.isInteger(row.id))
      throw new TrackerOptionsError(
        `refine rows need whole frame and id numbers, got ${row.frame}, ${row.id}`,
      );
    const list = byId.get(row.id);
    if (list) list.push(row);
    else byId.set(row.id, [row]);
  }
  for (const list of byId.values()) list.sort((a, b) => a.frame - b.frame);
  if (maxLinkGap > 0) byId = linkTracklets(byId, maxLinkGap, o.linkIou);
  // A joined gap is filled like a gap inside one track.
  const fillGap = Math.max(maxGap, maxLinkGap);
  const out: RefinedRow[] = [];
  for (const [id, list] of byId) {
    const dense: RefinedRow[] = [];
    for (let k = 0; k < list.length; k++) {
      const row = list[k];
      if (k > 0 && row.frame === list[k - 1].frame)
        throw new TrackerOptionsError(`track ${id} has two rows in frame ${row.frame}`);
      const box: [number, number, number, number] = [row.box[0], row.box[1], row.box[2], row.box[3]];
      if (k > 0) {
        const prev = dense[dense.length - 1];
        const gap = row.frame - prev.frame - 1;
        if (gap > 0 && gap <= fillGap) {
          for (let f = prev.frame + 1; f < row.frame; f++) {
            const t = (f - prev.frame) / (row.frame - prev.frame);
            const b: [number, number, number, number] = [0, 0, 0, 0];
            for (let c = 0; c < 4; c++) b[c] = prev.box[c] + (box[c] - prev.box[c]) * t;
            dense.push({
              frame: f,
              id,
              box: b,
              score: Math.min(prev.score, row.score),
              ...(row.classId !== undefined ? { classId: row.classId } : {}),
              interpolated: true,
            });
          }
        }
      }
      dense.push({
        frame: row.frame,
        id,
        box,
        score: row.score,
        ...(row.classId !== undefined ? { classId: row.classId } : {}),
        interpolated: false,
      });
    }
    out.push(...(sigma > 0 ? smooth(dense, sigma) : dense));
  }
  out.sort((a, b) => a.frame - b.frame || a.id - b.id);
  return out;
}

/**
 * Gaussian-weighted local-linear regression of each coordinate on the frame number, over the rows
 * within 3σ (a track's rows are sorted by frame; gaps not filled stay gaps and weigh by distance).
 */
function smooth(rows: RefinedRow[], sigma: number): RefinedRow[] {
  const reach = Math.ceil(3 * sigma);
  const n = rows.length;
  const result: RefinedRow[] = [];
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < n; i++) {
    const t0 = rows[i].frame;
    while (rows[lo].frame < t0 - reach) lo++;
    while (hi + 1 < n && rows[hi + 1].frame <= t0 + reach) hi++;
    let sw = 0;
    let st = 0;
    let stt = 0;
    const sx = [0, 0, 0, 0];
    const stx = [0, 0, 0, 0];
    for (let j = lo; j <= hi; j++) {
      const dt = rows[j].frame - t0;
      const w = Math.exp((-dt * dt) / (2 * sigma * sigma));
      sw += w;
      st += w * dt;
      stt += w * dt * dt;
      for (let c = 0; c < 4; c++) {
        sx[c] += w * rows[j].box[c];
        stx[c] += w * dt * rows[j].box[c];
      }
    }
    // Fit x = a + b·dt; the value at dt = 0 is a. A single point (or no spread) gives the weighted mean.
    const det = sw * stt - st * st;
    const box: [number, number, number, number] = [0, 0, 0, 0];
    for (let c = 0; c < 4; c++) {
      box[c] = det > 1e-9 * sw * sw ? (sx[c] * stt - st * stx[c]) / det : sx[c] / sw;
    }
    if (!(box[2] > box[0] && box[3] > box[1])) box.splice(0, 4, ...rows[i].box);
    result.push({ ...rows[i], box });
  }
  return result;
}

/** Velocity (per frame) of each box coordinate over the last `span` rows of a track (end-to-end slope). */
function endVelocity(list: readonly RefineRow[], fromEnd: boolean, span: number): number[] {
  const n = list.length;
  const k = Math.min(span, n - 1);
  if (k < 1) return [0, 0, 0, 0];
  const a = fromEnd ? list[n - 1 - k] : list[0];
  const b = fromEnd ? list[n - 1] : list[k];
  const dt = b.frame - a.frame;
  return [0, 1, 2, 3].map((c) => (b.box[c] - a.box[c]) / dt);
}

function iou(a: readonly number[], b: ArrayLike<number>): number {
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
}

/**
 * Joins tracklets: a track ending at frame e and one starting at s (e < s ≤ e + maxGap + 1) are
 * candidates when both, continued at their end velocities to the middle of the gap, overlap with
 * IoU ≥ minIou; pairs are taken best first, each end and each start used once. The later track
 * takes the earlier one's id (its rows are kept under the joined id, in frame order).
 */
function linkTracklets(
  byId: Map<number, RefineRow[]>,
  maxGap: number,
  minIou: number,
): Map<number, RefineRow[]> {
  const ids = [...byId.keys()];
  const pairs: { from: number; to: number; score: number }[] = [];
  const SPAN = 5;
  // Tracks by first frame, so each end only looks at the tracks starting within the gap window.
  const byStart = [...ids].sort(
    (p, q) => (byId.get(p) as RefineRow[])[0].frame - (byId.get(q) as RefineRow[])[0].frame || p - q,
  );
  const startFrame = (k: number) => (byId.get(byStart[k]) as RefineRow[])[0].frame;
  for (const a of ids) {
    const la = byId.get(a) as RefineRow[];
    const end = la[la.length - 1];
    const va = endVelocity(la, true, SPAN);
    let lo = 0;
    let hi = byStart.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (startFrame(mid) <= end.frame) lo = mid + 1;
      else hi = mid;
    }
    for (let k = lo; k < byStart.length && startFrame(k) - end.frame - 1 <= maxGap; k++) {
      const b = byStart[k];
      if (a === b) continue;
      const lb = byId.get(b) as RefineRow[];
      const start = lb[0];
      if (la[0].classId !== undefined && start.classId !== undefined && la[0].classId !== start.classId)
        continue;
      const vb = endVelocity(lb, false, SPAN);
      // Both continued to the middle of the gap (constant velocity), where they should meet.
      const mid = (end.frame + start.frame) / 2;
      const fa = [0, 1, 2, 3].map((c) => end.box[c] + va[c] * (mid - end.frame));
      const fb = [0, 1, 2, 3].map((c) => start.box[c] + vb[c] * (mid - start.frame));
      if (!(fa[2] > fa[0] && fa[3] > fa[1] && fb[2] > fb[0] && fb[3] > fb[1])) continue;
      const score = iou(fa, fb);
      if (score >= minIou) pairs.push({ from: a, to: b, score });
    }
  }
  pairs.sort((p, q) => q.score - p.score || p.from - q.from || p.to - q.to);
  const next = new Map<number, number>();
  const prev = new Map<number, number>();
  for (const p of pairs) {
    if (next.has(p.from) || prev.has(p.to)) continue;
    next.set(p.from, p.to);
    prev.set(p.to, p.from);
  }
  const joined = new Map<number, RefineRow[]>();
  for (const id of ids) {
    if (prev.has(id)) continue; // a chain starts at a track nothing links into
    const rows: RefineRow[] = [];
    for (let k: number | undefined = id; k !== undefined; k = next.get(k)) {
      for (const r of byId.get(k) as RefineRow[]) rows.push(r.id === id ? r : { ...r, id });
    }
    joined.set(id, rows);
  }
  return joined;
}
