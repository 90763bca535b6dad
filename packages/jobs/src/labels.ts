// Class names per φ as the deployment's workers publish them (model-registry.ts): the api and producer turn a
// job's `classes` into ids with them, the aggregator names each detection by the model of the φ that found it.
// What a worker publishes for its weights is decided where the weights are (@vdet/pipeline's deploymentModels).

import { codedError } from "@vdet/errors";
import {
  COCO_CLASS_COUNT,
  cocoLabel,
  type ModelLabels,
  PHI_VALUES,
  type PhiRange,
  type PhiValue,
  phiLabel,
  phiRank,
} from "@vdet/protocol";
import { JOBS_ERRORS } from "./error-codes.ts";

export const COCO_SOURCE = "COCO";
const COCO_LABELS: readonly string[] = Array.from({ length: COCO_CLASS_COUNT }, (_, k) => cocoLabel(k + 1));

/** φ (as a string: "0" … "7x") → the model it runs. */
export type DeploymentModels = Record<string, ModelLabels>;

/** The entry of a model with COCO's class ids (checkpoints, ONNX files, seeded and simulated weights). */
export function cocoModel(weights: string): ModelLabels {
  return { weights, source: COCO_SOURCE, labels: [...COCO_LABELS] };
}

/** The entry of φ; COCO where no worker has published one (workers without weights run COCO ids). */
export function modelFor(models: DeploymentModels, phi: PhiValue): ModelLabels {
  return models[String(phi)] ?? cocoModel("unknown");
}

/** The name of a class id found by φ's model. */
export function labelOf(models: DeploymentModels, phi: PhiValue, classId: number): string {
  return modelFor(models, phi).labels[classId - 1] ?? `class-${classId}`;
}

/** A `classes` entry that names no class of the job's model, or a filter the job's models disagree on. */
export class ClassNameError extends codedError(JOBS_ERRORS.CLASS_NAME) {}

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
