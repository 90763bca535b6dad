// Class names per φ. A cached model names its classes in its manifest (`vdet models import --classes`);
// checkpoints, ONNX files and seeded weights use the COCO map. These entries are what workers publish
// (model-registry.ts): the api and producer turn a job's `classes` into ids with them, the aggregator names each
// detection by the model of the φ that found it.

import { COCO_NUM_CLASSES, cocoLabel } from "@vdet/effdet";
import { type ModelCache, ModelInputError, ModelNotFoundError, resolveModelReference } from "@vdet/models";
import {
  type ModelLabels,
  PHI_VALUES,
  type PhiRange,
  type PhiValue,
  phiLabel,
  phiRank,
} from "@vdet/protocol";
import type { ModelSourceOptions } from "./models.ts";

export const COCO_SOURCE = "COCO";
const COCO_LABELS: readonly string[] = Array.from({ length: COCO_NUM_CLASSES }, (_, k) => cocoLabel(k + 1));

/** φ (as a string: "0" … "7x") → the model it runs. */
export type DeploymentModels = Record<string, ModelLabels>;

function coco(weights: string): ModelLabels {
  return { weights, source: COCO_SOURCE, labels: [...COCO_LABELS] };
}

/** What a worker with these weights runs for every φ: a cached model's own labels, else COCO's. */
export function deploymentModels(options: ModelSourceOptions, cache?: ModelCache): DeploymentModels {
  const models: DeploymentModels = {};
  for (const phi of PHI_VALUES) {
    const reference = options.weights?.[String(phi)];
    models[String(phi)] = reference
      ? referenceLabels(reference, phi, cache)
      : coco(`seeded (seed ${options.seed ?? 0})`);
  }
  return models;
}

/** Entries for simulated workers, which compute nothing: COCO ids, as the simulated runner emits. */
export function simulatedModels(): DeploymentModels {
  return Object.fromEntries(PHI_VALUES.map((phi) => [String(phi), coco("simulated")]));
}

function referenceLabels(reference: string, phi: PhiValue, cache: ModelCache | undefined): ModelLabels {
  try {
    const resolved = resolveModelReference(reference, { phi, cache });
    if (resolved.kind === "file") return coco(reference);
    return { weights: reference, source: resolved.cached.name, labels: resolved.cached.manifest.labels };
  } catch (error) {
    // The worker fails this φ's frames with the same error when it loads the model; its names do not matter.
    if (error instanceof ModelNotFoundError || error instanceof ModelInputError) return coco(reference);
    throw error;
  }
}

/** The entry of φ; COCO where no worker has published one (workers without weights run COCO ids). */
export function modelFor(models: DeploymentModels, phi: PhiValue): ModelLabels {
  return models[String(phi)] ?? coco("unknown");
}

/** The name of a class id found by φ's model. */
export function labelOf(models: DeploymentModels, phi: PhiValue, classId: number): string {
  return modelFor(models, phi).labels[classId - 1] ?? `class-${classId}`;
}

/** A `classes` entry that names no class of the job's model, or a filter the job's models disagree on. */
export class ClassNameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ClassNameError";
  }
}

/**
 * A job's `classes` (names, case-insensitive, or numeric ids) as class ids, by the labels of the models its φ
 * range runs. Names need every φ of the range to share one label map (a filter is one id set for all φ).
 */
export function jobClassIds(names: readonly string[], models: DeploymentModels, range: PhiRange): number[] {
  const phis = PHI_VALUES.slice(phiRank(range.min), phiRank(range.max) + 1);
  const entries = phis.map((phi) => modelFor(models, phi));
  const first = entries[0];
  const named = names.some((name) => !/^\d+$/.test(name.trim()));
  const other = entries.findIndex((e) => !sameLabels(e.labels, first.labels));
  if (named && other >= 0) {
    throw new ClassNameError(
      `${phiLabel(phis[0])} runs ${describe(first)} and ${phiLabel(phis[other])} runs ` +
        `${describe(entries[other])}, which name their classes differently: filter by class name only over a ` +
        "φ range whose models share labels (or give class ids)",
    );
  }
  const index = new Map<string, number>();
  first.labels.forEach((label, k) => {
    const key = label.toLowerCase();
    if (!index.has(key)) index.set(key, k + 1);
  });
  return names.map((raw) => {
    const name = raw.trim();
    if (/^\d+$/.test(name)) return Number(name);
    const id = index.get(name.toLowerCase());
    if (id === undefined) throw new ClassNameError(unknownClass(raw, first));
    return id;
  });
}

function sameLabels(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((label, k) => label === b[k]);
}

function describe(model: ModelLabels): string {
  return model.source === COCO_SOURCE ? "a COCO model" : `the model ${model.source}`;
}

function unknownClass(raw: string, model: ModelLabels): string {
  if (model.source === COCO_SOURCE) {
    const names = model.labels.filter((l) => !/^unused-\d+$/.test(l));
    return `unknown COCO class "${raw}"; the COCO classes are ${names.join(", ")}`;
  }
  return `unknown class "${raw}": the model ${model.source} names its classes ${model.labels.join(", ")}`;
}
