// Where workers publish what each φ runs (weights and class names) for the other roles: a Redis hash per
// deployment (keys.ts: `models`, φ → entry), in memory for local mode. Workers of one deployment run the same
// weights configuration, so the last worker to start speaks for all; a restarted deployment overwrites it.

import { VdetError } from "@vdet/errors";
import { modelLabelsSchema } from "@vdet/protocol";
import { JOBS_ERRORS } from "./error-codes.ts";
import { DeploymentKeys, type RedisClient } from "./keys.ts";
import type { DeploymentModels } from "./labels.ts";

export interface ModelRegistry {
  /** Records the entries of these φ, replacing earlier ones. */
  publish(models: DeploymentModels): Promise<void>;
  /** Every φ published so far (φ → entry). */
  read(): Promise<DeploymentModels>;
}

export class MemoryModelRegistry implements ModelRegistry {
  private models: DeploymentModels = {};

  async publish(models: DeploymentModels): Promise<void> {
    this.models = { ...this.models, ...structuredClone(models) };
  }

  async read(): Promise<DeploymentModels> {
    return structuredClone(this.models);
  }
}

export class RedisModelRegistry implements ModelRegistry {
  private readonly key: string;

  constructor(
    private readonly redis: RedisClient,
    keys: DeploymentKeys | string,
  ) {
    this.key = (typeof keys === "string" ? new DeploymentKeys(keys) : keys).models;
  }

  async publish(models: DeploymentModels): Promise<void> {
    const fields = Object.entries(models).flatMap(([phi, entry]) => [phi, JSON.stringify(entry)]);
    if (fields.length > 0) await this.redis.hset(this.key, ...fields);
  }

  async read(): Promise<DeploymentModels> {
    const raw = await this.redis.hgetall(this.key);
    const models: DeploymentModels = {};
    for (const [phi, text] of Object.entries(raw)) {
      const parsed = modelLabelsSchema.safeParse(safeJson(text));
      if (!parsed.success) {
        throw new VdetError(
          JOBS_ERRORS.MODEL_ENTRY_INVALID,
          `the model entry of φ ${phi} in Redis (${this.key}) is not valid (${parsed.error.issues[0]?.message}): ` +
            "restart a worker to publish it again",
        );
      }
      models[phi] = parsed.data;
    }
    return models;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // reported by the schema check as an invalid entry
  }
}
