// The JSON manifest stored beside each cached model: what the model is, where it came from, how to check it.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { PHI_VALUES } from "@vdet/protocol";
import { z } from "zod";

export const MANIFEST_FILE = "manifest.json";
export const MODEL_FILE = "model.onnx";
export const MANIFEST_FORMAT = 1;

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, "a sha256 in lower-case hex");

export const modelManifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  name: z.string(),
  /** EfficientDet coefficient: 0…7 or "7x". */
  phi: z.literal(PHI_VALUES),
  /** Model input resolution (square), pixels. */
  resolution: z.number().int().positive(),
  numClasses: z.number().int().positive(),
  /** labels[k] names class id k + 1 (the id in detections). */
  labels: z.array(z.string()),
  /** Trainable parameters of the reference model (BN running statistics excluded). */
  parameters: z.number().int().nonnegative(),
  source: z.object({
    /** quantized: an int8 build of another deploy model (see `quantization`). */
    kind: z.enum(["published", "import", "quantized"]),
    /** Download URL (published; the local file's absolute path after `pull --from`) or the imported file's path. */
    location: z.string(),
    format: z.enum(["torch-zip", "torch-legacy", "safetensors", "onnx"]),
    bytes: z.number().int().nonnegative(),
  }),
  /** sha256 of the source file (the checkpoint as downloaded or imported). */
  sha256: sha256Hex,
  model: z.object({
    file: z.literal(MODEL_FILE),
    variant: z.literal("deploy"),
    bytes: z.number().int().positive(),
    sha256: sha256Hex,
  }),
  createdAt: z.string(),
  vdetVersion: z.string(),
  /** int8 builds (`vdet model build --precision int8`): what they were quantised from and how (their cache key). */
  quantization: z
    .object({
      precision: z.literal("int8"),
      /** sha256 of the fp32 deploy model it was quantised from. */
      sourceModelSha256: sha256Hex,
      /** sha256 of the calibration frames. */
      calibrationSha256: sha256Hex,
      /** Method, percentile, weight bits, rules: as recorded in the model's `vdet.quantization` metadata. */
      settings: z.record(z.string(), z.unknown()),
      /** Agreement with the fp32 model measured at build time (AP@0.5 of int8 against fp32), 0…1. */
      agreement: z.number().min(0).max(1).optional(),
    })
    .optional(),
});

export type ModelManifest = z.infer<typeof modelManifestSchema>;

const rootPackage = new URL("../../../package.json", import.meta.url);

/** The vdet version recorded in manifests (the root package.json's). */
export function vdetVersion(): string {
  return (JSON.parse(readFileSync(rootPackage, "utf8")) as { version: string }).version;
}

/** The manifest's `model` entry for a converted deploy graph. */
export function deployModelEntry(model: Uint8Array): ModelManifest["model"] {
  return {
    file: MODEL_FILE,
    variant: "deploy",
    bytes: model.length,
    sha256: createHash("sha256").update(model).digest("hex"),
  };
}
