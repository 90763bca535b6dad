// Test support: a small seeded deploy-variant EfficientDet ONNX file with a class list, as a user brings to
// `vdet models import`.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "@vdet/effdet";

/** Writes `<name>.onnx` (EfficientDet-D`phi`, 128 px, one output class per label) and `<name>.txt` into `dir`. */
export function writeLabelledOnnx(
  dir: string,
  name: string,
  phi: number,
  classes: string[],
): { onnx: string; labels: string } {
  const onnx = join(dir, `${name}.onnx`);
  writeFileSync(onnx, build({ phi, seed: 1, imageSize: 128, numClasses: classes.length }));
  const labels = join(dir, `${name}.txt`);
  writeFileSync(labels, classes.map((c) => `${c}\n`).join(""));
  return { onnx, labels };
}
