import assert from "node:assert/strict";
import { test } from "node:test";
import { Analytics, type AnalyticsSnapshot, analyticsFrame, resolveZones } from "@vdet/analytics";
import { MemoryJobStore } from "@vdet/jobs";
import { type FrameDetectionsMessage, type JobRecord, type JobSpecInput, parseJobSpec } from "@vdet/protocol";
import type { AggregatorCheckpoint, CheckpointSave, TrackSummary } from "./aggregator-checkpoint.ts";
import { ANALYTICS_FORGET_FRAMES, JobAggregation } from "./job-aggregation.ts";
import type { JobOutput } from "./job-output.ts";

/** tracks.jsonl in memory, written in parts of `partLines` lines as a sink would. */
class MemoryOutput implements JobOutput {
  written = "";
  private buffered: string[] = [];
  tracksPartsWritten = 0;
  readonly location = "memory";
  constructor(private readonly partLines = 4) {}
  async appendTracks(text: string): Promise<void> {
    this.buffered.push(...text.trimEnd().split("\n"));
    if (this.buffered.length >= this.partLines) await this.flushTracks();
  }
  async flushTracks(): Promise<number> {
    if (this.buffered.length > 0) {
      this.written += `${this.buffered.join("\n")}\n`;
      this.buffered = [];
      this.tracksPartsWritten++;
    }
    return this.tracksPartsWritten;
  }
  // events.jsonl (jobs with zones), in parts the same way.
  events = "";
  private eventsBuffered: string[] = [];
  eventsPartsWritten = 0;
  async appendEvents(text: string): Promise<void> {
    this.eventsBuffered.push(...text.trimEnd().split("\n"));
    if (this.eventsBuffered.length >= this.partLines) await this.flushEvents();
  }
  async flushEvents(): Promise<number> {
    if (this.eventsBuffered.length > 0) {
      this.events += `${this.eventsBuffered.join("\n")}\n`;
      this.eventsBuffered = [];
      this.eventsPartsWritten++;
    }
    return this.eventsPartsWritten;
  }
  async put(): Promise<void> {}
  async upload(): Promise<void> {}
  async finish(): Promise<void> {}
}

/** Checkpoints as the Redis store keeps them: the snapshot, and lists that saves append to. */
class MemoryCheckpoint {
  private snapshot: unknown = null;
  private lines: string[] = [];
  private readonly motLines: string[] = [];
  private readonly tracks = new Map<number, TrackSummary>();
  save(save: CheckpointSave): void {
    this.snapshot = JSON.parse(JSON.stringify(save.snapshot));
    if (save.linesInPart) this.lines = [];
    this.lines.push(...save.newLines);
    this.motLines.push(...save.newMotLines);
    for (const t of save.tracks) this.tracks.set(t.trackId, structuredClone(t));
  }
  load(): AggregatorCheckpoint {
    return {
      snapshot: this.snapshot as AggregatorCheckpoint["snapshot"],
      lines: [...this.lines],
      motLines: [...this.motLines],
      previewLines: [],
      tracks: [...this.tracks.values()],
    };
  }
}

const FRAMES = 30;

/** Two objects moving right, one of them missing now and then; phi changes halfway. */
function frame(index: number): FrameDetectionsMessage {
  const boxes = [10 + index * 5, 20, 60 + index * 5, 120.25];
  const scores = [0.9];
  const classes = [1];
  if (index % 7 !== 3) {
    boxes.push(300.5 + index * 3, 40, 380 + index * 3, 90.75);
    scores.push(0.8123);
    classes.push(3);
  }
  return { index, ptsMs: index * 200, phi: index < 15 ? 0 : 1, boxes, scores, classes };
}

async function job(zones?: JobSpecInput["zones"]): Promise<JobRecord> {
  const store = new MemoryJobStore();
  return (await store.create(parseJobSpec({ input: "clip.mp4", output: "out", sampling: { fps: 5 }, zones })))
    .job;
}

async function feed(
  agg: JobAggregation,
  indices: number[],
  checkpoint?: MemoryCheckpoint,
  make: (index: number) => FrameDetectionsMessage = frame,
): Promise<void> {
  for (const index of indices) {
    agg.reorder.accept(index, { kind: "ok", frame: make(index) });
    agg.reorder.accept(index, { kind: "ok", frame: make(index) }); // a redelivery
    const lines = [...agg.reorder.release()].map((outcome) => agg.lineFor(outcome));
    if (lines.length > 0) await agg.appendLines(lines);
    agg.state.framesByWorker.w1 = (agg.state.framesByWorker.w1 ?? 0) + 1;
    if (checkpoint) {
      const save = agg.checkpointSave();
      checkpoint.save(save);
      agg.checkpointSaved(save);
    }
  }
}

/** Out of order: pairs swapped. */
const order = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, k) => from + (k % 2 === 0 ? k + 1 : k - 1)).filter((i) => i < to);

test("serialize → JSON → restore continues with the same lines, MOT rows, tracks and state", async () => {
  const theJob = await job();
  const straight = JobAggregation.start(theJob, new MemoryOutput(), {});
  straight.state.startedAtMs = 0;
  const straightOutput = straight.output as MemoryOutput;
  await feed(straight, order(0, FRAMES));
  await straightOutput.flushTracks();

  const checkpoint = new MemoryCheckpoint();
  const first = JobAggregation.start(theJob, new MemoryOutput(), {});
  first.state.startedAtMs = 0;
  await feed(first, [...order(0, 16), 17], checkpoint); // 17 waits in the reorder buffer for 16
  const saved = checkpoint.load();
  assert.equal(saved.snapshot.version, 2);
  assert.equal(saved.snapshot.next, 16);
  assert.equal(saved.snapshot.pending.length, 1);
  // The resumed output holds what the crashed one had written in parts.
  const resumedOutput = new MemoryOutput();
  resumedOutput.written = (first.output as MemoryOutput).written;
  resumedOutput.tracksPartsWritten = saved.snapshot.tracksPartsWritten;
  const resumed = await JobAggregation.restore(theJob, resumedOutput, {}, saved);
  assert.deepEqual(resumed.serialize(), first.serialize());
  await feed(resumed, [16, ...order(18, FRAMES)]);
  await resumedOutput.flushTracks();

  assert.equal(resumedOutput.written, straightOutput.written);
  assert.equal(resumedOutput.written.trim().split("\n").length, FRAMES);
  assert.deepEqual(resumed.motLines, straight.motLines);
  assert.deepEqual(resumed.tracks, straight.tracks);
  assert.deepEqual(resumed.serialize(), straight.serialize());
  assert.equal(straight.reorder.duplicates, FRAMES);
  assert.deepEqual(straight.state.phiHistogram, { 0: 15, 1: 15 });
});

test("a version-1 checkpoint (lists for the histogram and per-worker counts) restores; an unknown one is refused", async () => {
  const theJob = await job();
  const checkpoint = new MemoryCheckpoint();
  const agg = JobAggregation.start(theJob, new MemoryOutput(), {});
  await feed(agg, order(0, 10), checkpoint);
  const saved = checkpoint.load();
  const { phiHistogram, framesByWorker, ...rest } = saved.snapshot;
  const v1 = {
    ...rest,
    version: 1,
    phiHistogram: Object.entries(phiHistogram),
    framesByWorker: Object.entries(framesByWorker),
  };
  const output = () =>
    Object.assign(new MemoryOutput(), { tracksPartsWritten: saved.snapshot.tracksPartsWritten });
  const restored = await JobAggregation.restore(theJob, output(), {}, { ...saved, snapshot: v1 as never });
  assert.deepEqual(restored.serialize(), agg.serialize());
  await assert.rejects(
    JobAggregation.restore(
      theJob,
      output(),
      {},
      { ...saved, snapshot: { ...saved.snapshot, version: 3 } as never },
    ),
    /aggregator checkpoint of job .* has unknown version 3/,
  );
});

test("a job with zones: events.jsonl and analytics.json continue from any checkpoint as if never stopped", async () => {
  // Object 1's anchor (bottom centre) is at x = 35 + 5 i, object 2's at x = 340 + 3 i.
  const theJob = await job({
    inertiaFrames: 2,
    zones: [
      {
        name: "pen",
        polygon: [
          [50, 0],
          [100, 0],
          [100, 200],
          [50, 200],
        ],
      },
    ],
    lines: [
      { name: "a", from: [80, 0], to: [80, 200] },
      { name: "b", from: [370, 200], to: [370, 0] },
    ],
  });
  const straight = JobAggregation.start(theJob, new MemoryOutput(3), {});
  straight.state.startedAtMs = 0;
  await feed(straight, order(0, FRAMES));
  const straightOutput = straight.output as MemoryOutput;
  await straightOutput.flushEvents();
  const types = straightOutput.events
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l).type);
  assert.deepEqual([...new Set(types)].sort(), ["cross-in", "cross-out", "enter", "exit"]);

  // Cuts between pairs (`order` swaps within each pair), before, between and after the events (frames 3 … 14).
  for (const cut of [2, 4, 10, 12, 14, 22]) {
    const checkpoint = new MemoryCheckpoint();
    const first = JobAggregation.start(theJob, new MemoryOutput(3), {});
    first.state.startedAtMs = 0;
    await feed(first, order(0, cut), checkpoint);
    const saved = checkpoint.load();
    assert.ok(saved.snapshot.analytics, "the analytics state is in the checkpoint");
    // The resumed output holds the parts the crashed one had written; its buffered lines are lost.
    const resumedOutput = new MemoryOutput(3);
    resumedOutput.written = (first.output as MemoryOutput).written;
    resumedOutput.tracksPartsWritten = saved.snapshot.tracksPartsWritten;
    resumedOutput.events = (first.output as MemoryOutput).events;
    resumedOutput.eventsPartsWritten = saved.snapshot.eventsPartsWritten;
    const resumed = await JobAggregation.restore(theJob, resumedOutput, {}, saved);
    await feed(resumed, order(cut, FRAMES));
    await resumedOutput.flushEvents();
    assert.equal(resumedOutput.events, straightOutput.events, `events.jsonl, cut at ${cut}`);
    assert.deepEqual(
      resumed.analytics?.summary(),
      straight.analytics?.summary(),
      `analytics.json, cut at ${cut}`,
    );
    assert.deepEqual(resumed.serialize(), straight.serialize());
  }

  // A frame whose pts went back is left out of the analytics, counted.
  const before = straight.analytics?.summary();
  straight.reorder.accept(FRAMES, { kind: "ok", frame: { ...frame(FRAMES), ptsMs: 0 } });
  await straight.appendLines([...straight.reorder.release()].map((outcome) => straight.lineFor(outcome)));
  assert.equal(straight.state.analyticsSkippedFrames, 1);
  assert.deepEqual(straight.analytics?.summary(), before);
});

test("a long job with zones: the analytics forget the tracks the tracker dropped, with events.jsonl and analytics.json unchanged, from any checkpoint", async () => {
  // One object every 12 frames, each seen for 10 frames, its anchor (bottom centre) moving from x = 40 to 94: it
  // enters zone "pen" and crosses line "a", then is gone for good (the tracker drops it, the analytics lose it).
  const frames = 3 * ANALYTICS_FORGET_FRAMES + 10;
  const objects = (index: number): FrameDetectionsMessage => {
    const j = index % 12;
    const boxes = j < 10 ? [30 + 6 * j, 20, 50 + 6 * j, 120] : [];
    return {
      index,
      ptsMs: index * 200,
      phi: 0,
      boxes,
      scores: boxes.length ? [0.9] : [],
      classes: boxes.length ? [1] : [],
    };
  };
  const zones = {
    inertiaFrames: 1,
    zones: [
      {
        name: "pen",
        polygon: [
          [50, 0],
          [85, 0],
          [85, 200],
          [50, 200],
        ] as [number, number][],
      },
    ],
    lines: [{ name: "a", from: [70, 0] as [number, number], to: [70, 200] as [number, number] }],
  };
  const theJob = await job(zones);
  const straight = JobAggregation.start(theJob, new MemoryOutput(3), {});
  straight.state.startedAtMs = 0;
  await feed(straight, order(0, frames), undefined, objects);
  const straightOutput = straight.output as MemoryOutput;
  await straightOutput.flushTracks();
  await straightOutput.flushEvents();

  // The same as the analytics over the written tracks.jsonl without forgetting anything (as `vdet analyze` runs).
  const offline = new Analytics(resolveZones(parseJobSpec({ input: "a", output: "o", zones }).zones!));
  const offlineEvents = straightOutput.written
    .trim()
    .split("\n")
    .flatMap((l) => offline.update(analyticsFrame(JSON.parse(l))));
  assert.equal(straightOutput.events, offlineEvents.map((e) => `${JSON.stringify(e)}\n`).join(""));
  assert.deepEqual(straight.analytics?.summary(), offline.summary());
  const counted = straight.analytics!.summary().zones[0].classes;
  const entered = Object.values(counted).reduce((n, c) => n + c.in, 0);
  assert.ok(entered >= 12, `${entered} tracks entered the zone`);
  // … while the state keeps only the tracks not yet dropped.
  const kept = (s: AnalyticsSnapshot) =>
    [...s.zones, ...s.lines].reduce((n, r) => n + r.countedIn.length + r.countedOut.length, 0);
  const all = kept(offline.serialize());
  const pruned = kept(straight.analytics!.serialize());
  assert.ok(pruned <= 8 && all >= 36, `once-per-track entries: ${pruned} kept, ${all} without forgetting`);

  // Even cuts (`order` swaps within pairs), on both sides of each forgetting.
  for (const cut of [
    8,
    ANALYTICS_FORGET_FRAMES - 2,
    ANALYTICS_FORGET_FRAMES + 2,
    2 * ANALYTICS_FORGET_FRAMES,
    frames - 4,
  ]) {
    const checkpoint = new MemoryCheckpoint();
    const first = JobAggregation.start(theJob, new MemoryOutput(3), {});
    first.state.startedAtMs = 0;
    await feed(first, order(0, cut), checkpoint, objects);
    const saved = checkpoint.load();
    const resumedOutput = new MemoryOutput(3);
    resumedOutput.written = (first.output as MemoryOutput).written;
    resumedOutput.tracksPartsWritten = saved.snapshot.tracksPartsWritten;
    resumedOutput.events = (first.output as MemoryOutput).events;
    resumedOutput.eventsPartsWritten = saved.snapshot.eventsPartsWritten;
    const resumed = await JobAggregation.restore(theJob, resumedOutput, {}, saved);
    await feed(resumed, order(cut, frames), undefined, objects);
    await resumedOutput.flushEvents();
    assert.equal(resumedOutput.events, straightOutput.events, `events.jsonl, cut at ${cut}`);
    assert.deepEqual(
      resumed.analytics?.summary(),
      straight.analytics?.summary(),
      `analytics.json, cut at ${cut}`,
    );
    assert.deepEqual(resumed.serialize(), straight.serialize());
  }
});

test("skipped frames are written as skipped lines, and the tracker steps over them in real time", async () => {
  const agg = JobAggregation.start(await job(), new MemoryOutput(1), {});
  // One car moving 20 px per frame (5 frames/s); frames 10…14 skipped by the overload policy.
  const car = (index: number): FrameDetectionsMessage => ({
    index,
    ptsMs: index * 200,
    phi: 0,
    boxes: [100 + index * 20, 50, 150 + index * 20, 90],
    scores: [0.9],
    classes: [3],
  });
  for (let index = 0; index < 25; index++) {
    const reason = "overload: -20 ms left to the deadline, D0 needs 180 ms";
    agg.reorder.accept(
      index,
      index >= 10 && index < 15
        ? { kind: "failed", failure: { index, ptsMs: index * 200, reason, skipped: true } }
        : { kind: "ok", frame: car(index) },
    );
  }
  await agg.appendLines([...agg.reorder.release()].map((outcome) => agg.lineFor(outcome)));
  const lines = (agg.output as MemoryOutput).written
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.equal(lines.length, 25);
  assert.deepEqual(lines[12], {
    frame: 12,
    ptsMs: 2400,
    skipped: "overload: -20 ms left to the deadline, D0 needs 180 ms",
    detections: [],
  });
  // The car moved 120 px during the gap: a motion model stepping once per written frame would have lost it.
  const ids = new Set(lines.flatMap((l) => l.detections.map((d: { trackId: number | null }) => d.trackId)));
  assert.deepEqual([...ids], [1]);
});

test("live inputs: a hole longer than reconnect.keepTracksGapMs starts new tracks; a shorter one keeps them", async () => {
  const store = new MemoryJobStore();
  const live = async (keepTracksGapMs: number) =>
    (
      await store.create(
        parseJobSpec({
          input: "http://127.0.0.1:1/live/index.m3u8",
          output: "out",
          sampling: { fps: 5 },
          reconnect: { keepTracksGapMs },
        }),
      )
    ).job;
  /** Frames 0–9, then a 3 s hole in the stream (a reconnect), then frames 10–19; returns each line's track ids. */
  const run = async (theJob: JobRecord) => {
    const agg = JobAggregation.start(theJob, new MemoryOutput(100), {});
    const lines: string[] = [];
    for (let index = 0; index < 20; index++) {
      const f = { ...frame(index), ptsMs: index * 200 + (index >= 10 ? 3000 : 0) };
      agg.reorder.accept(index, { kind: "ok", frame: f });
      for (const outcome of agg.reorder.release()) lines.push(agg.lineFor(outcome));
    }
    const ids = lines.map((l) => JSON.parse(l).detections.map((d: { trackId: number | null }) => d.trackId));
    return { ids, restarts: agg.state.trackRestarts };
  };
  const kept = await run(await live(5000));
  assert.equal(kept.restarts, 0);
  const before = new Set(
    kept.ids
      .slice(0, 10)
      .flat()
      .filter((id) => id !== null),
  );
  assert.ok(
    kept.ids
      .slice(10)
      .flat()
      .some((id) => before.has(id)),
    "tracks go on across a short hole",
  );

  const restarted = await run(await live(1000));
  assert.equal(restarted.restarts, 1);
  const first = new Set(
    restarted.ids
      .slice(0, 10)
      .flat()
      .filter((id) => id !== null),
  );
  const later = restarted.ids
    .slice(10)
    .flat()
    .filter((id) => id !== null);
  assert.ok(later.length > 0, "new tracks after the hole");
  assert.ok(
    later.every((id) => !first.has(id)),
    "no track id from before the hole after it",
  );
});
