// What zones add to the aggregator, per frame and per checkpoint: a synthetic scene (30 objects walking across a
// 1280×720 frame at 5 fps, 30 minutes) tracked by vdet's tracker (the baseline, the work the aggregator already does
// per frame), then the same tracked frames through @vdet/analytics with 3 zones and 3 lines: update() per frame,
// and serialize() (saved with every checkpoint) at the end, with the aggregator's forgetting of the tracks the tracker
// dropped every 50 frames (job-aggregation.ts) and, for comparison, without it (the state's size only).
// Medians of 5 runs; the last line is one JSON object.
//   npm run bench -- analytics-live [--minutes 30]

import { loadavg } from "node:os";
import { Analytics, type AnalyticsFrame, parseZonesFile, resolveZones } from "@vdet/analytics";
import type { Detections } from "@vdet/protocol";
import { Tracker } from "@vdet/tracker";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const MINUTES = arg("minutes", 30);
const FPS = 5;
const OBJECTS = 30;
const [W, H] = [1280, 720];
const FRAMES = MINUTES * 60 * FPS;

/** Deterministic pseudo-random numbers (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Objects walk straight across the frame and are replaced by new ones when they leave it. */
function scene(): Detections[] {
  const rnd = random(7);
  const spawn = () => ({ x: rnd() * W, y: rnd() * H, vx: (rnd() - 0.5) * 40, vy: (rnd() - 0.5) * 24 });
  const objects = Array.from({ length: OBJECTS }, spawn);
  const frames: Detections[] = [];
  for (let f = 0; f < FRAMES; f++) {
    const xyxy = new Float32Array(OBJECTS * 4);
    objects.forEach((o, i) => {
      o.x += o.vx;
      o.y += o.vy;
      if (o.x < 0 || o.x > W || o.y < 0 || o.y > H) Object.assign(o, spawn());
      xyxy.set([o.x - 20, o.y - 50, o.x + 20, o.y + 50], i * 4);
    });
    frames.push({
      xyxy,
      scores: new Float32Array(OBJECTS).fill(0.9),
      classIds: new Int32Array(OBJECTS).fill(1),
    });
  }
  return frames;
}

const zones = resolveZones(
  parseZonesFile({
    coordinates: "normalized",
    zones: [
      {
        name: "left",
        polygon: [
          [0, 0],
          [0.33, 0],
          [0.33, 1],
          [0, 1],
        ],
        loiterMs: 10_000,
      },
      {
        name: "middle",
        polygon: [
          [0.33, 0],
          [0.66, 0],
          [0.66, 1],
          [0.33, 1],
        ],
      },
      {
        name: "right",
        polygon: [
          [0.66, 0],
          [1, 0],
          [1, 1],
          [0.66, 1],
        ],
      },
    ],
    lines: [
      { name: "x-half", from: [0.5, 0], to: [0.5, 1] },
      { name: "y-half", from: [0, 0.5], to: [1, 0.5] },
      { name: "diagonal", from: [0, 0], to: [1, 1] },
    ],
  }),
  { width: W, height: H },
);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function main(): void {
  const detections = scene();
  const trackerMs: number[] = [];
  const analyticsMs: number[] = [];
  const serializeMs: number[] = [];
  const withoutMs: number[] = [];
  let snapshotBytes = 0;
  let snapshotBytesWithoutForgetting = 0;
  /** As the aggregator: every FORGET_FRAMES frames analysed, forget the tracks the tracker has dropped. */
  const FORGET_FRAMES = 50;
  let events = 0;
  for (let run = 0; run < 5; run++) {
    const tracker = new Tracker({ fps: FPS, classAware: true });
    const tracked: AnalyticsFrame[] = [];
    const liveAt = new Map<number, Set<number>>();
    let started = performance.now();
    detections.forEach((d, frame) => {
      const out = tracker.update(d);
      const trackIds = new Array<number | null>(OBJECTS).fill(null);
      for (const t of out) trackIds[t.detectionIndex] = t.trackId;
      tracked.push({ frame, ptsMs: (frame * 1000) / FPS, boxes: d.xyxy, classes: d.classIds, trackIds });
      if ((frame + 1) % FORGET_FRAMES === 0) liveAt.set(frame, new Set(tracker.liveTrackIds()));
    });
    trackerMs.push(performance.now() - started);
    /** The analytics over the tracked frames, forgetting ended tracks or not; the time taken goes to `into`. */
    const analyze = (forget: boolean, into: number[]) => {
      const a = new Analytics(zones);
      const t0 = performance.now();
      let n = 0;
      for (const f of tracked) {
        n += a.update(f).length;
        const live = forget ? liveAt.get(f.frame) : undefined;
        if (live) a.forgetEnded((id) => !live.has(id));
      }
      into.push(performance.now() - t0);
      return { a, n };
    };
    // Alternate which goes first, so that neither always runs on a warmer JIT.
    const [first, second] = run % 2 === 0 ? [true, false] : [false, true];
    const results = new Map([
      [first, analyze(first, first ? analyticsMs : withoutMs)],
      [second, analyze(second, second ? analyticsMs : withoutMs)],
    ]);
    const analytics = results.get(true)!.a;
    const without = results.get(false)!.a;
    events = results.get(true)!.n;
    snapshotBytesWithoutForgetting = JSON.stringify(without.serialize()).length;
    if (JSON.stringify(without.summary()) !== JSON.stringify(analytics.summary()))
      throw new Error("forgetting ended tracks changed analytics.json");
    started = performance.now();
    const snapshot = JSON.stringify(analytics.serialize());
    serializeMs.push(performance.now() - started);
    snapshotBytes = snapshot.length;
  }
  const perFrameUs = (ms: number) => Math.round((ms * 1000) / FRAMES);
  console.log(
    JSON.stringify({
      bench: "analytics-live",
      frames: FRAMES,
      objects: OBJECTS,
      zones: zones.zones.length,
      lines: zones.lines.length,
      events,
      trackerUsPerFrame: perFrameUs(median(trackerMs)),
      analyticsUsPerFrame: perFrameUs(median(analyticsMs)),
      analyticsOverTracker: Number((median(analyticsMs) / median(trackerMs)).toFixed(3)),
      analyticsWithoutForgettingUsPerFrame: perFrameUs(median(withoutMs)),
      checkpointAnalyticsBytes: snapshotBytes,
      checkpointAnalyticsBytesWithoutForgetting: snapshotBytesWithoutForgetting,
      checkpointAnalyticsSerializeMs: Number(median(serializeMs).toFixed(2)),
      loadAverage: loadavg().map((l) => Number(l.toFixed(2))),
    }),
  );
}

main();
