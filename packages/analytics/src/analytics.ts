// Streaming zone and line analytics over tracked detections: fed one frame at a time, it emits enter / exit /
// loiter events for zones and cross-in / cross-out events for lines, and keeps counts, occupancy, dwell times and a
// per-minute series. Its whole state is plain data (`serialize` / `restore`), so a checkpointed run that is
// restored and continued gives exactly what an uninterrupted one gives.

import { codedError, defineErrorCodes } from "@vdet/errors";
import { type Point, pointInPolygon, segmentsIntersect, sideOf } from "./geometry.ts";
import {
  type AnalyticsSnapshot,
  bump,
  emptyRuntime,
  type LineState,
  type LineTrack,
  minuteBucket,
  type Runtime,
  restoreRuntime,
  type State,
  snapshotRuntime,
  type ZoneState,
  type ZoneTrack,
  zoneCounts,
} from "./state.ts";
import { type AnalyticsSummary, lineSummary, zoneSummary } from "./summary.ts";
import { anchorPoint, type ResolvedLine, type ResolvedZone, type ResolvedZones } from "./zones.ts";

/** One sampled frame of tracked detections. */
export interface AnalyticsFrame {
  frame: number;
  ptsMs: number;
  /** x1, y1, x2, y2 per detection, in source pixels. */
  boxes: ArrayLike<number>;
  /** Class id per detection. */
  classes: ArrayLike<number>;
  /** Class name per detection; `class-<id>` when absent. */
  labels?: readonly string[];
  /** Track id per detection; null or a negative id for an untracked detection, which is ignored. */
  trackIds: ArrayLike<number | null>;
}

interface EventBase {
  trackId: number;
  /** Class name (label) of the track's detection when the event happened. */
  class: string;
  classId: number;
  frame: number;
  ptsMs: number;
}
export interface ZoneEvent extends EventBase {
  type: "enter" | "exit" | "loiter";
  zone: string;
  /** 1 for the track's first visit of this zone, 2 when it came back, … */
  visit: number;
  /** exit and loiter: time in the zone so far (ms). */
  dwellMs?: number;
  /** exit: "left" (seen outside) or "lost" (not seen for lostAfterMs; the exit is at its last sighting). */
  reason?: "left" | "lost";
}
export interface LineEvent extends EventBase {
  type: "cross-in" | "cross-out";
  line: string;
}
export type AnalyticsEvent = ZoneEvent | LineEvent;

export const ANALYTICS_ERRORS = defineErrorCodes("analytics", {
  ANALYTICS_STATE: { retryable: false, description: "a saved analytics state cannot be restored" },
});

export class AnalyticsStateError extends codedError(ANALYTICS_ERRORS.ANALYTICS_STATE) {}

export class Analytics {
  private readonly zoneRuntime: Runtime<ZoneTrack>[];
  private readonly lineRuntime: Runtime<LineTrack>[];
  private state: State;

  constructor(readonly config: ResolvedZones) {
    this.state = {
      frames: 0,
      firstFrame: null,
      lastFrame: null,
      firstPtsMs: null,
      lastPtsMs: null,
      zones: config.zones.map(() => ({
        tracks: [],
        countedIn: [],
        countedOut: [],
        classes: {},
        peak: 0,
        peakFrame: null,
        peakPtsMs: null,
        peakByClass: {},
        minutes: [],
      })),
      lines: config.lines.map(() => ({ classes: {}, minutes: [] })),
    };
    this.zoneRuntime = config.zones.map(() => emptyRuntime());
    this.lineRuntime = config.lines.map(() => emptyRuntime());
  }

  /** Continues from a snapshot taken with `serialize` under the same configuration. */
  static restore(config: ResolvedZones, snapshot: AnalyticsSnapshot): Analytics {
    if (snapshot.version !== 1)
      throw new AnalyticsStateError(`unknown analytics state version ${snapshot.version}`);
    if (JSON.stringify(snapshot.config) !== JSON.stringify(config))
      throw new AnalyticsStateError(
        "the analytics state was saved with other zones or lines; it cannot be continued with these",
      );
    const a = new Analytics(config);
    const { version: _v, config: _c, ...copy } = structuredClone(snapshot);
    a.state = {
      ...copy,
      zones: copy.zones.map(({ tracks, countedIn, countedOut, ...z }, i) => {
        restoreRuntime(a.zoneRuntime[i], { tracks, countedIn, countedOut });
        return z;
      }),
      lines: copy.lines.map(({ tracks, countedIn, countedOut, ...l }, i) => {
        restoreRuntime(a.lineRuntime[i], { tracks, countedIn, countedOut });
        return l;
      }),
    };
    return a;
  }

  /** A deep copy of the whole state, JSON-safe, for `restore`. */
  serialize(): AnalyticsSnapshot {
    return structuredClone({
      version: 1,
      config: this.config,
      ...this.state,
      zones: this.state.zones.map((z, i) => ({ ...z, ...snapshotRuntime(this.zoneRuntime[i]) })),
      lines: this.state.lines.map((l, i) => ({ ...l, ...snapshotRuntime(this.lineRuntime[i]) })),
    });
  }

  /** Frames fed so far. */
  get frames(): number {
    return this.state.frames;
  }

  /**
   * Drops the once-per-track memory (counted in / counted out) of tracks that have ended: ids not followed any more
   * (not seen for lostAfterMs, so already out of every zone) for which `ended(id)` says they will never be fed again
   * (a tracker has dropped them; its ids are never reused). Their contributions stay in the counts, dwell lists and
   * series, so every later event and summary is exactly what it would have been; only the state (checkpointed)
   * stops growing with every track ever seen. Returns how many entries were dropped.
   */
  forgetEnded(ended: (trackId: number) => boolean): number {
    let dropped = 0;
    for (const rt of [...this.zoneRuntime, ...this.lineRuntime] as Runtime<unknown>[])
      for (const counted of [rt.countedIn, rt.countedOut])
        for (const id of counted)
          if (!rt.tracks.has(id) && ended(id)) {
            counted.delete(id);
            dropped++;
          }
    return dropped;
  }

  /** Feeds one frame (in pts order) and returns the events it caused, in a fixed order. */
  update(frame: AnalyticsFrame): AnalyticsEvent[] {
    const s = this.state;
    if (s.lastPtsMs !== null && frame.ptsMs < s.lastPtsMs)
      throw new AnalyticsStateError(`frame ${frame.frame} (${frame.ptsMs} ms) comes before the last one fed`);
    s.frames++;
    s.firstFrame ??= frame.frame;
    s.firstPtsMs ??= frame.ptsMs;
    s.lastFrame = frame.frame;
    s.lastPtsMs = frame.ptsMs;
    const events: AnalyticsEvent[] = [];
    this.config.zones.forEach((zone, i) => {
      this.updateZone(zone, s.zones[i], this.zoneRuntime[i], frame, events);
    });
    this.config.lines.forEach((line, i) => {
      this.updateLine(line, s.lines[i], this.lineRuntime[i], frame, events);
    });
    return events;
  }

  /** analytics.json: counts, occupancy, dwell and the per-minute series so far. */
  summary(): AnalyticsSummary {
    const s = this.state;
    return {
      frames: s.frames,
      firstFrame: s.firstFrame,
      lastFrame: s.lastFrame,
      firstPtsMs: s.firstPtsMs,
      lastPtsMs: s.lastPtsMs,
      zones: this.config.zones.map((zone, i) =>
        zoneSummary(zone.name, s.zones[i], this.zoneRuntime[i].tracks),
      ),
      lines: this.config.lines.map((line, i) => lineSummary(line.name, s.lines[i])),
    };
  }

  private updateZone(
    zone: ResolvedZone,
    zs: ZoneState,
    rt: Runtime<ZoneTrack>,
    f: AnalyticsFrame,
    events: AnalyticsEvent[],
  ): void {
    const tracks = rt.tracks;
    forEachTracked(f, zone.classes, (trackId, classId, label, x1, y1, x2, y2) => {
      const p = anchorPoint(x1, y1, x2, y2, zone.anchor);
      const inside = pointInPolygon(zone.polygon, p);
      let t = tracks.get(trackId);
      if (!t) {
        t = {
          inside: false,
          pending: 0,
          pendingFrame: f.frame,
          pendingPtsMs: f.ptsMs,
          visits: 0,
          visitFrame: f.frame,
          visitPtsMs: f.ptsMs,
          visitClass: label,
          loitered: false,
          lastFrame: f.frame,
          lastPtsMs: f.ptsMs,
          lastClass: label,
          lastClassId: classId,
        };
        tracks.set(trackId, t);
      }
      t.lastFrame = f.frame;
      t.lastPtsMs = f.ptsMs;
      t.lastClass = label;
      t.lastClassId = classId;
      if (inside === t.inside) {
        t.pending = 0;
      } else {
        if (t.pending === 0) {
          t.pendingFrame = f.frame;
          t.pendingPtsMs = f.ptsMs;
        }
        if (++t.pending >= zone.inertiaFrames) {
          t.pending = 0;
          if (inside) enter(zone, zs, rt, trackId, t, events);
          else exit(zone, zs, rt, trackId, t, "left", events);
        }
      }
      if (t.inside && !t.loitered && zone.loiterMs !== null && f.ptsMs - t.visitPtsMs >= zone.loiterMs) {
        t.loitered = true;
        zoneCounts(zs, t.visitClass).loitering++;
        events.push(
          zoneEvent("loiter", zone, trackId, t, f.frame, f.ptsMs, { dwellMs: f.ptsMs - t.visitPtsMs }),
        );
      }
    });
    // Tracks not seen for lostAfterMs leave the zone at their last sighting.
    for (const [trackId, t] of tracks) {
      if (f.ptsMs - t.lastPtsMs <= this.config.lostAfterMs) continue;
      if (t.inside) {
        if (t.pending === 0) {
          t.pendingFrame = t.lastFrame;
          t.pendingPtsMs = t.lastPtsMs;
        }
        exit(zone, zs, rt, trackId, t, "lost", events);
      }
      tracks.delete(trackId);
    }
    let occupancy = 0;
    const byClass: Record<string, number> = {};
    for (const t of tracks.values()) {
      if (!t.inside) continue;
      occupancy++;
      byClass[t.visitClass] = (byClass[t.visitClass] ?? 0) + 1;
    }
    if (occupancy > zs.peak) {
      zs.peak = occupancy;
      zs.peakFrame = f.frame;
      zs.peakPtsMs = f.ptsMs;
    }
    for (const [label, n] of Object.entries(byClass))
      zs.peakByClass[label] = Math.max(zs.peakByClass[label] ?? 0, n);
    const bucket = minuteBucket(zs.minutes, f.ptsMs);
    bucket.peakOccupancy = Math.max(bucket.peakOccupancy, occupancy);
  }

  private updateLine(
    line: ResolvedLine,
    ls: LineState,
    rt: Runtime<LineTrack>,
    f: AnalyticsFrame,
    events: AnalyticsEvent[],
  ): void {
    const tracks = rt.tracks;
    forEachTracked(f, line.classes, (trackId, classId, label, x1, y1, x2, y2) => {
      const p = anchorPoint(x1, y1, x2, y2, line.anchor);
      const side = sideOf(line.from, line.to, p);
      let t = tracks.get(trackId);
      if (!t) {
        t = {
          side: 0,
          pending: 0,
          pendingFrame: f.frame,
          pendingPtsMs: f.ptsMs,
          pendingThrough: false,
          lastX: p[0],
          lastY: p[1],
          lastPtsMs: f.ptsMs,
        };
        tracks.set(trackId, t);
      }
      t.lastPtsMs = f.ptsMs;
      // A point exactly on the line neither confirms nor breaks a streak; the step is judged from the last
      // point off the line.
      if (side === 0) return;
      const last: Point = [t.lastX, t.lastY];
      t.lastX = p[0];
      t.lastY = p[1];
      if (t.side === 0) {
        t.side = side;
        return;
      }
      if (side === t.side) {
        t.pending = 0;
        return;
      }
      if (t.pending === 0) {
        t.pendingFrame = f.frame;
        t.pendingPtsMs = f.ptsMs;
        t.pendingThrough = segmentsIntersect(last, p, line.from, line.to);
      }
      if (++t.pending < line.inertiaFrames) return;
      t.pending = 0;
      t.side = side;
      // A track that went round the end of the line changes side without crossing it.
      if (!t.pendingThrough) return;
      const direction = side === 1 ? "in" : "out";
      const counted = direction === "in" ? rt.countedIn : rt.countedOut;
      if (counted.has(trackId)) return;
      counted.add(trackId);
      ls.classes[label] ??= { in: 0, out: 0 };
      ls.classes[label][direction]++;
      bump(minuteBucket(ls.minutes, t.pendingPtsMs)[direction], label);
      events.push({
        type: direction === "in" ? "cross-in" : "cross-out",
        line: line.name,
        trackId,
        class: label,
        classId,
        frame: t.pendingFrame,
        ptsMs: t.pendingPtsMs,
      });
    });
    for (const [trackId, t] of tracks)
      if (f.ptsMs - t.lastPtsMs > this.config.lostAfterMs) tracks.delete(trackId);
    minuteBucket(ls.minutes, f.ptsMs);
  }
}

function enter(
  zone: ResolvedZone,
  zs: ZoneState,
  rt: Runtime<ZoneTrack>,
  trackId: number,
  t: ZoneTrack,
  events: AnalyticsEvent[],
): void {
  t.inside = true;
  t.visits++;
  t.visitFrame = t.pendingFrame;
  t.visitPtsMs = t.pendingPtsMs;
  t.visitClass = t.lastClass;
  t.loitered = false;
  const counts = zoneCounts(zs, t.visitClass);
  counts.visits++;
  if (!rt.countedIn.has(trackId)) {
    rt.countedIn.add(trackId);
    counts.in++;
    bump(minuteBucket(zs.minutes, t.visitPtsMs).in, t.visitClass);
  }
  events.push(zoneEvent("enter", zone, trackId, t, t.visitFrame, t.visitPtsMs, {}));
}

function exit(
  zone: ResolvedZone,
  zs: ZoneState,
  rt: Runtime<ZoneTrack>,
  trackId: number,
  t: ZoneTrack,
  reason: "left" | "lost",
  events: AnalyticsEvent[],
): void {
  t.inside = false;
  const dwellMs = t.pendingPtsMs - t.visitPtsMs;
  const counts = zoneCounts(zs, t.visitClass);
  counts.dwellMs.push(dwellMs);
  if (!rt.countedOut.has(trackId)) {
    rt.countedOut.add(trackId);
    counts.out++;
    bump(minuteBucket(zs.minutes, t.pendingPtsMs).out, t.visitClass);
  }
  events.push(zoneEvent("exit", zone, trackId, t, t.pendingFrame, t.pendingPtsMs, { dwellMs, reason }));
}

/** Calls `fn` for each tracked detection of the frame whose class passes the filter. */
function forEachTracked(
  f: AnalyticsFrame,
  filter: readonly (string | number)[] | null,
  fn: (
    trackId: number,
    classId: number,
    label: string,
    x1: number,
    y1: number,
    x2: number,
    y2: number,
  ) => void,
): void {
  for (let i = 0; i < f.classes.length; i++) {
    const trackId = f.trackIds[i];
    if (trackId === null || trackId === undefined || trackId < 0) continue;
    const classId = f.classes[i];
    const label = f.labels?.[i] ?? `class-${classId}`;
    if (filter && !filter.includes(label) && !filter.includes(classId)) continue;
    fn(trackId, classId, label, f.boxes[i * 4], f.boxes[i * 4 + 1], f.boxes[i * 4 + 2], f.boxes[i * 4 + 3]);
  }
}

function zoneEvent(
  type: ZoneEvent["type"],
  zone: ResolvedZone,
  trackId: number,
  t: ZoneTrack,
  frame: number,
  ptsMs: number,
  extra: Pick<ZoneEvent, "dwellMs" | "reason">,
): ZoneEvent {
  return {
    type,
    zone: zone.name,
    trackId,
    class: t.lastClass,
    classId: t.lastClassId,
    frame,
    ptsMs,
    visit: t.visits,
    ...extra,
  };
}

/** One line of a job's tracks.jsonl, as far as analytics reads it. */
export interface TrackLineLike {
  frame: number;
  ptsMs: number;
  detections: readonly { box: readonly number[]; class: number; label?: string; trackId: number | null }[];
}

/** The analytics input for one tracks.jsonl line. */
export function analyticsFrame(line: TrackLineLike): AnalyticsFrame {
  const boxes = new Float64Array(line.detections.length * 4);
  line.detections.forEach((d, i) => {
    boxes.set(d.box.slice(0, 4), i * 4);
  });
  return {
    frame: line.frame,
    ptsMs: line.ptsMs,
    boxes,
    classes: line.detections.map((d) => d.class),
    labels: line.detections.map((d) => d.label ?? `class-${d.class}`),
    trackIds: line.detections.map((d) => d.trackId),
  };
}
