// `npm run bench -- phi`: the φ policy on a live-rate stream with the real models on this machine.
// Frames of a real clip arrive at a fixed rate (default 10/s); each is due `budget` ms after it arrives. For each
// budget (default 150, 400, 1500 ms) the same stream runs three times in this run: the adaptive policy over
// D0…Dmax, fixed Dmax (the largest φ allowed), and fixed D0. Reported per run: deadline hit rate, mean φ, p50/p90
// latency (arrival → detections ready). The worker's latency profile is measured first, as a worker would at start.
// Every φ is warmed up before each run (a running worker keeps its models warm).
// Options: --fps N, --frames N (per run, default 100), --budgets 150,400,1500, --phi-max N, --max-batch N, --threads N.
//
// Overload: after profiling, the bench starts `--hog N` CPU hogs of its own (default 1: a busy loop per process) and
// runs the cases above under them. Then it measures the machine's D0 capacity as it is now (a burst of frames at D0
// in full batches, frames/s) and streams at `--overload-factor` (default 2.5) × that rate for `--overload-seconds`
// (default 15), budget `--overload-budget` (default the largest budget), φ D0…Dmax, once with overload "drop" and
// once with "queue". Reported: for drop, the hit rate of the frames processed, the share of frames processed and
// the share the capacity allows (capacity × the stream's span, first arrival to last result, ÷ its frames; also
// capacity ÷ arrival rate, which leaves out the drain after the last arrival) and the runner's busy share; for
// queue, the hit rate of all frames. `--budgets ""` runs the overload case alone.
// The last stdout line is one JSON object.

import { availableParallelism, cpus, loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { getConfig } from "@vdet/effdet";
import {
  createModelProvider,
  FrameScheduler,
  padToSquare,
  profileModels,
  type ScheduledResult,
  type SkippedFrame,
} from "@vdet/pipeline";
import { type PhiValue, parsePhi, type RgbImage } from "@vdet/protocol";
import { LatencyProfile, type ProfileTable } from "@vdet/scheduler";
import { decodeFrames } from "@vdet/video";
import { startHogs } from "./support/hogs.ts";

const { values } = parseArgs({
  options: {
    fps: { type: "string", default: "10" },
    frames: { type: "string", default: "100" },
    budgets: { type: "string", default: "150,400,1500" },
    "phi-max": { type: "string", default: "3" },
    "max-batch": { type: "string", default: "4" },
    threads: { type: "string", default: String(availableParallelism()) },
    hog: { type: "string", default: "1" },
    "overload-factor": { type: "string", default: "2.5" },
    "overload-seconds": { type: "string", default: "15" },
    "overload-budget": { type: "string" },
  },
});
const fps = Number(values.fps);
const frameCount = Number(values.frames);
const budgets = values.budgets.split(",").filter(Boolean).map(Number);
const phiMax = parsePhi(values["phi-max"]);
const maxBatch = Number(values["max-batch"]);
const threads = Number(values.threads);
const hogs = Number(values.hog);
const overloadFactor = Number(values["overload-factor"]);
const overloadSeconds = Number(values["overload-seconds"]);
const overloadBudget = Number(values["overload-budget"] ?? Math.max(1500, ...budgets));
const phis: PhiValue[] = [0, 1, 2, 3, 4, 5, 6, 7].filter((p) => p <= Number(phiMax)) as PhiValue[];
const clip = join(import.meta.dirname, "..", "test", "fixtures", "video", "car-detection.mp4");

const log = (line: string) => process.stderr.write(`${line}\n`);

/** Frames of the clip letterboxed to Dmax's input size, as the producer would send them. */
async function loadFrames(): Promise<RgbImage[]> {
  const side = getConfig(phiMax).imageSize;
  const frames: RgbImage[] = [];
  for await (const f of decodeFrames(clip, {
    sampling: { fps: 5 },
    size: { maxSide: side },
    maxFrames: frameCount,
  })) {
    frames.push({ width: side, height: side, data: padToSquare(f.data, f.width, f.height, side) });
    if (frames.length >= frameCount) break;
  }
  while (frames.length < frameCount) frames.push(frames[frames.length % Math.max(1, frames.length)]);
  return frames;
}

interface RunFigures {
  hitRate: number;
  misses: number;
  meanPhi: number;
  p50LatencyMs: number;
  p90LatencyMs: number;
  phiCounts: Record<string, number>;
}

const models = createModelProvider({ seed: 0, executionProvider: "cpu", intraOpThreads: threads });

/** Runs every φ × batch size once, smallest φ last (a running worker's models are warm at the shapes it uses). */
async function warmUp(frames: RgbImage[]): Promise<void> {
  // onnxruntime plans memory per input shape; the first run of a shape after others is markedly slower.
  for (const phi of [...phis].reverse()) {
    const detector = await models.detector(phi);
    for (let b = 1; b <= maxBatch; b++) {
      await detector.detect(frames.slice(0, b), Array(b).fill({ scoreThreshold: 0.3 }));
    }
  }
}

/** The runner's busy share in the last stream(). */
let lastBusyShare = 0;
/** The last stream()'s span, first arrival to last result, s: the time the machine had for its frames. */
let lastSpanS = 0;
/** The sizes of the batches the last stream() ran. */
let lastBatchSizes: number[] = [];
/** The last stream()'s batches: median ms per frame by batch size (what each size cost under the load then). */
let lastMsPerFrame: Record<string, number> = {};
/** The last stream()'s batches by the policy's reason (e.g. "explore": a stale batch size run again). */
let lastReasons: Record<string, number> = {};
const countBy = (keys: string[]) => {
  const counts: Record<string, number> = {};
  for (const k of keys) counts[k] = (counts[k] ?? 0) + 1;
  return counts;
};

interface StreamOutcome {
  outcome: ScheduledResult | SkippedFrame;
  latencyMs: number;
}

/** Frames arriving at `rate` frames/s on a fixed clock, each due `budgetMs` after it arrives. */
async function stream(
  table: ProfileTable,
  frames: RgbImage[],
  count: number,
  rate: number,
  budgetMs: number,
  range: [PhiValue, PhiValue],
  overload: "drop" | "queue",
): Promise<StreamOutcome[]> {
  await warmUp(frames);
  const scheduler = new FrameScheduler({
    models,
    profile: LatencyProfile.fromTable(table),
    maxBatch,
    maxDelayMs: 5,
  });
  const intervalMs = 1000 / rate;
  const started = performance.now();
  const pending: Promise<StreamOutcome>[] = [];
  for (let i = 0; i < count; i++) {
    // Arrivals on a fixed clock, not drifting with the event loop's delays.
    const due = started + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const arrived = Date.now();
    pending.push(
      scheduler
        .submit({
          group: "stream",
          deadlineMs: arrived + budgetMs,
          budgetMs,
          phiMin: range[0],
          phiMax: range[1],
          frame: frames[i % frames.length],
          options: { scoreThreshold: 0.3 },
          overload,
        })
        .then((outcome) => ({ outcome, latencyMs: Date.now() - arrived })),
    );
  }
  const done = await Promise.all(pending);
  // The runner's busy share from the first arrival to the last result (1: never idle while frames waited or came).
  const busyMs = scheduler.batches.reduce((sum, b) => sum + b.ms, 0);
  const spanMs = performance.now() - started;
  lastBusyShare = round(busyMs / spanMs, 3);
  lastSpanS = spanMs / 1000;
  lastBatchSizes = scheduler.batches.map((b) => b.size);
  lastReasons = countBy(scheduler.batches.map((b) => b.reason));
  const perFrame = new Map<number, number[]>();
  for (const b of scheduler.batches) perFrame.set(b.size, [...(perFrame.get(b.size) ?? []), b.ms / b.size]);
  lastMsPerFrame = Object.fromEntries(
    [...perFrame].map(([size, ms]) => [String(size), round(ms.sort((x, y) => x - y)[ms.length >> 1], 1)]),
  );
  return done;
}

const ran = (o: StreamOutcome[]) =>
  o.flatMap((d) => ("skipped" in d.outcome ? [] : [{ result: d.outcome, latencyMs: d.latencyMs }]));
const hitRate = (done: { result: ScheduledResult }[]) =>
  done.length === 0 ? 0 : round(done.filter((d) => (d.result.slackMs ?? 0) >= 0).length / done.length, 4);

async function runStream(
  table: ProfileTable,
  frames: RgbImage[],
  budgetMs: number,
  range: [PhiValue, PhiValue],
): Promise<RunFigures> {
  const done = ran(await stream(table, frames, frames.length, fps, budgetMs, range, "queue"));
  const latencies = done.map((d) => d.latencyMs).sort((a, b) => a - b);
  const phiCounts = countBy(done.map((d) => `D${d.result.phi}`));
  return {
    hitRate: hitRate(done),
    misses: done.filter((d) => (d.result.slackMs ?? 0) < 0).length,
    meanPhi: round(done.reduce((s, d) => s + Number(d.result.phi), 0) / done.length, 3),
    p50LatencyMs: latencies[Math.floor(latencies.length * 0.5)],
    p90LatencyMs: latencies[Math.floor(latencies.length * 0.9)],
    phiCounts,
  };
}

/** D0's throughput on this machine now: a burst of frames run back to back in full batches, frames/s. */
async function d0Capacity(table: ProfileTable, frames: RgbImage[]): Promise<number> {
  await warmUp(frames);
  const scheduler = new FrameScheduler({
    models,
    profile: LatencyProfile.fromTable(table),
    maxBatch,
    maxDelayMs: 5,
  });
  const count = maxBatch * 8;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      scheduler.submit({
        group: "capacity",
        deadlineMs: Number.POSITIVE_INFINITY,
        phiMin: 0,
        phiMax: 0,
        archivePhi: 0,
        frame: frames[i % frames.length],
        options: { scoreThreshold: 0.3 },
      }),
    ),
  );
  return (count * 1000) / (performance.now() - started);
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

log(`decoding ${frameCount} frames of ${clip}…`);
const frames = await loadFrames();
log(`profiling D0…D${phiMax} at batch sizes up to ${maxBatch} (${threads} threads)…`);
const { table } = await profileModels({
  models,
  phis,
  maxBatch,
  executionProvider: "cpu",
  threads,
  cacheDir: null,
  // Enough samples that one slow run does not set the 90th percentile of a φ the stream may never run again.
  warmup: 2,
  samples: 10,
  onProgress: (s) => log(`  D${s.phi} × ${s.batch}: ${s.ms.toFixed(0)} ms`),
});

log(`starting ${hogs} CPU hog(s)`);
const hogProcesses = startHogs(hogs);
const stopHogs = () => {
  for (const hog of hogProcesses) hog.kill();
};
process.on("exit", stopHogs);
const loads: number[] = [];
const noteLoad = () => loads.push(loadavg()[0]);

const rows = [];
for (const budgetMs of budgets) {
  noteLoad();
  log(`budget ${budgetMs} ms, ${fps} frames/s, ${frameCount} frames`);
  const adaptive = await runStream(table, frames, budgetMs, [0, phiMax]);
  log(`  adaptive: ${JSON.stringify(adaptive)}`);
  const baselineMax = await runStream(table, frames, budgetMs, [phiMax, phiMax]);
  log(`  fixed D${phiMax}: ${JSON.stringify(baselineMax)}`);
  const baselineD0 = await runStream(table, frames, budgetMs, [0, 0]);
  log(`  fixed D0: ${JSON.stringify(baselineD0)}`);
  rows.push({ budgetMs, ...adaptive, baselineMax, baselineD0 });
}

// Overload: a live stream at overloadFactor × D0's capacity as measured now (hogs running).
noteLoad();
// Measured right before and right after the drop run (the load on a shared machine drifts): their mean.
const capacityBefore = await d0Capacity(table, frames);
const arrivalFps = overloadFactor * capacityBefore;
const overloadCount = Math.max(20, Math.round(arrivalFps * overloadSeconds));
log(
  `overload: D0 capacity ${capacityBefore.toFixed(2)} frames/s; streaming ${overloadCount} frames at ${arrivalFps.toFixed(2)} frames/s, budget ${overloadBudget} ms`,
);
noteLoad();
const dropped = await stream(table, frames, overloadCount, arrivalFps, overloadBudget, [0, phiMax], "drop");
const droppedRan = ran(dropped);
const dropBusyShare = lastBusyShare;
const dropSpanS = lastSpanS;
const dropBatchSizes = lastBatchSizes;
const dropMsPerFrame = lastMsPerFrame;
const dropReasons = lastReasons;
// Capacity right after the drop run too (the load drifts): the drop run is judged against the mean of the two
// measurements that bracket it, not against one taken after the queue run as well.
const capacityAfter = await d0Capacity(table, frames);
const capacityFps = (capacityBefore + capacityAfter) / 2;
noteLoad();
const queued = ran(
  await stream(table, frames, overloadCount, arrivalFps, overloadBudget, [0, phiMax], "queue"),
);
noteLoad();
for (const d of droppedRan.filter((r) => (r.result.slackMs ?? 0) < 0))
  log(`  drop: missed by ${-Math.round(d.result.slackMs!)} ms at D${d.result.phi} (${d.result.reason})`);
const overload = {
  factor: overloadFactor,
  budgetMs: overloadBudget,
  capacityFps: round(capacityFps, 3),
  capacityFpsBeforeAfter: [round(capacityBefore, 3), round(capacityAfter, 3)],
  arrivalFps: round(arrivalFps, 3),
  frames: overloadCount,
  drop: {
    processedHitRate: hitRate(droppedRan),
    processedShare: round(droppedRan.length / overloadCount, 4),
    // What the capacity allows of the stream's frames in the time the machine had for them: from the first
    // arrival to the last result, which includes the drain after the last arrival (up to a budget), as the
    // processed share does. Capacity ÷ arrival rate leaves the drain out: `arrivalCapacityShare`.
    capacityShare: round(Math.min(1, (capacityFps * dropSpanS) / overloadCount), 4),
    arrivalCapacityShare: round(capacityFps / arrivalFps, 4),
    spanS: round(dropSpanS, 2),
    skipped: overloadCount - droppedRan.length,
    runnerBusyShare: dropBusyShare,
    phiCounts: countBy(droppedRan.map((d) => `D${d.result.phi}`)),
    batchSizes: countBy(dropBatchSizes.map(String)),
    msPerFrameByBatch: dropMsPerFrame,
    batchReasons: dropReasons,
    p90LatencyMs: droppedRan.map((d) => d.latencyMs).sort((a, b) => a - b)[
      Math.floor(droppedRan.length * 0.9)
    ],
  },
  queue: {
    hitRate: hitRate(queued),
    p90LatencyMs: queued.map((d) => d.latencyMs).sort((a, b) => a - b)[Math.floor(queued.length * 0.9)],
  },
};
log(`  overload: ${JSON.stringify(overload)}`);
stopHogs();
await models.close();

// Whether any φ above D0 can run at all under the budget: one frame within half of it (the policy's rule).
const p50 = (phi: PhiValue, batch: number) =>
  table.rows.find((r) => r.phi === phi && r.batch === batch)?.p50Ms;
const goal = rows.map((r) => ({
  budgetMs: r.budgetMs,
  largerPhiFits: phis.some((phi) => phi !== 0 && (p50(phi, 1) ?? Number.POSITIVE_INFINITY) <= r.budgetMs / 2),
  d0MeetsIt: r.baselineD0.hitRate >= 0.99,
  adaptiveHits99: r.hitRate >= 0.99,
  meanPhiAboveD0: r.meanPhi > r.baselineD0.meanPhi,
}));
const overloadGoal = {
  dropProcessedHits99: overload.drop.processedHitRate >= 0.99,
  // Within 10 % of the capacity the machine showed just before (relative).
  dropShareNearCapacity:
    Math.abs(overload.drop.processedShare - overload.drop.capacityShare) <= 0.1 * overload.drop.capacityShare,
};
console.log(
  JSON.stringify({
    fps,
    framesPerRun: frameCount,
    phiMax,
    maxBatch,
    threads,
    hogs,
    loadAverage1m: { min: round(Math.min(...loads), 2), max: round(Math.max(...loads), 2) },
    cpu: cpus()[0]?.model.trim(),
    profile: table.rows.map((r) => ({ phi: r.phi, batch: r.batch, p50Ms: r.p50Ms, p90Ms: r.p90Ms })),
    budgets: rows,
    goal,
    overload,
    overloadGoal,
  }),
);
