// `pull`: download a published checkpoint, verify its sha256, convert it to the deploy ONNX graph and install it
// in the cache. A cached model is not downloaded again. Failures leave no model entry behind; a cut-off or
// stalled download keeps its `.downloads/<file>.partial` so the next pull resumes it.

import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import type { PhiValue } from "@vdet/protocol";
import type { Dispatcher } from "undici";
import { type CachedModel, ModelCache } from "./cache.ts";
import { type CatalogEntry, type CatalogOptions, catalogEntry, catalogOptionsFromEnv } from "./catalog.ts";
import { convertCheckpoint, defaultLabels } from "./convert.ts";
import { download } from "./download.ts";
import { ChecksumMismatchError } from "./errors.ts";
import { acquireLock } from "./lock.ts";
import { deployModelEntry, MANIFEST_FORMAT, type ModelManifest, vdetVersion } from "./manifest.ts";

export type PullEvent =
  | { type: "cached"; name: string; model: CachedModel }
  | { type: "download"; name: string; url: string; resumedFrom: number; total: number | null }
  | { type: "progress"; name: string; received: number; total: number | null }
  | { type: "verified"; name: string; sha256: string }
  | { type: "converting"; name: string }
  | { type: "stored"; name: string; model: CachedModel };

export interface PullOptions {
  cache?: ModelCache;
  /** Mirror / catalog overrides; default from VDET_MODELS_BASE_URL and VDET_MODELS_CATALOG. */
  catalog?: CatalogOptions;
  stallTimeoutMs?: number;
  dispatcher?: Dispatcher;
  /** Keep the downloaded checkpoint beside the model (as checkpoint.pth). */
  keepCheckpoint?: boolean;
  /** Install from this local copy of the published file (offline): checked against the catalog's sha256. */
  fromFile?: string;
  onEvent?(event: PullEvent): void;
  signal?: AbortSignal;
}

export interface PullResult {
  name: string;
  /** "cached": it was there already and nothing was downloaded. */
  status: "cached" | "pulled";
  model: CachedModel;
}

export async function pullModel(phi: PhiValue, options: PullOptions = {}): Promise<PullResult> {
  const cache = options.cache ?? new ModelCache();
  const entry = catalogEntry(phi, options.catalog ?? catalogOptionsFromEnv());
  const alreadyCached = (): PullResult | undefined => {
    const cached = cache.get(entry.name);
    if (!cached) return undefined;
    options.onEvent?.({ type: "cached", name: entry.name, model: cached });
    return { name: entry.name, status: "cached", model: cached };
  };
  const before = alreadyCached();
  if (before) return before;

  await mkdir(cache.downloadsDir, { recursive: true });
  const release = acquireLock(join(cache.downloadsDir, `${entry.name}.lock`), `a pull of ${entry.name}`);
  try {
    // Another process may have finished this pull between the check above and taking the lock.
    return alreadyCached() ?? (await pullLocked(entry, cache, options));
  } finally {
    await release();
  }
}

async function pullLocked(entry: CatalogEntry, cache: ModelCache, options: PullOptions): Promise<PullResult> {
  const emit = options.onEvent ?? (() => {});
  const { phi } = entry;
  await cache.removeLeftovers(entry.name);
  const fromFile = options.fromFile !== undefined;
  const sourcePath = options.fromFile ?? join(cache.downloadsDir, `${entry.file}.partial`);
  const downloaded = fromFile ? await hashFile(sourcePath) : await fetchTo(entry, sourcePath, options, emit);
  const sourceName = fromFile ? basename(sourcePath) : `downloaded ${entry.file}`;

  try {
    if (!downloaded.sha256.startsWith(entry.sha256)) {
      throw new ChecksumMismatchError(
        fromFile ? sourcePath : entry.file,
        entry.sha256,
        downloaded.sha256,
        !fromFile,
      );
    }
    emit({ type: "verified", name: entry.name, sha256: downloaded.sha256 });
    emit({ type: "converting", name: entry.name });
    const bytes = new Uint8Array(await readFile(sourcePath));
    const converted = convertCheckpoint(bytes, { phi, sourceName });
    const manifest: ModelManifest = {
      format: MANIFEST_FORMAT,
      name: entry.name,
      phi,
      resolution: converted.resolution,
      numClasses: converted.numClasses,
      labels: defaultLabels(converted.numClasses),
      parameters: converted.parameters,
      source: {
        kind: "published",
        location: fromFile ? resolve(sourcePath) : entry.url,
        format: converted.sourceFormat,
        bytes: downloaded.bytes,
      },
      sha256: downloaded.sha256,
      model: deployModelEntry(converted.model),
      createdAt: new Date().toISOString(),
      vdetVersion: vdetVersion(),
    };
    const model = await cache.install(
      entry.name,
      {
        model: converted.model,
        manifest,
        extra: options.keepCheckpoint && !fromFile ? { "checkpoint.pth": sourcePath } : undefined,
      },
      true, // an entry there now is damaged (a valid one returned above): replace it
    );
    emit({ type: "stored", name: entry.name, model });
    return { name: entry.name, status: "pulled", model };
  } finally {
    // Verified-and-converted, corrupted or mismatching: in every case this download is finished with.
    if (!fromFile) await rm(sourcePath, { force: true });
  }
}

async function fetchTo(
  entry: CatalogEntry,
  partialPath: string,
  options: PullOptions,
  emit: (event: PullEvent) => void,
): Promise<{ bytes: number; sha256: string }> {
  let announced = false;
  return download({
    url: entry.url,
    partialPath,
    stallTimeoutMs: options.stallTimeoutMs,
    dispatcher: options.dispatcher,
    signal: options.signal,
    onProgress: ({ received, total, resumedFrom }) => {
      if (!announced) {
        announced = true;
        emit({ type: "download", name: entry.name, url: entry.url, resumedFrom, total });
      }
      emit({ type: "progress", name: entry.name, received, total });
    },
  });
}

async function hashFile(path: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { bytes, sha256: hash.digest("hex") };
}
