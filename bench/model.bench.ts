// `npm run bench -- model`: EfficientDet latency on onnxruntime CPU.
// - deploy graph (uint8 frames in, candidates out) for φ = 0…3 at batch 1 and 4, per image;
// - D0 raw graph against the peer ONNX export of the same weights (torch.onnx.export), measured in the same run:
//   ours is built from the fixture's D0 weights (the ones the peer was exported from; seeded weights when that file
//   is absent). The two models alternate for --rounds rounds of ≥ 10 timed runs each; the ratio is the median of the
//   per-round ratios, so drift in the machine's speed between rounds cancels out.
// Median of ≥ 10 timed runs after warm-up; the last stdout line is one JSON object with every figure.
// Options: --threads N (default 2), --runs N (default 10), --rounds N (default 7), --phis 0,1,2,3.

import { existsSync, readFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { build, getConfig } from "@vdet/effdet";
import { parsePhi } from "@vdet/protocol";
import * as ort from "onnxruntime-node";
import { noise } from "../test/support/bad-inputs.ts";

const { values } = parseArgs({
  options: {
    threads: { type: "string", default: "2" },
    runs: { type: "string", default: "10" },
    phis: { type: "string", default: "0,1,2,3" },
    rounds: { type: "string", default: "7" },
  },
});
const threads = Number(values.threads);
const runs = Math.max(10, Number(values.runs));
const rounds = Math.max(3, Number(values.rounds));
const fixturesDir =
  process.env.VDET_FIXTURES_DIR ?? join(import.meta.dirname, "..", "..", "shared", "fixtures");
const peerPath = join(fixturesDir, "effdet", "peer-d0-torch-export.onnx");
const peerWeightsPath = join(fixturesDir, "effdet", "d0.weights.safetensors");

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function session(model: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(model, { intraOpNumThreads: threads, interOpNumThreads: 1 });
}

/** Median milliseconds per run after 3 warm-up runs. */
async function timeRuns(s: ort.InferenceSession, feeds: Record<string, ort.Tensor>): Promise<number> {
  for (let i = 0; i < 3; i++) await s.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await s.run(feeds);
    times.push(performance.now() - t0);
  }
  return median(times);
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

const round = (v: number) => Math.round(v * 10) / 10;
const deploy: Record<string, { batch1MsPerImage: number; batch4MsPerImage: number; imageSize: number }> = {};
for (const phiText of values.phis.split(",")) {
  const phi = parsePhi(phiText);
  const size = getConfig(phi).imageSize;
  const s = await session(build({ phi, seed: 1 }));
  const perImage: number[] = [];
  for (const batch of [1, 4]) {
    // 720p-shaped frames: the graph resizes them to the model resolution, as a worker's would.
    const frames = new ort.Tensor("uint8", noise(batch * 720 * 1280 * 3, 7), [batch, 720, 1280, 3]);
    perImage.push((await timeRuns(s, { frames })) / batch);
    log(`D${phi} deploy batch ${batch}: ${perImage.at(-1)!.toFixed(1)} ms/image`);
  }
  deploy[`D${phi}`] = {
    imageSize: size,
    batch1MsPerImage: round(perImage[0]),
    batch4MsPerImage: round(perImage[1]),
  };
  await s.release();
}

let peer: Record<string, number | string> | undefined;
if (existsSync(peerPath)) {
  const sameWeights = existsSync(peerWeightsPath);
  const ours = await session(
    sameWeights
      ? build({ phi: 0, weights: new Uint8Array(readFileSync(peerWeightsPath)), variant: "raw" })
      : build({ phi: 0, seed: 1, variant: "raw" }),
  );
  const theirs = await session(readFileSync(peerPath));
  const result: Record<string, number | string> = {
    oursWeights: sameWeights
      ? "fixture d0.weights.safetensors (the peer's)"
      : "seeded (fixture weights absent)",
  };
  for (const batch of [1, 4]) {
    const input = Float32Array.from(noise(batch * 3 * 512 * 512, 11), (v) => (v - 120) / 58);
    const tensor = new ort.Tensor("float32", input, [batch, 3, 512, 512]);
    // Alternate the two models so drift in machine load hits both equally.
    const oursTimes: number[] = [];
    const peerTimes: number[] = [];
    const ratios: number[] = [];
    for (let r = 0; r < rounds; r++) {
      oursTimes.push(await timeRuns(ours, { input: tensor }));
      peerTimes.push(await timeRuns(theirs, { images: tensor }));
      ratios.push(oursTimes[r] / peerTimes[r]);
    }
    result[`oursB${batch}Ms`] = round(median(oursTimes));
    result[`peerB${batch}Ms`] = round(median(peerTimes));
    result[`ratioVsPeerB${batch}`] = Math.round(median(ratios) * 1000) / 1000;
    result[`ratioRangeB${batch}`] = `${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)}`;
    log(
      `D0 raw batch ${batch}: ours ${median(oursTimes).toFixed(1)} ms, peer ${median(peerTimes).toFixed(1)} ms, per-round ratios ${ratios.map((x) => x.toFixed(3)).join(" ")}`,
    );
  }
  peer = result;
} else {
  log(`peer model not found at ${peerPath}: set VDET_FIXTURES_DIR; skipping the peer comparison`);
}

console.log(
  JSON.stringify({
    bench: "model",
    runtime: `onnxruntime-node ${ort.env.versions.node ?? ""}`.trim(),
    executionProvider: "cpu",
    threads,
    cpu: cpus()[0]?.model,
    runsPerMedian: runs,
    peerRounds: rounds,
    deployInput: "uint8 720x1280 frames, resized in-graph",
    deploy,
    d0RawVsPeer: peer ?? null,
    ratioVsPeerB1: peer?.ratioVsPeerB1 ?? null,
    ratioVsPeerB4: peer?.ratioVsPeerB4 ?? null,
  }),
);
