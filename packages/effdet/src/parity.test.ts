// Parity with the reference implementation (effdet 0.4.1) on the shared fixtures: raw head outputs and
// intermediates within 1e-3, in-graph preprocessing against the fixture inputs, and deploy + NMS detections as
// matched sets. See test/fixtures/effdet/README.md for how the fixtures were made.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { decodeImage } from "@vdet/image";
import { type Detections, detectionCount } from "@vdet/protocol";
import { readSafetensors, type StateDict, toFloat32 } from "@vdet/tensorio";
import * as ort from "onnxruntime-node";
import { largeFixture, loadD3StateDict, projectFixture } from "../../../test/support/fixtures.ts";
import { build } from "./build.ts";
import { postprocess } from "./postprocess.ts";

const HEAD_TOLERANCE = 1e-3;

async function session(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, { intraOpNumThreads: 2 });
}

function readIo(path: string): StateDict {
  return readSafetensors(readFileSync(path));
}

/** Max |a − b| over a tensor; `channels` restricts an NCHW comparison to the first channels of `a`. */
function maxAbsDiff(actual: ort.Tensor, expected: Float32Array, expectedShape: readonly number[]): number {
  const a = actual.data as Float32Array;
  const [n, c, h, w] = actual.dims as number[];
  const refChannels = expectedShape[1];
  assert.deepEqual([n, h, w], [expectedShape[0], expectedShape[2], expectedShape[3]]);
  let max = 0;
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < refChannels; ch++) {
      const ao = (b * c + ch) * h * w;
      const eo = (b * refChannels + ch) * h * w;
      for (let i = 0; i < h * w; i++) max = Math.max(max, Math.abs(a[ao + i] - expected[eo + i]));
    }
  }
  return max;
}

function compareOutputs(
  t: { diagnostic(message: string): void },
  outputs: ort.InferenceSession.OnnxValueMapType,
  io: StateDict,
  names: string[],
): void {
  for (const name of names) {
    const ref = io.get(name === "class_P3" ? "class_P3_ch0-89" : name);
    assert.ok(ref, `fixture has ${name}`);
    const diff = maxAbsDiff(outputs[name] as ort.Tensor, toFloat32(ref), ref.shape);
    t.diagnostic(`${name}: max abs diff ${diff.toExponential(2)}`);
    assert.ok(diff <= HEAD_TOLERANCE, `${name}: max abs diff ${diff} > ${HEAD_TOLERANCE}`);
  }
}

const HEADS = ["P3", "P4", "P5", "P6", "P7"].flatMap((l) => [`class_${l}`, `box_${l}`]);

type Row = [number, number, number, number, number, number];

function iou(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = ix * iy;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0
    ? inter / union
    : a.length === b.length && Array.from(a).every((v, i) => v === b[i])
      ? 1
      : 0;
}

/**
 * Matches detections to reference rows one to one: same class, score within 1e-3, and IoU ≥ 0.99 — or, for boxes
 * clipping made degenerate (zero area, where IoU says nothing), every corner within 0.05 px.
 */
function unmatchedRows(ours: Detections, rows: Row[]): number {
  const used = new Uint8Array(detectionCount(ours));
  let unmatched = 0;
  for (const row of rows) {
    let found = -1;
    for (let i = 0; i < used.length && found < 0; i++) {
      if (used[i] || ours.classIds[i] !== row[5] || Math.abs(ours.scores[i] - row[4]) > 1e-3) continue;
      const box = ours.xyxy.subarray(i * 4, i * 4 + 4);
      const cornersClose = [0, 1, 2, 3].every((j) => Math.abs(box[j] - row[j]) <= 0.05);
      if (iou(box, row) >= 0.99 || cornersClose) found = i;
    }
    if (found >= 0) used[found] = 1;
    else unmatched++;
  }
  return unmatched;
}

/** Rows of unmatched detections allowed per image: the README measured up to 2 from fp32 noise alone. */
const MAX_UNMATCHED = 2;

function frameTensor(path: string): ort.Tensor {
  const image = decodeImage(readFileSync(path), path);
  return new ort.Tensor("uint8", image.data, [1, image.height, image.width, 3]);
}

async function detect(s: ort.InferenceSession, frame: ort.Tensor): Promise<Detections> {
  const out = await s.run({ frames: frame });
  const [batch, candidates] = out.scores.dims as number[];
  return postprocess({
    boxes: out.boxes.data as Float32Array,
    scores: out.scores.data as Float32Array,
    classes: out.classes.data as Int32Array,
    batch,
    candidates,
  })[0];
}

describe("D3 at 256×256 (fixture in the repository)", () => {
  const weights = loadD3StateDict();
  const reference = JSON.parse(readFileSync(projectFixture("effdet/d3-256.reference.json"), "utf8"));

  test("raw graph: backbone, BiFPN and head outputs within 1e-3", async (t) => {
    const io = readIo(projectFixture("effdet/d3-256.io.safetensors"));
    const model = build({ phi: 3, weights, variant: "raw", imageSize: 256, debugOutputs: true });
    const s = await session(model);
    const input = io.get("input")!;
    const out = await s.run({ input: new ort.Tensor("float32", toFloat32(input), input.shape) });
    compareOutputs(t, out, io, [
      "backbone_C3",
      "backbone_C4",
      "backbone_C5",
      "fpn_P3",
      "fpn_P4",
      "fpn_P5",
      "fpn_P6",
      "fpn_P7",
      ...HEADS,
    ]);
  });

  test("deploy graph + NMS: the reference's 100 detections as a matched set", async (t) => {
    const model = build({ phi: 3, weights, imageSize: 256, clipBoxes: false });
    const ours = await detect(await session(model), frameTensor(projectFixture("effdet/d3-256.image0.png")));
    const rows: Row[] = reference.detections_no_img_info.per_image[0];
    assert.equal(detectionCount(ours), rows.length);
    const unmatched = unmatchedRows(ours, rows);
    t.diagnostic(`unmatched rows: ${unmatched} of ${rows.length}`);
    assert.ok(unmatched <= MAX_UNMATCHED, `${unmatched} reference rows have no match`);
  });
});

describe("D0 at 512×512 (large fixtures)", () => {
  test("raw graph: head outputs within 1e-3 for both images", async (t) => {
    const weightsPath = largeFixture(t, "effdet/d0.weights.safetensors");
    const ioPath = largeFixture(t, "effdet/d0.io.safetensors");
    if (!weightsPath || !ioPath) return;
    const model = build({ phi: 0, weights: readFileSync(weightsPath), variant: "raw" });
    const io = readIo(ioPath);
    const input = io.get("input")!;
    const out = await (await session(model)).run({
      input: new ort.Tensor("float32", toFloat32(input), input.shape),
    });
    compareOutputs(t, out, io, HEADS);
  });

  test("deploy graph: in-graph letterbox and normalisation reproduce the fixture input", async (t) => {
    const weightsPath = largeFixture(t, "effdet/d0.weights.safetensors");
    const ioPath = largeFixture(t, "effdet/d0.io.safetensors");
    if (!weightsPath || !ioPath) return;
    const s = await session(build({ phi: 0, weights: readFileSync(weightsPath), debugOutputs: true }));
    const expected = toFloat32(readIo(ioPath).get("input")!);
    const plane = 3 * 512 * 512;
    // Image 0 as it is (no resize); image 1 cut to its 512×384 content, which the graph must pad back with the
    // fill colour exactly as the reference letterbox did.
    const image0 = frameTensor(projectFixture("effdet/d0.image0.png"));
    const full1 = frameTensor(projectFixture("effdet/d0.image1.png"));
    const content1 = new ort.Tensor(
      "uint8",
      (full1.data as Uint8Array).subarray(0, 384 * 512 * 3),
      [1, 384, 512, 3],
    );
    for (const [b, frame] of [image0, content1].entries()) {
      const out = (await s.run({ frames: frame })).preprocessed.data as Float32Array;
      let max = 0;
      for (let i = 0; i < plane; i++) max = Math.max(max, Math.abs(out[i] - expected[b * plane + i]));
      t.diagnostic(`image ${b}: max abs diff ${max}`);
      assert.ok(max <= 1e-6, `image ${b}: preprocessed input differs by ${max}`);
    }
  });

  test("deploy graph + NMS: the reference's detections as matched sets", async (t) => {
    const weightsPath = largeFixture(t, "effdet/d0.weights.safetensors");
    if (!weightsPath) return;
    const reference = JSON.parse(readFileSync(projectFixture("effdet/d0.reference.json"), "utf8"));
    const weights = readFileSync(weightsPath);
    const unclipped = await session(build({ phi: 0, weights, clipBoxes: false }));
    for (const b of [0, 1]) {
      const ours = await detect(unclipped, frameTensor(projectFixture(`effdet/d0.image${b}.png`)));
      const rows: Row[] = reference.detections_no_img_info.per_image[b];
      const unmatched = unmatchedRows(ours, rows);
      t.diagnostic(`image ${b}: unmatched rows ${unmatched} of ${rows.length}`);
      assert.ok(unmatched <= MAX_UNMATCHED, `image ${b}: ${unmatched} reference rows have no match`);
    }
    // With clipping: image 0 stands for a 640×640 frame shown at img_scale 1.25; clipped boxes in model pixels are
    // the reference's clipped rows divided by 1.25.
    const clipped = await session(build({ phi: 0, weights }));
    const ours = await detect(clipped, frameTensor(projectFixture("effdet/d0.image0.png")));
    const rows: Row[] = reference.detections_with_img_info.per_image[0].map((r: Row) => [
      ...r.slice(0, 4).map((v) => v / 1.25),
      r[4],
      r[5],
    ]);
    const unmatched = unmatchedRows(ours, rows);
    t.diagnostic(`clipped, image 0: unmatched rows ${unmatched}`);
    assert.ok(unmatched <= MAX_UNMATCHED);
  });
});

test("deploy graph: antialiased bilinear shrink as PIL computes it, within one level of rounding", async () => {
  // A 2× pixel-duplicated copy of the fixture image, shrunk back to 512 by the graph. PIL's antialiased bilinear
  // filter at scale 2 weighs source pixels (1/8, 3/8, 3/8, 1/8), i.e. 3/4·x[i] + 1/8·(x[i−1] + x[i+1]) per axis in
  // original pixels, renormalised at the border.
  const image = decodeImage(readFileSync(projectFixture("effdet/d3-256.image0.png")));
  const n = image.width;
  const big = new Uint8Array(4 * n * n * 3);
  for (let y = 0; y < 2 * n; y++) {
    for (let x = 0; x < 2 * n; x++) {
      for (let c = 0; c < 3; c++)
        big[(y * 2 * n + x) * 3 + c] = image.data[((y >> 1) * n + (x >> 1)) * 3 + c];
    }
  }
  const s = await session(build({ phi: 3, seed: 1, imageSize: 256, debugOutputs: true }));
  const out = (await s.run({ frames: new ort.Tensor("uint8", big, [1, 2 * n, 2 * n, 3]) })).preprocessed
    .data as Float32Array;
  const weight = (i: number) => (i < 0 || i >= n ? 0 : 1);
  const std = [0.229, 0.224, 0.225].map((v) => Math.fround(255 * v));
  const mean = [0.485, 0.456, 0.406].map((v) => Math.fround(255 * v));
  let worst = 0;
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        let sum = 0;
        let total = 0;
        for (const dy of [-1, 0, 1]) {
          for (const dx of [-1, 0, 1]) {
            const w = weight(y + dy) * weight(x + dx) * (dy === 0 ? 6 : 1) * (dx === 0 ? 6 : 1);
            if (w === 0) continue;
            sum += w * image.data[((y + dy) * n + (x + dx)) * 3 + c];
            total += w;
          }
        }
        const expectedLevel = sum / total;
        const level = out[(c * n + y) * n + x] * std[c] + mean[c];
        worst = Math.max(worst, Math.abs(level - expectedLevel));
      }
    }
  }
  assert.ok(
    worst <= 1.0 + 1e-3,
    `graph resize differs from the antialiased bilinear filter by ${worst} levels`,
  );
});
