// A worker's latency profile: each φ it serves timed at each batch size after warm-up, on frames of the size the
// producer sends for that φ. Cached on disk under a key of everything that changes the timings (model hashes,
// hardware, execution provider, threads, batch sizes), so a restarted worker on the same machine starts at once.

import { ConfigError } from "@vdet/config";
import { getConfig } from "@vdet/effdet";
import { type PhiValue, parsePhi } from "@vdet/protocol";
import {
  currentLoad,
  describeHardware,
  LatencyProfile,
  loadProfile,
  type ProfileTable,
  profileCacheDir,
  profileKey,
  profileStaleReason,
  saveProfile,
} from "@vdet/scheduler";
import type { ModelProvider } from "./models.ts";

export interface ProfileOptions {
  models: ModelProvider;
  phis: readonly PhiValue[];
  /** Largest batch the worker runs; profiled at 1, 2, 4, … and this. */
  maxBatch: number;
  executionProvider: string;
  threads: number;
  /** onnxruntime's intra-op spinning as the models run (undefined: on): part of the cache key. */
  intraOpSpinning?: boolean;
  /** Untimed runs per (φ, batch size) first. */
  warmup?: number;
  samples?: number;
  /** Profile cache directory; null: neither read nor write a cache. */
  cacheDir?: string | null;
  /** Measure even when a cached profile exists (and replace it). */
  refresh?: boolean;
  /** A cached profile older than this is measured again (default: 7 days). */
  maxAgeMs?: number;
  onProgress?: (step: { phi: PhiValue; batch: number; ms: number }) => void;
}

export interface ProfileResult {
  profile: LatencyProfile;
  table: ProfileTable;
  /** Where the cached profile was read from; undefined when it was measured now. */
  cachedFrom?: string;
  /** Why a cached profile was measured again (too old), when it was. */
  staleReason?: string;
  /** The profile cache directory (null: none). */
  cacheDir: string | null;
  savedTo?: string;
}

export function profileBatchSizes(maxBatch: number): number[] {
  const sizes = new Set<number>();
  for (let b = 1; b < maxBatch; b *= 2) sizes.add(b);
  sizes.add(maxBatch);
  return [...sizes].sort((a, b) => a - b);
}

export async function profileModels(options: ProfileOptions): Promise<ProfileResult> {
  const batches = profileBatchSizes(options.maxBatch);
  const phis = [...new Set(options.phis.map((p) => parsePhi(p)))];
  if (phis.length === 0)
    throw new ConfigError("no φ to profile: give the worker at least one (VDET_PRELOAD)");
  const modelHashes: Record<string, string> = {};
  for (const phi of phis) modelHashes[String(phi)] = await options.models.modelHash(phi);
  const key = profileKey({
    modelHashes,
    hardware: describeHardware(options.executionProvider.split(":")[0]),
    executionProvider: options.executionProvider,
    threads: options.threads,
    ...(options.intraOpSpinning === false ? { intraOpSpinning: false } : {}),
    batchSizes: batches,
  });
  const dir = options.cacheDir === undefined ? profileCacheDir() : options.cacheDir;
  let staleReason: string | undefined;
  if (dir !== null && !options.refresh) {
    const cached = await loadProfile(dir, key);
    staleReason = cached
      ? profileStaleReason(cached, { maxAgeMs: options.maxAgeMs ?? 7 * 86_400_000 })
      : undefined;
    if (cached && staleReason === undefined)
      return { profile: LatencyProfile.fromTable(cached), table: cached, cachedFrom: dir, cacheDir: dir };
  }
  // The load the timings were taken under goes with them: a busy machine's profile says so.
  const load = currentLoad();
  const profile = new LatencyProfile();
  const warmup = options.warmup ?? 2;
  const samples = options.samples ?? 5;
  for (const phi of phis) {
    const detector = await options.models.detector(phi);
    const precision = options.models.precision?.(phi) ?? "fp32";
    if (precision !== "fp32") {
      const agreement = await options.models.agreement?.(phi);
      if (agreement !== undefined) profile.setAgreement({ phi, precision }, agreement);
    }
    const frame = noiseFrame(phi);
    for (const batch of batches) {
      const frames = Array.from({ length: batch }, () => frame);
      for (let i = 0; i < warmup; i++) await detector.detect(frames);
      for (let i = 0; i < samples; i++) {
        const started = performance.now();
        await detector.detect(frames);
        const ms = performance.now() - started;
        profile.observe(phi, batch, ms, precision);
        options.onProgress?.({ phi, batch, ms });
      }
    }
  }
  const table = profile.toTable(key, undefined, load);
  const savedTo = dir === null ? undefined : await saveProfile(dir, table);
  // From the table, as a cached profile is: every row measured together, none yet left behind by the others.
  return {
    profile: LatencyProfile.fromTable(table, { measuredNow: true }),
    table,
    savedTo,
    staleReason,
    cacheDir: dir,
  };
}

/** A frame of the φ's input size with seeded noise (timings of a constant frame could flatter NMS). */
export function noiseFrame(phi: PhiValue) {
  const side = getConfig(phi).imageSize;
  const data = new Uint8Array(side * side * 3);
  let x = 0x9e3779b9;
  for (let i = 0; i < data.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    data[i] = x & 0xff;
  }
  return { width: side, height: side, data };
}
