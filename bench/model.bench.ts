// `npm run bench -- model`: EfficientDet latency on onnxruntime CPU.
// - deploy graph (uint8 frames in, candidates out) for φ = 0…3 at batch 1 and 4, per image;
// - D0 raw graph against the peer ONNX export of the same weights (torch.onnx.export), measured in the same run:
//   ours is built from the fixture's D0 weights (the ones the peer was exported from; seeded weights when that file
//   is absent). The two models alternate for --rounds rounds of ≥ 10 timed runs each; the ratio is the median of the
//   per-round ratios, so drift in the machine's speed between rounds cancels out.
// - int8 (QDQ, docs/model.md "int8") deploy graphs of the same φs at batch 1 and 4, calibrated on frames of the
//   bundled car clip (default rules and method), timed in alternating rounds with their fp32 twin;
// - ratioVsPeerInt8B4: our D0 int8 deploy graph (fixture weights) against the fp32 peer export at batch 4,
//   alternating with the peer and with our fp32 D0 in the same rounds. The int8 graph takes uint8 frames and
//   pre-processes in-graph, the peer takes the normalised 512×512 tensor: the int8 side does more work.
// Median of ≥ 10 timed runs after warm-up; the last stdout line is one JSON object with every figure.
// Options: --threads N (default 2), --runs N (default 10), --rounds N (default 7), --phis 0,1,2,3,
// --int8-phis (default: --phis; "none" skips the int8 rows), --calibration-frames N (default 16).

import { existsSync, readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { build, defaultWeightBits, getConfig, quantize } from "@vdet/effdet";
import { parsePhi, type RgbImage } from "@vdet/protocol";
import { cpuFeatures } from "@vdet/runtime";
import { decodeFrames } from "@vdet/video";
import * as ort from "onnxruntime-node";
import { noise } from "../test/support/bad-inputs.ts";

const { values } = parseArgs({
  options: {
    threads: { type: "string", default: "2" },
    runs: { type: "string", default: "10" },
    phis: { type: "string", default: "0,1,2,3" },
    rounds: { type: "string", default: "7" },
    "int8-phis": { type: "string" },
    "calibration-frames": { type: "string", default: "16" },
  },
});
const threads = Number(values.threads);
// Fewer than 10 runs per median (down to 3) only for a loaded machine; the JSON records runsPerMedian.
const runs = Math.max(3, Number(values.runs));
const warmups = runs >= 10 ? 3 : 1;
const rounds = Math.max(3, Number(values.rounds));
// "none" skips the fp32 deploy rows (the int8 rows carry their fp32 twins' times).
const deployPhis = values.phis === "none" ? [] : values.phis.split(",");
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

/** Median milliseconds per run after 3 warm-up runs (1 when --runs is below 10). */
async function timeRuns(s: ort.InferenceSession, feeds: Record<string, ort.Tensor>): Promise<number> {
  for (let i = 0; i < warmups; i++) await s.run(feeds);
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
const ratio3 = (v: number) => Math.round(v * 1000) / 1000;
const range3 = (xs: number[]) => `${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)}`;
const calibrationClip = join(import.meta.dirname, "..", "test", "fixtures", "video", "car-detection.mp4");

async function calibrationFrames(count: number): Promise<RgbImage[]> {
  const frames: RgbImage[] = [];
  for await (const frame of decodeFrames(calibrationClip, { sampling: { everyNth: 10 } })) {
    frames.push(frame);
    if (frames.length >= count) break;
  }
  return frames;
}
const calibration = await calibrationFrames(Number(values["calibration-frames"]));
const clipFrames = (batch: number) => {
  const { width, height } = calibration[0];
  const data = new Uint8Array(batch * width * height * 3);
  for (let b = 0; b < batch; b++)
    data.set(calibration[(calibration.length - 1 - b) % calibration.length].data, b * width * height * 3);
  return new ort.Tensor("uint8", data, [batch, height, width, 3]);
};
const deploy: Record<string, { batch1MsPerImage: number; batch4MsPerImage: number; imageSize: number }> = {};
for (const phiText of deployPhis) {
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

// int8 rows: each φ's int8 graph alternates with its fp32 twin (seeded weights, as the fp32 rows above).
const int8PhiList = values["int8-phis"] ?? values.phis;
const int8Phis = int8PhiList === "none" ? [] : int8PhiList.split(",");
const int8: Record<string, Record<string, number | string>> = {};
for (const phiText of int8Phis) {
  const phi = parsePhi(phiText);
  const fp32Bytes = build({ phi, seed: 1 });
  const started = performance.now();
  const q = await quantize(fp32Bytes, calibration, { intraOpThreads: threads });
  const buildSeconds = (performance.now() - started) / 1000;
  const [fp, q8] = [await session(fp32Bytes), await session(q.bytes)];
  const row: Record<string, number | string> = {
    imageSize: getConfig(phi).imageSize,
    calibrationSeconds: round(buildSeconds),
  };
  for (const batch of [1, 4]) {
    const frames = clipFrames(batch);
    const fpTimes: number[] = [];
    const qTimes: number[] = [];
    for (let r = 0; r < Math.max(3, Math.ceil(rounds / 2)); r++) {
      fpTimes.push((await timeRuns(fp, { frames })) / batch);
      qTimes.push((await timeRuns(q8, { frames })) / batch);
    }
    const ratios = qTimes.map((v, i) => v / fpTimes[i]);
    row[`batch${batch}MsPerImage`] = round(median(qTimes));
    row[`fp32Batch${batch}MsPerImage`] = round(median(fpTimes));
    row[`ratioVsFp32B${batch}`] = ratio3(median(ratios));
    row[`ratioRangeVsFp32B${batch}`] = range3(ratios);
    log(
      `D${phi} int8 batch ${batch}: ${median(qTimes).toFixed(1)} ms/image, fp32 ${median(fpTimes).toFixed(1)}, per-round ratios ${ratios.map((x) => x.toFixed(3)).join(" ")}`,
    );
  }
  int8[`D${phi}`] = row;
  await fp.release();
  await q8.release();
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
  if (sameWeights) {
    // Our D0 int8 deploy graph (fixture weights, calibrated on the clip) against the peer, batch 4, alternating
    // with the peer and our fp32 deploy graph. Both deploy graphs get the same 512×512 uint8 frames (no resize).
    const d0 = build({ phi: 0, weights: new Uint8Array(readFileSync(peerWeightsPath)) });
    const q = await quantize(d0, calibration, { intraOpThreads: threads });
    const [int8Session, fp32Session] = [await session(q.bytes), await session(d0)];
    const batch = 4;
    const frames = new ort.Tensor("uint8", noise(batch * 512 * 512 * 3, 13), [batch, 512, 512, 3]);
    const input = Float32Array.from(noise(batch * 3 * 512 * 512, 11), (v) => (v - 120) / 58);
    const images = new ort.Tensor("float32", input, [batch, 3, 512, 512]);
    const times = { int8: [] as number[], fp32: [] as number[], peer: [] as number[] };
    for (let r = 0; r < rounds; r++) {
      times.int8.push(await timeRuns(int8Session, { frames }));
      times.peer.push(await timeRuns(theirs, { images }));
      times.fp32.push(await timeRuns(fp32Session, { frames }));
    }
    const ratios = times.int8.map((v, i) => v / times.peer[i]);
    const fpRatios = times.fp32.map((v, i) => v / times.peer[i]);
    result.int8DeployB4Ms = round(median(times.int8));
    result.fp32DeployB4Ms = round(median(times.fp32));
    result.peerB4MsInt8Rounds = round(median(times.peer));
    result.ratioVsPeerInt8B4 = ratio3(median(ratios));
    result.ratioRangeInt8B4 = range3(ratios);
    result.ratioVsPeerFp32DeployB4 = ratio3(median(fpRatios));
    log(
      `D0 int8 deploy batch 4: ${median(times.int8).toFixed(1)} ms, fp32 deploy ${median(times.fp32).toFixed(1)} ms, peer ${median(times.peer).toFixed(1)} ms; per-round int8/peer ${ratios.map((x) => x.toFixed(3)).join(" ")}`,
    );
    await int8Session.release();
    await fp32Session.release();
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
    loadAverage1mAtEnd: Math.round(loadavg()[0] * 10) / 10,
    peerRounds: rounds,
    deployInput: "uint8 720x1280 frames, resized in-graph",
    deploy,
    int8Input: "uint8 432x768 frames of test/fixtures/video/car-detection.mp4; calibrated on the same clip",
    int8,
    d0RawVsPeer: peer ?? null,
    ratioVsPeerB1: peer?.ratioVsPeerB1 ?? null,
    ratioVsPeerB4: peer?.ratioVsPeerB4 ?? null,
    ratioVsPeerInt8B4: peer?.ratioVsPeerInt8B4 ?? null,
    cpuFlags: cpuFeatures().flags.join(" ") || cpuFeatures().source,
    int8WeightBits: defaultWeightBits(),
  }),
);
