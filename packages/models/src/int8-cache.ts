// int8 builds in the model cache: one entry per (source model, calibration set, settings), named
// `<base>-int8-<key>`, so `VDET_WEIGHTS=0=d0@int8` finds the int8 build of whatever fp32 model φ runs.

import { createHash } from "node:crypto";
import type { PhiValue } from "@vdet/protocol";
import { type CachedModel, checkModelName, ModelCache } from "./cache.ts";
import { deployModelEntry, MANIFEST_FORMAT, type ModelManifest, vdetVersion } from "./manifest.ts";

export interface Int8BuildKey {
  /** sha256 of the fp32 deploy model quantised. */
  sourceModelSha256: string;
  /** sha256 of the calibration frames. */
  calibrationSha256: string;
  /** Everything else that shapes the build (method, percentile, weight bits, rules). */
  settings: Record<string, unknown>;
}

/** The cache key of an int8 build: sha256 over the source model, calibration set and settings. */
export function int8BuildKey(key: Int8BuildKey): string {
  const settings = JSON.stringify(key.settings, Object.keys(key.settings).sort());
  return createHash("sha256")
    .update(`${key.sourceModelSha256}\n${key.calibrationSha256}\n${settings}`)
    .digest("hex");
}

export interface StoreInt8Options extends Int8BuildKey {
  phi: PhiValue;
  /** The source model's cache name, or a name for it (`d0`). */
  baseName: string;
  model: Uint8Array;
  resolution: number;
  numClasses: number;
  labels: string[];
  parameters: number;
  /** Where the source came from (a file path or cached model name), for the manifest. */
  sourceLocation: string;
  agreement?: number;
  cache?: ModelCache;
}

/** Stores an int8 build under its key (an entry with the same key is replaced: same inputs, same build). */
export async function storeInt8Build(o: StoreInt8Options): Promise<CachedModel> {
  const cache = o.cache ?? new ModelCache();
  const key = int8BuildKey(o);
  const base = o.baseName.replace(/[^a-z0-9._-]+/gi, "-").slice(0, 40) || `d${o.phi}`;
  const name = checkModelName(`${base}-int8-${key.slice(0, 12)}`);
  const manifest: ModelManifest = {
    format: MANIFEST_FORMAT,
    name,
    phi: o.phi,
    resolution: o.resolution,
    numClasses: o.numClasses,
    labels: o.labels,
    parameters: o.parameters,
    source: { kind: "quantized", location: o.sourceLocation, format: "onnx", bytes: o.model.length },
    sha256: o.sourceModelSha256,
    model: deployModelEntry(o.model),
    createdAt: new Date().toISOString(),
    vdetVersion: vdetVersion(),
    quantization: {
      precision: "int8",
      sourceModelSha256: o.sourceModelSha256,
      calibrationSha256: o.calibrationSha256,
      settings: o.settings,
      ...(o.agreement !== undefined ? { agreement: o.agreement } : {}),
    },
  };
  return cache.install(name, { model: o.model, manifest }, true);
}

/** The newest cached int8 build of the fp32 deploy model with this sha256, if any. */
export function findInt8Build(sourceModelSha256: string, cache = new ModelCache()): CachedModel | undefined {
  return cache
    .list()
    .models.filter((m) => m.manifest.quantization?.sourceModelSha256 === sourceModelSha256)
    .sort((a, b) => b.manifest.createdAt.localeCompare(a.manifest.createdAt))[0];
}
