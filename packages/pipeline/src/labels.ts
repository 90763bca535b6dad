// What a worker publishes for its weights configuration (the entries the other roles read through the model
// registry, @vdet/jobs): a cached model names its classes in its manifest (`vdet models import --classes`);
// checkpoints, ONNX files and seeded weights use the COCO map.

import { cocoModel, type DeploymentModels } from "@vdet/jobs";
import {
  type ModelCache,
  ModelInputError,
  ModelNotFoundError,
  resolveModelReference,
  seededWeightsDescription,
} from "@vdet/models";
import { type ModelLabels, PHI_VALUES, type PhiValue } from "@vdet/protocol";
import type { ModelSourceOptions } from "./models.ts";

/** What a worker with these weights runs for every φ: a cached model's own labels, else COCO's. */
export function deploymentModels(options: ModelSourceOptions, cache?: ModelCache): DeploymentModels {
  const models: DeploymentModels = {};
  for (const phi of PHI_VALUES) {
    const reference = options.weights?.[String(phi)];
    models[String(phi)] = reference
      ? referenceLabels(reference, phi, cache)
      : cocoModel(seededWeightsDescription(options.seed ?? 0));
  }
  return models;
}

/** Entries for simulated workers, which compute nothing: COCO ids, as the simulated runner emits. */
export function simulatedModels(): DeploymentModels {
  return Object.fromEntries(PHI_VALUES.map((phi) => [String(phi), cocoModel("simulated")]));
}

function referenceLabels(reference: string, phi: PhiValue, cache: ModelCache | undefined): ModelLabels {
  try {
    const resolved = resolveModelReference(reference, { phi, cache });
    if (resolved.kind === "file") return cocoModel(reference);
    return { weights: reference, source: resolved.cached.name, labels: resolved.cached.manifest.labels };
  } catch (error) {
    // The worker fails this φ's frames with the same error when it loads the model; its names do not matter.
    if (error instanceof ModelNotFoundError || error instanceof ModelInputError) return cocoModel(reference);
    throw error;
  }
}
