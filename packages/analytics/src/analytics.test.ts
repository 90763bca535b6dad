import assert from "node:assert/strict";
import { test } from "node:test";
import { Analytics, type AnalyticsEvent, type AnalyticsFrame, type ZoneEvent } from "./analytics.ts";
import { parseZonesFile, type ResolvedZones, resolveZones, type ZonesFileInput } from "./zones.ts";

/** A detection whose bottom-centre anchor is (x, y). */
interface At {
  id: number | null;
  x: number;
  y: number;
  cls?: number;
  label?: string;
}

function frame(index: number, dets: At[], stepMs = 100): AnalyticsFrame {
  return {
    frame: index,
    ptsMs: index * stepMs,
    boxes: dets.flatMap((d) => [d.x - 5, d.y - 20, d.x + 5, d.y]),
    classes: dets.map((d) => d.cls ?? 3),
    labels: dets.map((d) => d.label ?? "car"),
    trackIds: dets.map((d) => d.id),
  };
}

type Line = NonNullable<ZonesFileInput["lines"]>[number];
type Zone = NonNullable<ZonesFileInput["zones"]>[number];

function config(input: ZonesFileInput): ResolvedZones {
  return resolveZones(parseZonesFile(input));
}

/** Feeds one track's anchor positions (one per frame; null = not detected) and returns all events. */
function run(a: Analytics, path: ([number, number] | null)[], id = 1): AnalyticsEvent[] {
  return path.flatMap((p, i) => a.update(frame(i, p ? [{ id, x: p[0], y: p[1] }] : [])));
}

// Horizontal line from (0, 50) to (100, 50): below it (y > 50) is its right side on screen, so moving down is "in".
const gate: Line = { name: "gate", from: [0, 50], to: [100, 50] };
/** Analytics that count the gate, a crossing needing `inertiaFrames` frames on the new side. */
const gateCounter = (inertiaFrames: number) => new Analytics(config({ inertiaFrames, lines: [gate] }));
/** A path along x = 50, one point a frame at these heights: it crosses the gate where it passes y = 50. */
const column = (...ys: number[]): [number, number][] => ys.map((y) => [50, y]);

test("a line crossed downwards counts in once, at the first frame on the new side", () => {
  const a = gateCounter(2);
  const events = run(a, column(30, 40, 60, 70, 80));
  assert.deepEqual(events, [
    { type: "cross-in", line: "gate", trackId: 1, class: "car", classId: 3, frame: 2, ptsMs: 200 },
  ]);
  assert.deepEqual(a.summary().lines[0].total, { in: 1, out: 0 });
  assert.deepEqual(a.summary().lines[0].classes, { car: { in: 1, out: 0 } });
});

test("a track that jitters across the line counts only once it stays for the inertia frames", () => {
  const a = gateCounter(3);
  const jitter = column(45, 55, 45, 55, 56, 44, 52, 53);
  assert.deepEqual(run(a, jitter), [], "never three frames in a row on the other side");
  const a2 = gateCounter(3);
  const events = run(a2, [...jitter, ...column(54, 44, 56, 57, 58)]);
  assert.deepEqual(
    events.map((e) => [e.type, e.frame]),
    [["cross-in", 6]],
    "counted at the start of the streak that lasted",
  );
  // With inertia 1 every sign change is a crossing, but each direction still counts once per track.
  const a3 = gateCounter(1);
  assert.deepEqual(
    run(a3, jitter).map((e) => e.type),
    ["cross-in", "cross-out"],
  );
  assert.deepEqual(a3.summary().lines[0].total, { in: 1, out: 1 });
});

test("crossing exactly through the line's end point counts; passing beyond it does not", () => {
  const through = gateCounter(1);
  assert.deepEqual(
    run(through, [
      [90, 40],
      [110, 60],
    ]).map((e) => e.type),
    ["cross-in"],
    "the step (90,40)→(110,60) passes through (100,50)",
  );
  const beyond = gateCounter(1);
  assert.deepEqual(
    run(beyond, [
      [95, 40],
      [120, 60],
      [95, 60],
    ]),
    [],
    "went round the end of the line: side changed, nothing crossed",
  );
});

test("a point exactly on the line neither counts nor breaks the step that crosses it", () => {
  const a = gateCounter(2);
  const events = run(a, [
    [50, 40],
    [50, 50],
    [50, 50],
    [60, 60],
    [60, 61],
  ]);
  assert.deepEqual(
    events.map((e) => [e.type, e.frame]),
    [["cross-in", 3]],
  );
  // A track that only ever sits on the line has no side.
  const b = gateCounter(1);
  assert.deepEqual(
    run(b, [
      [10, 50],
      [20, 50],
    ]),
    [],
  );
});

test("a crossing counts once per track and direction; other tracks count on their own", () => {
  const a = gateCounter(1);
  const down = column(40, 60);
  const up = column(60, 40);
  const path = [...down, ...up, ...down, ...up];
  const events: AnalyticsEvent[] = [];
  path.forEach((p, i) => {
    events.push(
      ...a.update(
        frame(i, [
          { id: 1, x: p[0], y: p[1] },
          { id: 2, x: p[0] + 10, y: p[1] },
        ]),
      ),
    );
  });
  assert.deepEqual(
    events.map((e) => `${e.type}:${e.trackId}`),
    ["cross-in:1", "cross-in:2", "cross-out:1", "cross-out:2"],
  );
  assert.deepEqual(a.summary().lines[0].total, { in: 2, out: 2 });
});

const box: Zone = {
  name: "box",
  polygon: [
    [0, 0],
    [100, 0],
    [100, 100],
    [0, 100],
  ],
};

test("a track that leaves a zone and comes back: enter, exit with its dwell, enter again (in counted once)", () => {
  const a = new Analytics(config({ inertiaFrames: 2, zones: [box] }));
  const events = run(a, [
    [150, 50],
    [90, 50],
    [80, 50],
    [70, 50],
    [120, 50], // leaves at frame 4
    [130, 50],
    [90, 50], // back at frame 6
    [95, 50],
  ]);
  assert.deepEqual(
    (events as ZoneEvent[]).map((e) =>
      e.type === "exit" ? [e.type, e.frame, e.visit, e.dwellMs, e.reason] : [e.type, e.frame, e.visit],
    ),
    [
      ["enter", 1, 1],
      ["exit", 4, 1, 300, "left"],
      ["enter", 6, 2],
    ],
  );
  const z = a.summary().zones[0];
  assert.equal(z.total.in, 1);
  assert.equal(z.total.out, 1);
  assert.equal(z.total.visits, 2);
  assert.deepEqual(z.occupancy, {
    current: 1,
    peak: 1,
    peakFrame: 2,
    peakPtsMs: 200,
    byClass: { car: { current: 1, peak: 1 } },
  });
  // One finished visit of 300 ms and the open one from frame 6 to 7 (100 ms).
  assert.deepEqual(z.total.dwell, { count: 2, meanMs: 200, p50Ms: 200, p90Ms: 280, maxMs: 300, open: 1 });
});

test("an anchor exactly on a zone's vertex or edge is inside", () => {
  const a = new Analytics(config({ inertiaFrames: 1, zones: [box] }));
  assert.deepEqual(
    run(a, [
      [150, 150],
      [100, 100],
      [150, 150],
      [50, 100],
    ]).map((e) => `${e.type}@${e.frame}`),
    ["enter@1", "exit@2", "enter@3"],
  );
});

test("a track lost inside a zone exits at its last sighting; loitering is raised once per visit", () => {
  const a = new Analytics(config({ inertiaFrames: 1, lostAfterMs: 500, zones: [{ ...box, loiterMs: 250 }] }));
  const events = run(a, [[50, 50], [50, 50], [50, 50], [50, 50], null, null, null, null, null, null, null]);
  assert.deepEqual(
    events.map((e) => ({ type: e.type, frame: e.frame, dwellMs: "dwellMs" in e ? e.dwellMs : undefined })),
    [
      { type: "enter", frame: 0, dwellMs: undefined },
      { type: "loiter", frame: 3, dwellMs: 300 },
      { type: "exit", frame: 3, dwellMs: 300 },
    ],
  );
  assert.equal((events[2] as { reason?: string }).reason, "lost");
  const z = a.summary().zones[0];
  assert.equal(z.total.loitering, 1);
  assert.equal(z.occupancy.current, 0);
});

test("class filters by label or id; untracked detections and empty frames are ignored", () => {
  const a = new Analytics(
    config({
      inertiaFrames: 1,
      lines: [
        { ...gate, name: "people", classes: ["person"] },
        { ...gate, name: "cars", classes: [3] },
      ],
    }),
  );
  const events: AnalyticsEvent[] = [];
  const positions = [40, 60];
  positions.forEach((y, i) => {
    events.push(
      ...a.update(
        frame(i, [
          { id: 1, x: 50, y, cls: 1, label: "person" },
          { id: 2, x: 50, y, cls: 3, label: "car" },
          { id: null, x: 50, y },
          { id: -1, x: 50, y },
        ]),
      ),
    );
  });
  events.push(...a.update(frame(2, [])));
  assert.deepEqual(
    events.map((e) => `${"line" in e ? e.line : ""}:${e.trackId}:${e.class}`),
    ["people:1:person", "cars:2:car"],
  );
  assert.throws(() => a.update(frame(1, [])), /comes before the last one fed/);
});

test("per-minute series: in/out by class and the zone's peak occupancy, gaps filled", () => {
  const a = new Analytics(config({ inertiaFrames: 1, zones: [box], lines: [gate] }));
  const minute = 60_000;
  a.update({ ...frame(0, [{ id: 1, x: 50, y: 40 }]), ptsMs: 0 });
  a.update({ ...frame(1, [{ id: 1, x: 50, y: 60 }]), ptsMs: 1000 });
  a.update({ ...frame(2, [{ id: 1, x: 150, y: 60 }]), ptsMs: 2.5 * minute });
  const s = a.summary();
  assert.deepEqual(
    s.lines[0].series.map((p) => [p.minute, p.in, p.out]),
    [
      [0, 1, 0],
      [1, 0, 0],
      [2, 0, 0],
    ],
  );
  assert.deepEqual(
    s.zones[0].series.map((p) => [p.minute, p.in, p.out, p.peakOccupancy]),
    [
      [0, 1, 0, 1],
      [1, 0, 0, 0],
      [2, 0, 1, 0],
    ],
  );
});

/** Many tracks wandering over zones and lines, deterministic (a small LCG). */
function syntheticFrames(count: number): AnalyticsFrame[] {
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const tracks = Array.from({ length: 12 }, (_, k) => ({
    id: k + 1,
    x: rand() * 200,
    y: rand() * 200,
    vx: (rand() - 0.5) * 8,
    vy: (rand() - 0.5) * 8,
    cls: k % 3 === 0 ? 1 : 3,
  }));
  const frames: AnalyticsFrame[] = [];
  for (let i = 0; i < count; i++) {
    const dets: At[] = [];
    for (const t of tracks) {
      t.x += t.vx + (rand() - 0.5) * 6;
      t.y += t.vy + (rand() - 0.5) * 6;
      if (t.x < -20 || t.x > 220) t.vx = -t.vx;
      if (t.y < -20 || t.y > 220) t.vy = -t.vy;
      if (rand() < 0.1) continue; // missed detection
      if ((i + t.id * 37) % 400 < 40) continue; // gone for a while: lost, comes back
      dets.push({ id: t.id, x: t.x, y: t.y, cls: t.cls, label: t.cls === 1 ? "person" : "car" });
    }
    frames.push(frame(i, dets, 250));
  }
  return frames;
}

const restartConfig: ZonesFileInput = {
  inertiaFrames: 2,
  lostAfterMs: 3000,
  zones: [
    { ...box, loiterMs: 5000 },
    {
      name: "triangle",
      classes: ["person"],
      polygon: [
        [100, 100],
        [200, 120],
        [120, 200],
      ],
      anchor: "center",
    },
  ],
  lines: [
    { ...gate, name: "h", from: [0, 100], to: [200, 100] },
    { name: "v", from: [100, 0], to: [100, 200], classes: [3] },
  ],
};

test("restore + continue gives the same events.jsonl and analytics.json as an uninterrupted run", () => {
  const frames = syntheticFrames(1200); // 5 minutes at 4 fps
  const cfg = config(restartConfig);
  const whole = new Analytics(cfg);
  const allEvents = frames.flatMap((f) => whole.update(f));
  assert.ok(allEvents.length > 100, `the synthetic run exercises the state (${allEvents.length} events)`);
  const types = new Set(allEvents.map((e) => e.type));
  for (const t of ["enter", "exit", "loiter", "cross-in", "cross-out"]) assert.ok(types.has(t as never), t);
  assert.ok(allEvents.some((e) => "reason" in e && e.reason === "lost"));
  const expectedEvents = allEvents.map((e) => JSON.stringify(e)).join("\n");
  const expectedSummary = JSON.stringify(whole.summary());

  for (const cuts of [[1], [300], [457, 458, 900], [1199]]) {
    let a = new Analytics(cfg);
    const events: AnalyticsEvent[] = [];
    frames.forEach((f, i) => {
      if (cuts.includes(i)) {
        // Through JSON, as a checkpoint in Redis or a file would go.
        a = Analytics.restore(cfg, JSON.parse(JSON.stringify(a.serialize())));
      }
      events.push(...a.update(f));
    });
    assert.equal(events.map((e) => JSON.stringify(e)).join("\n"), expectedEvents, `cut at ${cuts}`);
    assert.equal(JSON.stringify(a.summary()), expectedSummary, `cut at ${cuts}`);
  }
});

test("serialize is a copy, and restore refuses a state saved with other zones", () => {
  const cfg = config(restartConfig);
  const a = new Analytics(cfg);
  const frames = syntheticFrames(50);
  for (const f of frames.slice(0, 25)) a.update(f);
  const snapshot = a.serialize();
  const frozen = JSON.stringify(snapshot);
  for (const f of frames.slice(25)) a.update(f);
  assert.equal(JSON.stringify(snapshot), frozen, "later updates do not change a snapshot");
  const other = config({ ...restartConfig, inertiaFrames: 4 });
  assert.throws(() => Analytics.restore(other, snapshot), /saved with other zones or lines/);
  assert.throws(
    () => Analytics.restore(cfg, { ...snapshot, version: 2 as 1 }),
    /unknown analytics state version/,
  );
});

test("forgetEnded drops the once-per-track memory only of tracks not followed and said to have ended", () => {
  // Down through the gate (in), back up (out), gone for 3 s (> lostAfterMs: no longer followed), down again.
  const path: ([number, number] | null)[] = [
    ...column(30, 40, 60, 70, 40, 30),
    ...Array.from({ length: 30 }, () => null),
    ...column(30, 40, 60, 70),
  ];
  const feed = (forget: ((id: number) => boolean) | null) => {
    const a = gateCounter(1);
    const events = run(a, path.slice(0, 31));
    if (forget) a.forgetEnded(forget);
    events.push(
      ...path.slice(31).flatMap((p, k) => a.update(frame(31 + k, p ? [{ id: 1, x: p[0], y: p[1] }] : []))),
    );
    return { a, events };
  };
  const plain = feed(null);
  assert.deepEqual(plain.a.summary().lines[0].total, { in: 1, out: 1 }, "once per track and direction");
  // Track 1 is still alive in the tracker (it comes back): nothing is dropped, nothing changes.
  const kept = feed(() => false);
  assert.deepEqual(kept.events, plain.events);
  assert.deepEqual(kept.a.summary(), plain.a.summary());
  // Said to have ended (wrongly here: it comes back), it is forgotten, and counted in a second time: the memory
  // dropped is what counts a track once.
  assert.deepEqual(feed(() => true).a.summary().lines[0].total, { in: 2, out: 1 });
  // Said to have ended, it is forgotten: the memory that kept it from counting twice is what was dropped.
  const dropped = gateCounter(1);
  run(dropped, path.slice(0, 31));
  assert.equal(
    dropped.forgetEnded(() => true),
    2,
  );
  assert.equal(
    dropped.forgetEnded(() => true),
    0,
  );
  assert.deepEqual(dropped.serialize().lines[0].countedIn, []);
  // A track still followed (seen within lostAfterMs) keeps its memory whatever `ended` says.
  const followed = gateCounter(1);
  run(followed, path.slice(0, 6));
  assert.equal(
    followed.forgetEnded(() => true),
    0,
  );
});
