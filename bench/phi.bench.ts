// `npm run bench -- phi`: the φ policy on a live-rate stream with the real models on this machine.
// Frames of a real clip arrive at a fixed rate (default 10/s); each is due `budget` ms after it arrives. For each
// budget (default 150, 400, 1500 ms) the same stream runs three times in this run: the adaptive policy over
// D0…Dmax, fixed Dmax (the largest φ allowed), and fixed D0. Reported per run: deadline hit rate, mean φ, p50/p90
// latency (arrival → detections ready). The worker's latency profile is measured first, as a worker would at start.
// Every φ is warmed up before each run (a running worker keeps its models warm).
// Options: --fps N, --frames N (per run, default 100), --budgets 150,400,1500, --phi-max N, --max-batch N, --threads N.
// The last stdout line is one JSON object.

import { availableParallelism, cpus } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { getConfig } from "@vdet/effdet";
import {
  createModelProvider,
  FrameScheduler,
  padToSquare,
  profileModels,
  type ScheduledResult,
} from "@vdet/pipeline";
import { type PhiValue, parsePhi, type RgbImage } from "@vdet/protocol";
import { LatencyProfile, type ProfileTable } from "@vdet/scheduler";
import { decodeFrames } from "@vdet/video";

const { values } = parseArgs({
  options: {
    fps: { type: "string", default: "10" },
    frames: { type: "string", default: "100" },
    budgets: { type: "string", default: "150,400,1500" },
    "phi-max": { type: "string", default: "3" },
    "max-batch": { type: "string", default: "4" },
    threads: { type: "string", default: String(availableParallelism()) },
  },
});
const fps = Number(values.fps);
const frameCount = Number(values.frames);
const budgets = values.budgets.split(",").map(Number);
const phiMax = parsePhi(values["phi-max"]);
const maxBatch = Number(values["max-batch"]);
const threads = Number(values.threads);
const phis: PhiValue[] = [0, 1, 2, 3, 4, 5, 6, 7].filter((p) => p <= Number(phiMax)) as PhiValue[];
const clip = join(import.meta.dirname, "..", "..", "shared", "data", "video", "car-detection.mp4");

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

async function runStream(
  table: ProfileTable,
  frames: RgbImage[],
  budgetMs: number,
  range: [PhiValue, PhiValue],
): Promise<RunFigures> {
  // A running worker's models are warm at every batch size it uses (onnxruntime plans memory per input shape; the
  // first run of a shape after others is markedly slower): run each φ × batch size once, smallest φ last.
  for (const phi of [...phis].reverse()) {
    const detector = await models.detector(phi);
    for (let b = 1; b <= maxBatch; b++) {
      await detector.detect(frames.slice(0, b), Array(b).fill({ scoreThreshold: 0.3 }));
    }
  }
  const scheduler = new FrameScheduler({
    models,
    profile: LatencyProfile.fromTable(table),
    maxBatch,
    maxDelayMs: 5,
  });
  const intervalMs = 1000 / fps;
  const started = performance.now();
  const pending: Promise<{ result: ScheduledResult; latencyMs: number }>[] = [];
  for (let i = 0; i < frames.length; i++) {
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
          frame: frames[i],
          options: { scoreThreshold: 0.3 },
        })
        .then((result) => ({ result, latencyMs: Date.now() - arrived })),
    );
  }
  const done = await Promise.all(pending);
  const latencies = done.map((d) => d.latencyMs).sort((a, b) => a - b);
  const phiCounts: Record<string, number> = {};
  for (const d of done) phiCounts[`D${d.result.phi}`] = (phiCounts[`D${d.result.phi}`] ?? 0) + 1;
  return {
    hitRate: round(done.filter((d) => (d.result.slackMs ?? 0) >= 0).length / done.length, 4),
    misses: done.filter((d) => (d.result.slackMs ?? 0) < 0).length,
    meanPhi: round(done.reduce((s, d) => s + Number(d.result.phi), 0) / done.length, 3),
    p50LatencyMs: latencies[Math.floor(latencies.length * 0.5)],
    p90LatencyMs: latencies[Math.floor(latencies.length * 0.9)],
    phiCounts,
  };
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

const rows = [];
for (const budgetMs of budgets) {
  log(`budget ${budgetMs} ms, ${fps} frames/s, ${frameCount} frames`);
  const adaptive = await runStream(table, frames, budgetMs, [0, phiMax]);
  log(`  adaptive: ${JSON.stringify(adaptive)}`);
  const baselineMax = await runStream(table, frames, budgetMs, [phiMax, phiMax]);
  log(`  fixed D${phiMax}: ${JSON.stringify(baselineMax)}`);
  const baselineD0 = await runStream(table, frames, budgetMs, [0, 0]);
  log(`  fixed D0: ${JSON.stringify(baselineD0)}`);
  rows.push({ budgetMs, ...adaptive, baselineMax, baselineD0 });
}
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
console.log(
  JSON.stringify({
    fps,
    framesPerRun: frameCount,
    phiMax,
    maxBatch,
    threads,
    cpu: cpus()[0]?.model.trim(),
    profile: table.rows.map((r) => ({ phi: r.phi, batch: r.batch, p50Ms: r.p50Ms, p90Ms: r.p90Ms })),
    budgets: rows,
    goal,
  }),
);
