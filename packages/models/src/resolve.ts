// Where `--weights X`, `--model X` and VDET_WEIGHTS entries point: a file, or the name of a cached model
// (`d0` after `vdet models pull d0`, or an imported model's name).

import { existsSync } from "node:fs";
import { type PhiValue, phiLabel } from "@vdet/protocol";
import { type CachedModel, ModelCache } from "./cache.ts";
import { parsePublishedName } from "./catalog.ts";
import { ModelInputError, ModelNotFoundError } from "./errors.ts";

export type ModelReference =
  | { kind: "file"; path: string; cached?: undefined }
  | { kind: "cached"; path: string; cached: CachedModel };

/** Resolves a file path or cached model name; `phi`, when given, must match a cached model's φ. */
export function resolveModelReference(
  reference: string,
  options: { phi?: PhiValue; cache?: ModelCache } = {},
): ModelReference {
  if (existsSync(reference)) return { kind: "file", path: reference };
  const cache = options.cache ?? new ModelCache();
  const looksLikeName = /^[a-z0-9][a-z0-9._-]{0,63}$/i.test(reference);
  const found = looksLikeName ? cache.check(reference) : undefined;
  if (!found?.ok) {
    const publishedPhi = parsePublishedName(reference);
    const hint =
      found && !found.ok && found.reason
        ? `the cached model "${reference}" is damaged (${found.reason}): pull or import it again`
        : publishedPhi !== undefined
          ? `pull it with \`vdet models pull ${reference.toLowerCase()}\``
          : "see `vdet models list` for the cached models";
    throw new ModelNotFoundError(
      `"${reference}" is neither a file nor a cached model (cache: ${cache.dir}); ${hint}`,
    );
  }
  const cached = found.model;
  if (options.phi !== undefined && cached.manifest.phi !== options.phi) {
    throw new ModelInputError(
      `cached model "${reference}" is EfficientDet-${phiLabel(cached.manifest.phi)}, but it was given for ` +
        `${phiLabel(options.phi)}: use --phi ${cached.manifest.phi} (or another model)`,
    );
  }
  return { kind: "cached", path: cached.modelPath, cached };
}
