// The weights a run uses when none are named: the published COCO model for the job's φ from the cache, pulled
// (sha256-verified, as `vdet models pull` does) on first use unless offline. When no trained weights can be had,
// the run goes on with seeded random weights and every place that shows results says so (SEEDED_WEIGHTS_LABEL).

import type { PhiValue } from "@vdet/protocol";
import { type CachedModel, ModelCache } from "./cache.ts";
import { type CatalogOptions, catalogOptionsFromEnv, publishedName } from "./catalog.ts";
import { type PullEvent, pullModel } from "./pull.ts";

/** How results made without trained weights are labelled, everywhere (CLI, manifest, worker log, job page). */
export const SEEDED_WEIGHTS_LABEL = "untrained (seeded)";

/** The manifest's and the workers' description of seeded weights. */
export function seededWeightsDescription(seed: number): string {
  return `${SEEDED_WEIGHTS_LABEL.replace(/\)$/, "")}, seed ${seed})`;
}

export type DefaultWeights =
  | { kind: "trained"; name: string; model: CachedModel; pulled: boolean }
  | { kind: "seeded"; name: string; reason: string; hint: string };

export interface DefaultWeightsOptions {
  /** Never download (--offline, VDET_OFFLINE=1): only an already-cached model is used. */
  offline?: boolean;
  cache?: ModelCache;
  catalog?: CatalogOptions;
  stallTimeoutMs?: number;
  onEvent?(event: PullEvent): void;
  signal?: AbortSignal;
}

/** VDET_OFFLINE=1 (or true/yes). */
export function offlineFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return /^(1|true|yes)$/i.test(env.VDET_OFFLINE ?? "");
}

/** The one command that gives real detections for φ. */
export function trainedWeightsHint(phi: PhiValue): string {
  const name = publishedName(phi);
  return `run \`vdet models pull ${name}\` on a machine with network access (or \`vdet models pull ${name} --from FILE.pth\`)`;
}

/** The cached COCO model for φ, pulled when missing and allowed; seeded weights (with the reason) otherwise. */
export async function defaultWeights(
  phi: PhiValue,
  options: DefaultWeightsOptions = {},
): Promise<DefaultWeights> {
  const cache = options.cache ?? new ModelCache();
  const name = publishedName(phi);
  const cached = cache.get(name);
  if (cached) return { kind: "trained", name, model: cached, pulled: false };
  const hint = trainedWeightsHint(phi);
  if (options.offline ?? offlineFromEnv())
    return {
      kind: "seeded",
      name,
      reason: `offline (--offline or VDET_OFFLINE=1) and no cached ${name} model`,
      hint,
    };
  try {
    const result = await pullModel(phi, {
      cache,
      catalog: options.catalog ?? catalogOptionsFromEnv(),
      stallTimeoutMs: options.stallTimeoutMs,
      onEvent: options.onEvent,
      signal: options.signal,
    });
    return { kind: "trained", name, model: result.model, pulled: result.status === "pulled" };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { kind: "seeded", name, reason: `could not pull ${name}: ${message}`, hint };
  }
}
