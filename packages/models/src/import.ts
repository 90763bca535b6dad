// `import`: a user's own checkpoint (any class count) or ready deploy ONNX file, converted and stored in the cache
// with a manifest, under a name of the user's choosing.

import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { basename, extname, resolve } from "node:path";
import { readOnnxInfo } from "@vdet/effdet";
import { type PhiValue, parsePhi } from "@vdet/protocol";
import { detectTensorFormat } from "@vdet/tensorio";
import { type CachedModel, checkModelName, ModelCache } from "./cache.ts";
import { parsePublishedName } from "./catalog.ts";
import { adoptOnnx, convertCheckpoint, defaultLabels, looksLikeOnnx, parseLabels } from "./convert.ts";
import { ModelInputError } from "./errors.ts";
import { deployModelEntry, MANIFEST_FORMAT, type ModelManifest, vdetVersion } from "./manifest.ts";

export interface ImportOptions {
  /** The checkpoint's φ; may be left out for a deploy ONNX file that records it (vdet builds do). */
  phi?: PhiValue | string | number;
  /** Path of a labels file: one class name per line, in class order. */
  classesFile?: string;
  /** Cache name; default the file name without its extension. */
  name?: string;
  /** Replace a cached model of the same name. */
  force?: boolean;
  cache?: ModelCache;
}

function defaultName(file: string): string {
  const stem = basename(file, extname(file))
    .replace(/[^a-z0-9._-]+/gi, "-")
    .replace(/^[-.]+/, "");
  return stem.slice(0, 64) || "imported";
}

export async function importModel(file: string, options: ImportOptions): Promise<CachedModel> {
  const cache = options.cache ?? new ModelCache();
  const name = checkModelName(options.name ?? defaultName(file));
  if (parsePublishedName(name) !== undefined) {
    throw new ModelInputError(
      `"${name}" is kept for the published COCO model (vdet models pull ${name}); choose another --name`,
    );
  }
  if (!options.force && cache.check(name).ok) {
    throw new ModelInputError(
      `a model named "${name}" is already cached; choose another --name or pass --force`,
    );
  }
  const labels = options.classesFile ? parseLabels(await readFile(options.classesFile, "utf8")) : undefined;
  if (labels && labels.length === 0) throw new ModelInputError(`${options.classesFile} lists no labels`);

  const bytes = new Uint8Array(await readFile(file));
  const sourceName = basename(file);
  const isOnnx = detectTensorFormat(bytes) === undefined && looksLikeOnnx(bytes);
  const recorded = isOnnx ? readOnnxInfo(bytes).phi : undefined;
  if (options.phi === undefined && recorded === undefined)
    throw new ModelInputError(
      `${sourceName} does not record its φ (${isOnnx ? "an ONNX file not built by vdet" : "a checkpoint"}): pass --phi 0…7 or 7x`,
    );
  const phi = parsePhi(options.phi ?? (recorded as string));
  const converted = isOnnx
    ? adoptOnnx(bytes, { phi, sourceName, expectedClasses: labels?.length })
    : convertCheckpoint(bytes, { phi, sourceName, expectedClasses: labels?.length });
  const manifest: ModelManifest = {
    format: MANIFEST_FORMAT,
    name,
    phi,
    resolution: converted.resolution,
    numClasses: converted.numClasses,
    labels: labels ?? defaultLabels(converted.numClasses),
    parameters: converted.parameters,
    source: { kind: "import", location: resolve(file), format: converted.sourceFormat, bytes: bytes.length },
    sha256: createHash("sha256").update(bytes).digest("hex"),
    model: deployModelEntry(converted.model),
    createdAt: new Date().toISOString(),
    vdetVersion: vdetVersion(),
  };
  return cache.install(name, { model: converted.model, manifest }, options.force ?? false);
}
