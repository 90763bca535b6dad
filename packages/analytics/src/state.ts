// The state of the streaming analytics as plain data: per-track sides and streaks, counted tracks, counts,
// dwell lists and minute buckets, plus the helpers that update it. Maps and Sets at run time become arrays in a
// snapshot (insertion order kept), so a restored run continues exactly.

import type { ResolvedZones } from "./zones.ts";

export const MINUTE_MS = 60_000;

export interface ZoneTrack {
  inside: boolean;
  /** Consecutive sightings on the other side of the zone's boundary (inertia). */
  pending: number;
  pendingFrame: number;
  pendingPtsMs: number;
  visits: number;
  visitFrame: number;
  visitPtsMs: number;
  /** Class of the visit, fixed at entry (occupancy per class). */
  visitClass: string;
  loitered: boolean;
  lastFrame: number;
  lastPtsMs: number;
  lastClass: string;
  lastClassId: number;
}

export interface LineTrack {
  /** Confirmed side: −1 left, 1 right of from→to, 0 not yet known. */
  side: -1 | 0 | 1;
  pending: number;
  pendingFrame: number;
  pendingPtsMs: number;
  /** Whether the step that started the pending streak passed through the line segment. */
  pendingThrough: boolean;
  /** Last anchor that was not exactly on the line. */
  lastX: number;
  lastY: number;
  lastPtsMs: number;
}

export interface ClassCounts {
  in: number;
  out: number;
}
export interface ZoneClassCounts extends ClassCounts {
  visits: number;
  loitering: number;
  /** Durations of the visits that ended (ms). */
  dwellMs: number[];
}
export interface MinuteBucket {
  in: Record<string, number>;
  out: Record<string, number>;
  peakOccupancy: number;
}

/** Per-track state and the tracks already counted in / out, kept in Maps and Sets while running. */
export interface Runtime<T> {
  tracks: Map<number, T>;
  countedIn: Set<number>;
  countedOut: Set<number>;
}
export interface RuntimeSnapshot<T> {
  /** In insertion order, which fixes the order of "lost" exits. */
  tracks: [number, T][];
  countedIn: number[];
  countedOut: number[];
}

export interface ZoneState {
  classes: Record<string, ZoneClassCounts>;
  peak: number;
  peakFrame: number | null;
  peakPtsMs: number | null;
  peakByClass: Record<string, number>;
  minutes: [number, MinuteBucket][];
}
export interface LineState {
  classes: Record<string, ClassCounts>;
  minutes: [number, MinuteBucket][];
}

/** Everything `restore` needs; JSON-safe. */
export interface AnalyticsSnapshot {
  version: 1;
  /** The resolved zones this state belongs to (restore refuses another configuration). */
  config: ResolvedZones;
  frames: number;
  firstFrame: number | null;
  lastFrame: number | null;
  firstPtsMs: number | null;
  lastPtsMs: number | null;
  zones: (ZoneState & RuntimeSnapshot<ZoneTrack>)[];
  lines: (LineState & RuntimeSnapshot<LineTrack>)[];
}

export interface State {
  frames: number;
  firstFrame: number | null;
  lastFrame: number | null;
  firstPtsMs: number | null;
  lastPtsMs: number | null;
  zones: ZoneState[];
  lines: LineState[];
}

export function emptyRuntime<T>(): Runtime<T> {
  return { tracks: new Map(), countedIn: new Set(), countedOut: new Set() };
}

export function snapshotRuntime<T>(rt: Runtime<T>): RuntimeSnapshot<T> {
  return { tracks: [...rt.tracks], countedIn: [...rt.countedIn], countedOut: [...rt.countedOut] };
}

export function restoreRuntime<T>(rt: Runtime<T>, s: RuntimeSnapshot<T>): void {
  for (const [id, t] of s.tracks) rt.tracks.set(id, t);
  for (const id of s.countedIn) rt.countedIn.add(id);
  for (const id of s.countedOut) rt.countedOut.add(id);
}

export function zoneCounts(zs: ZoneState, label: string): ZoneClassCounts {
  zs.classes[label] ??= { in: 0, out: 0, visits: 0, loitering: 0, dwellMs: [] };
  return zs.classes[label];
}

export function bump(counts: Record<string, number>, label: string): void {
  counts[label] = (counts[label] ?? 0) + 1;
}

/** The bucket of the minute holding ptsMs; buckets stay in ascending order. */
export function minuteBucket(minutes: [number, MinuteBucket][], ptsMs: number): MinuteBucket {
  const minute = Math.floor(ptsMs / MINUTE_MS);
  let k = minutes.length - 1;
  while (k >= 0 && minutes[k][0] > minute) k--;
  if (k >= 0 && minutes[k][0] === minute) return minutes[k][1];
  const bucket: MinuteBucket = { in: {}, out: {}, peakOccupancy: 0 };
  minutes.splice(k + 1, 0, [minute, bucket]);
  return bucket;
}
