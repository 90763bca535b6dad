import assert from "node:assert/strict";
import { test } from "node:test";
import type { Detections } from "@vdet/protocol";
import { TrackerOptionsError } from "./options.ts";
import { TrackerStateError } from "./track.ts";
import { DetectionInputError, Tracker, type TrackOutput } from "./tracker.ts";

/** One synthetic detection: box x1, y1, x2, y2, score, class, and the object it belongs to. */
interface Det {
  box: [number, number, number, number];
  score?: number;
  cls?: number;
  object: string;
}

function frameOf(dets: readonly Det[]): Detections {
  return {
    xyxy: Float32Array.from(dets.flatMap((d) => d.box)),
    scores: Float32Array.from(dets.map((d) => d.score ?? 0.9)),
    classIds: Int32Array.from(dets.map((d) => d.cls ?? 0)),
  };
}

/** A box of size w×h whose top-left corner is at (x, y). */
const at = (x: number, y: number, w = 40, h = 100): [number, number, number, number] => [x, y, x + w, y + h];

/** Runs a scene; returns per frame the outputs and, per object, the ids it was reported with. */
function run(tracker: Tracker, scene: readonly Det[][]) {
  const outputs: TrackOutput[][] = [];
  const idsByObject = new Map<string, Set<number>>();
  const reportedFrames = new Map<string, number[]>();
  scene.forEach((dets, f) => {
    const out = tracker.update(frameOf(dets));
    outputs.push(out);
    for (const o of out) {
      const object = dets[o.detectionIndex].object;
      if (!idsByObject.has(object)) idsByObject.set(object, new Set());
      idsByObject.get(object)!.add(o.trackId);
      if (!reportedFrames.has(object)) reportedFrames.set(object, []);
      reportedFrames.get(object)!.push(f + 1);
    }
  });
  return { outputs, idsByObject, reportedFrames };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => from + k);

test("a single moving object keeps id 1 from the first frame; the filtered box follows it", () => {
  const scene = range(0, 29).map((k) => [{ box: at(100 + 5 * k, 50), object: "a" }]);
  const { outputs, idsByObject } = run(new Tracker(), scene);
  assert.deepEqual([...idsByObject.get("a")!], [1]);
  assert.equal(
    outputs.filter((o) => o.length === 1).length,
    30,
    "reported in every frame (first frame: warm-up)",
  );
  const last = outputs[29][0];
  assert.ok(Math.abs(last.box[0] - (100 + 5 * 29)) < 1, `filtered x1 ${last.box[0]} near the detection`);
  assert.ok(Math.abs(last.score - 0.9) < 1e-6);
});

test("crossing objects keep their identities (constant-velocity prediction through the overlap)", () => {
  // a moves right, b moves left, slightly lower; they overlap heavily around frame 20.
  const scene = range(0, 40).map((k) => [
    { box: at(100 + 6 * k, 100), object: "a" },
    { box: at(340 - 6 * k, 120), object: "b" },
  ]);
  for (const tracker of [new Tracker(), new Tracker({ motionModel: "xyah" }), Tracker.sortBaseline()]) {
    const { idsByObject } = run(tracker, scene);
    assert.equal(idsByObject.get("a")!.size, 1, `a has one id: ${[...idsByObject.get("a")!]}`);
    assert.equal(idsByObject.get("b")!.size, 1, `b has one id: ${[...idsByObject.get("b")!]}`);
    assert.notDeepEqual([...idsByObject.get("a")!], [...idsByObject.get("b")!]);
  }
});

test("an occlusion gap shorter than maxLostFrames keeps the id; a longer one starts a new id", () => {
  const scene = (gap: number) =>
    range(0, 59).map((k) => (k >= 20 && k < 20 + gap ? [] : [{ box: at(100 + 3 * k, 80), object: "a" }]));
  const short = run(new Tracker({ fps: 30 }), scene(12));
  assert.deepEqual([...short.idsByObject.get("a")!], [1]);
  // Reported again on the first frame after the gap.
  assert.ok(short.reportedFrames.get("a")!.includes(33));

  const long = run(new Tracker({ fps: 30, maxLostFrames: 10 }), scene(15));
  assert.deepEqual([...long.idsByObject.get("a")!], [1, 2]);
});

test("ages scale with fps: the same 15-frame gap is survived at 30 fps but not at 10 fps", () => {
  const scene = range(0, 49).map((k) =>
    k >= 10 && k < 25 ? [] : [{ box: at(100 + 2 * k, 80), object: "a" }],
  );
  assert.equal(new Tracker({ fps: 30 }).options.maxLostFramesAtFps, 30);
  assert.equal(new Tracker({ fps: 10 }).options.maxLostFramesAtFps, 10);
  assert.equal(run(new Tracker({ fps: 30 }), scene).idsByObject.get("a")!.size, 1);
  assert.equal(run(new Tracker({ fps: 10 }), scene).idsByObject.get("a")!.size, 2);
});

test("detection flicker: low-score detections keep the track alive and reported (second association)", () => {
  // Every third frame the detector is unsure (score 0.3, below the 0.6 high threshold).
  const scene = range(0, 29).map((k) => [
    { box: at(100 + 4 * k, 60), score: k % 3 === 2 ? 0.3 : 0.9, object: "a" },
  ]);
  const byte = run(new Tracker(), scene);
  assert.deepEqual([...byte.idsByObject.get("a")!], [1]);
  assert.equal(byte.reportedFrames.get("a")!.length, 30, "reported in every frame, low-score ones included");

  // Without the low-score stage those frames are missed (the track survives them as lost).
  const single = run(new Tracker({ lowScoreThreshold: 0.6 }), scene);
  assert.deepEqual([...single.idsByObject.get("a")!], [1]);
  assert.equal(single.reportedFrames.get("a")!.length, 20);
});

test("detection flicker: missing every other frame does not fragment the id", () => {
  const scene = range(0, 29).map((k) => (k % 2 === 1 ? [] : [{ box: at(100 + 4 * k, 60), object: "a" }]));
  const { idsByObject, reportedFrames } = run(new Tracker(), scene);
  assert.deepEqual([...idsByObject.get("a")!], [1]);
  assert.equal(reportedFrames.get("a")!.length, 15);
});

test("birth and confirmation: a one-frame false positive never gets an id; ids stay contiguous", () => {
  const scene: Det[][] = range(0, 19).map((k) => [{ box: at(100 + 2 * k, 60), object: "a" }]);
  scene[5].push({ box: at(400, 300), object: "ghost" }); // one frame only
  scene[8].push({ box: at(500, 300), score: 0.65, object: "weak" }); // below the birth threshold
  for (let k = 10; k < 20; k++) scene[k].push({ box: at(300, 200 + k), object: "b" }); // appears at frame 11
  const { idsByObject, reportedFrames } = run(new Tracker(), scene);
  assert.equal(idsByObject.has("ghost"), false);
  assert.equal(idsByObject.has("weak"), false);
  assert.deepEqual([...idsByObject.get("b")!], [2], "second confirmed track gets id 2");
  assert.equal(reportedFrames.get("b")![0], 12, "confirmed on its second consecutive detection");
});

test("ids start at 1 in every tracker instance (no shared state)", () => {
  const scene = range(0, 4).map((k) => [{ box: at(10 + k, 10), object: "a" }]);
  const first = new Tracker();
  run(first, scene);
  const second = new Tracker();
  assert.equal(run(second, scene).outputs[0][0].trackId, 1);
  assert.equal(
    run(
      first,
      range(0, 2).map(() => [{ box: at(500, 300), object: "c" }]),
    ).outputs[1][0].trackId,
    2,
  );
});

test("class-aware matching refuses to continue a track with a detection of another class", () => {
  const scene: Det[][] = range(0, 9).map((k) => [
    { box: at(100 + 2 * k, 60), cls: k < 5 ? 0 : 2, object: "a" },
  ]);
  assert.equal(run(new Tracker({ classAware: false }), scene).idsByObject.get("a")!.size, 1);
  const aware = run(new Tracker({ classAware: true }), scene);
  assert.deepEqual([...aware.idsByObject.get("a")!], [1, 2]);
  assert.equal(aware.outputs[9][0].classId, 2);
});

test("observation-centric re-update corrects the velocity after an occlusion with a turn", () => {
  // Moves right for 20 frames, turns to move down while occluded for 10 frames, reappears moving down.
  const truth = (k: number): [number, number] => (k < 20 ? [100 + 4 * k, 100] : [176, 100 + 4 * (k - 19)]);
  const scene = range(0, 39).map((k) =>
    k >= 20 && k < 30 ? [] : [{ box: at(truth(k)[0], truth(k)[1], 100, 200), object: "a" }],
  );
  const errorAfterGap = (oru: boolean, motionModel: "xyah" | "xysr") => {
    const { outputs, idsByObject } = run(
      new Tracker({ observationCentricReupdate: oru, motionModel }),
      scene,
    );
    assert.equal(idsByObject.get("a")!.size, 1, "re-associated after the gap");
    // Filtered box two frames after reappearing vs the truth.
    const [x, y] = truth(32);
    const box = outputs[32][0].box;
    return Math.hypot(box[0] - x, box[1] - y);
  };
  for (const model of ["xyah", "xysr"] as const) {
    const withOru = errorAfterGap(true, model);
    const without = errorAfterGap(false, model);
    assert.ok(
      withOru < without,
      `${model}: ORU error ${withOru.toFixed(2)} should be below ${without.toFixed(2)}`,
    );
  }
});

test("camera motion: a stop-and-go pan keeps every identity; without compensation the tracks break", () => {
  // Six people 150 px apart walking slowly; the camera stands, pans 50 px a frame, stands, pans back.
  const pan = (k: number) => (k < 10 ? 0 : k < 20 ? 50 * (k - 9) : k < 30 ? 500 : 500 - 50 * (k - 29));
  const scene = range(0, 39).map((k) =>
    range(0, 5).map((i) => ({
      box: at(100 + 150 * i + (i % 2 ? 1 : -1) * k - pan(k), 200 + 2 * i),
      object: `p${i}`,
    })),
  );
  const compensated = new Tracker({ fps: 10 });
  const { idsByObject, reportedFrames } = run(compensated, scene);
  for (let i = 0; i < 6; i++) {
    assert.equal(idsByObject.get(`p${i}`)?.size, 1, `p${i} keeps one id`);
    assert.equal(reportedFrames.get(`p${i}`)?.length, 40, `p${i} reported in every frame`);
  }
  const plain = run(new Tracker({ fps: 10, cameraMotion: false }), scene);
  const broken = range(0, 5).filter(
    (i) =>
      (plain.idsByObject.get(`p${i}`)?.size ?? 0) > 1 ||
      (plain.reportedFrames.get(`p${i}`)?.length ?? 0) < 40,
  );
  assert.equal(broken.length, 6, "without compensation every track breaks at the pan");
});

test("camera motion: no shift on a still camera while a group starts and stops walking", () => {
  // Four people stand; four walk together 20 px a frame, stop, walk again: when they start or stop,
  // they agree on a displacement their predictions did not foresee, but the standing ones agree on none.
  const walked = (k: number) => (k < 10 ? 20 * k : k < 20 ? 200 : 200 + 20 * (k - 19));
  const scene = range(0, 29).map((k) => [
    ...range(0, 3).map((i) => ({ box: at(100 + 200 * i, 100), object: `still${i}` })),
    ...range(0, 3).map((i) => ({ box: at(100 + 200 * i + walked(k), 400), object: `walk${i}` })),
  ]);
  const tracker = new Tracker({ fps: 10 });
  const ids = new Map<string, Set<number>>();
  for (const dets of scene) {
    for (const o of tracker.update(frameOf(dets))) {
      const object = dets[o.detectionIndex].object;
      ids.set(object, (ids.get(object) ?? new Set()).add(o.trackId));
    }
    assert.equal(tracker.cameraShift, undefined, "no camera shift applied");
  }
  assert.equal(ids.size, 8);
  for (const [object, set] of ids) assert.equal(set.size, 1, object);
});

test("a checkpoint written before camera-motion compensation and first-match reach restores without them", () => {
  const t = new Tracker();
  t.update(frameOf([{ box: at(0, 0), object: "a" }]));
  const state = JSON.parse(JSON.stringify(t.serialize()));
  assert.equal(state.options.cameraMotion, true);
  assert.equal(state.options.firstMatchReach, 3);
  delete state.options.cameraMotion;
  delete state.options.firstMatchReach;
  const old = Tracker.restore(state);
  assert.equal(old.options.cameraMotion, false);
  assert.equal(old.options.firstMatchReach, 0);
  const current = Tracker.restore(t.serialize());
  assert.equal(current.options.cameraMotion, true);
  assert.equal(current.options.firstMatchReach, 3);
});

test("first match by distance: a person walking past at 2 fps is tracked from the second frame it is seen", () => {
  // 0.9 box heights per second: at 2 fps the box moves 45 px a frame, more than its 40 px width, so
  // its first two detections do not overlap at all. Someone stands still elsewhere from frame 1.
  const scene = range(0, 11).map((k) => {
    const dets: Det[] = [{ box: at(1500, 100), object: "still" }];
    if (k >= 2) dets.push({ box: at(100 + 45 * (k - 2), 300), object: "walker" });
    return dets;
  });
  const { idsByObject, reportedFrames } = run(new Tracker({ fps: 2 }), scene);
  assert.equal(idsByObject.get("walker")?.size, 1);
  assert.deepEqual(reportedFrames.get("walker"), range(4, 12), "reported from its second detection on");
  const iouOnly = run(new Tracker({ fps: 2, firstMatchReach: 0 }), scene);
  assert.equal(iouOnly.reportedFrames.get("walker"), undefined, "IoU alone never confirms it");
  assert.equal(iouOnly.idsByObject.get("still")?.size, 1);
});

test("first match by distance: the reach grows with the time between frames; heights must agree", () => {
  // Two detections 1 box height apart in consecutive frames (a false positive and another one, or a fast
  // object): at 30 fps the reach is 0.1 heights, so no track is confirmed; at 2 fps it is 1.5 heights.
  const jump: Det[][] = [[], [], [{ box: at(500, 500), object: "x" }], [{ box: at(600, 500), object: "x" }]];
  assert.equal(run(new Tracker({ fps: 30 }), jump).reportedFrames.get("x"), undefined);
  assert.deepEqual(run(new Tracker({ fps: 2 }), jump).reportedFrames.get("x"), [4]);
  // At 2 fps, a detection twice as tall is not the same object.
  const taller = [
    [],
    [],
    [{ box: at(500, 500), object: "x" }],
    [{ box: at(550, 400, 80, 200), object: "x" }],
  ];
  assert.equal(run(new Tracker({ fps: 2 }), taller).reportedFrames.get("x"), undefined);
  assert.throws(() => new Tracker({ firstMatchReach: -1 }), /firstMatchReach must be a number ≥ 0/);
});

test("SORT baseline: min hits 3 after the warm-up, streak reset after a miss, max age 1", () => {
  const scene: Det[][] = range(0, 29).map(() => []);
  for (let k = 5; k < 30; k++) if (k !== 15) scene[k].push({ box: at(100 + 3 * k, 50), object: "a" });
  for (let k = 5; k < 30; k++)
    if (k !== 12 && k !== 13) scene[k].push({ box: at(400, 50 + 2 * k), object: "b" });
  const { idsByObject, reportedFrames } = run(Tracker.sortBaseline(), scene);
  // a: born at frame 6, reported from frame 9 (3 matches after birth); missed at 16; reported again from 19.
  assert.deepEqual(reportedFrames.get("a")!.slice(0, 2), [9, 10]);
  assert.ok(!reportedFrames.get("a")!.includes(17) && !reportedFrames.get("a")!.includes(18));
  assert.ok(reportedFrames.get("a")!.includes(19));
  assert.equal(idsByObject.get("a")!.size, 1, "a one-frame miss keeps the id");
  // b: missing two frames exceeds max age 1 → a new id.
  assert.equal(idsByObject.get("b")!.size, 2);
});

test("serialize → JSON → restore continues with identical output", () => {
  const scene = range(0, 59).map((k) => {
    const dets: Det[] = [];
    if (k < 40) dets.push({ box: at(100 + 5 * k, 100), score: k % 4 === 3 ? 0.4 : 0.95, object: "a" });
    if (k > 10 && (k < 25 || k > 32)) dets.push({ box: at(500 - 4 * k, 130), object: "b" });
    if (k % 7 === 0) dets.push({ box: at(50 + k, 400), score: 0.8, object: "noise" });
    return dets;
  });
  for (const make of [() => new Tracker({ fps: 25, classAware: true }), () => Tracker.sortBaseline()]) {
    const original = make();
    const replay = make();
    for (let k = 0; k < 30; k++) {
      original.update(frameOf(scene[k]));
      replay.update(frameOf(scene[k]));
    }
    const checkpoint = JSON.parse(JSON.stringify(original.serialize()));
    const restored = Tracker.restore(checkpoint);
    assert.deepEqual(restored.serialize(), original.serialize());
    assert.equal(restored.framesProcessed, 30);
    for (let k = 30; k < 60; k++) {
      assert.deepEqual(
        restored.update(frameOf(scene[k])),
        original.update(frameOf(scene[k])),
        `frame ${k + 1}`,
      );
    }
    assert.deepEqual(restored.serialize(), original.serialize());
  }
});

test("restore rejects a damaged checkpoint with a message naming the field", () => {
  const t = new Tracker();
  t.update(frameOf([{ box: at(0, 0), object: "a" }]));
  const state = JSON.parse(JSON.stringify(t.serialize()));
  state.tracks[0].mean = [1, 2, 3];
  assert.throws(
    () => Tracker.restore(state),
    (e: Error) => e instanceof TrackerStateError && /tracks\[0\]\.mean/.test(e.message),
  );
  assert.throws(() => Tracker.restore({ ...state, format: "x" }), TrackerStateError);
  assert.throws(() => Tracker.restore({ ...state, version: 2 }), /version 2/);
});

test("invalid input and options are rejected with messages that name the problem", () => {
  const t = new Tracker();
  assert.throws(
    () => t.update({ xyxy: new Float32Array(8), scores: new Float32Array(1), classIds: new Int32Array(1) }),
    (e: Error) => e instanceof DetectionInputError && /2 boxes but 1 scores/.test(e.message),
  );
  assert.throws(
    () =>
      t.update({
        xyxy: Float32Array.from([0, 0, 1, 1, 10, Number.NaN, 5, 20]),
        scores: new Float32Array(2),
        classIds: new Int32Array(2),
      }),
    /detection 1 has a non-finite box coordinate NaN/,
  );
  assert.throws(
    () =>
      t.update({
        xyxy: Float32Array.from([0, 0, 1, 1]),
        scores: Float32Array.from([Number.NaN]),
        classIds: new Int32Array(1),
      }),
    /detection 0 has score NaN/,
  );
  assert.throws(() => new Tracker({ fps: 0 }), TrackerOptionsError);
  // Unset overrides keep the preset's values; set ones replace them.
  assert.equal(Tracker.sortBaseline({ matchIou: undefined }).options.matchIou, 0.3);
  assert.equal(Tracker.sortBaseline({ matchIou: 0.5 }).options.matchIou, 0.5);
  assert.throws(() => new Tracker({ lowScoreThreshold: 0.8, highScoreThreshold: 0.5 }), /must not exceed/);
  assert.throws(() => new Tracker({ maxLostFrame: 3 } as never), /unknown tracker option "maxLostFrame"/);
  // Empty frames are fine; empty boxes (clipped away) are ignored rather than tracked.
  assert.throws(
    () => t.update({ xyxy: new Float32Array(4), scores: new Float32Array(1), classIds: new Int32Array(2) }),
    /1 boxes but 2 class ids/,
  );
  assert.deepEqual(
    t.update({ xyxy: new Float32Array(0), scores: new Float32Array(0), classIds: new Int32Array(0) }),
    [],
  );
  const flat = new Tracker();
  const out = flat.update({
    xyxy: Float32Array.from([10, 10, 10, 50, 0, 0, 20, 40]),
    scores: Float32Array.from([0.9, 0.9]),
    classIds: new Int32Array(2),
  });
  assert.deepEqual(
    out.map((o) => o.detectionIndex),
    [1],
  );
});

test("with ptsMs, frames missing in between count as time: the filter predicts across them, tracks age by them", () => {
  // 10 frames/s; a box moving 15 px per frame; frames 10…15 never reach the tracker (skipped upstream).
  const box = (f: number) => frameOf([{ box: at(100 + 15 * f, 50), object: "a" }]);
  const timed = new Tracker({ fps: 10 });
  const counted = new Tracker({ fps: 10 });
  const timedIds = new Set<number>();
  const countedIds = new Set<number>();
  for (let f = 0; f < 25; f++) {
    if (f >= 10 && f < 16) continue;
    for (const o of timed.update(box(f), { ptsMs: f * 100 })) timedIds.add(o.trackId);
    for (const o of counted.update(box(f))) countedIds.add(o.trackId);
  }
  // 90 px in one call: a per-call step loses the 40-px-wide box; real time keeps it.
  assert.deepEqual([...timedIds], [1]);
  assert.ok(countedIds.size > 1, `per-call stepping kept one track: ${[...countedIds]}`);

  // A track unseen for longer than it is kept is gone after one call that spans that time.
  const ager = new Tracker({ fps: 10 });
  for (let f = 0; f < 5; f++) ager.update(box(f), { ptsMs: f * 100 });
  const limit = ager.options.maxLostFramesAtFps;
  const empty = frameOf([]);
  ager.update(empty, { ptsMs: 400 + (limit + 1) * 100 });
  const state = ager.serialize();
  assert.equal(state.tracks.length, 0);
  assert.equal(state.lastPtsMs, 400 + (limit + 1) * 100);
  // The time base survives a checkpoint.
  assert.equal(Tracker.restore(JSON.parse(JSON.stringify(state))).serialize().lastPtsMs, state.lastPtsMs);
});

test("liveTrackIds: the confirmed tracks kept, lost ones included, until the tracker drops them", () => {
  const tracker = new Tracker({ fps: 30 });
  const walk = (f: number): Det[] => [{ box: at(100 + 4 * f, 50), object: "a" }];
  const { idsByObject } = run(tracker, range(0, 9).map(walk));
  const [id] = [...idsByObject.get("a")!];
  assert.deepEqual(tracker.liveTrackIds(), [id]);
  // Gone: lost (still kept, it may come back) for maxLostFrames, then dropped for good.
  tracker.update(frameOf([]));
  assert.deepEqual(tracker.liveTrackIds(), [id]);
  for (let f = 0; f < tracker.options.maxLostFrames + 1; f++) tracker.update(frameOf([]));
  assert.deepEqual(tracker.liveTrackIds(), []);
  // A tentative track (not yet reported) has no id to list.
  tracker.update(frameOf([{ box: at(500, 50), object: "b" }]));
  assert.deepEqual(tracker.liveTrackIds(), []);
});
