// Where a worker gets its detector for a φ: built once per φ (deploy variant) from a checkpoint or seeded
// weights, loaded into a model runner on a worker thread, kept for the life of the worker. A φ configured as int8
// (VDET_WEIGHTS `0=d0@int8`, or VDET_PRECISION=int8) runs the cached int8 build of that fp32 model
// (`vdet model build --precision int8` stores it, keyed by the fp32 model's content hash).

import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { ConfigError } from "@vdet/config";
import { build, Detector, modelContentSha256 } from "@vdet/effdet";
import { VdetError } from "@vdet/errors";
import { findInt8Build, resolveModelReference } from "@vdet/models";
import { type PhiValue, type Precision, parsePhi } from "@vdet/protocol";
import { createSimulatedRunner } from "@vdet/runtime";
import { LatencyProfile, type ProfileTable } from "@vdet/scheduler";
import { PIPELINE_ERRORS } from "./error-codes.ts";

export interface ModelSourceOptions {
  /**
   * Checkpoint (or deploy ONNX) file, or cached model name (`d0` after `vdet models pull d0`), per φ, e.g.
   * { "0": "/models/d0.pth", "3": "d3" }; φ without one use seeded weights.
   */
  weights?: Record<string, string>;
  /** Precision per φ (absent: `precision`). */
  precisions?: Record<string, Precision>;
  /** The precision of φ not in `precisions` (default fp32). */
  precision?: Precision;
  seed?: number;
  executionProvider?: string;
  intraOpThreads?: number;
  /** onnxruntime's intra-op spinning (undefined: its default, on). */
  intraOpSpinning?: boolean;
}

export interface ModelProvider {
  detector(phi: PhiValue): Promise<Detector>;
  /** Whether φ runs real (checkpoint) weights. */
  hasWeights(phi: PhiValue): boolean;
  /** The precision φ runs at (absent: fp32). */
  precision?(phi: PhiValue): Precision;
  /** int8: the agreement with fp32 recorded at build time (0…1), loading the model if needed; fp32: 1. */
  agreement?(phi: PhiValue): Promise<number | undefined>;
  /** A hash of what φ runs (the model bytes), loading it if needed: part of the latency profile's cache key. */
  modelHash(phi: PhiValue): Promise<string>;
  close(): Promise<void>;
}

/** A model file that cannot be read, parsed or loaded; names the φ, the file and the reason. */
export class ModelLoadError extends VdetError {
  constructor(
    readonly phi: PhiValue,
    readonly path: string | undefined,
    reason: string,
    options?: { cause?: unknown },
  ) {
    const what = path === undefined ? `seeded D${phi}` : `D${phi} from ${path}`;
    const hint =
      path === undefined
        ? ""
        : path.endsWith(".onnx")
          ? "; rebuild it with `vdet model build --variant deploy` or fix VDET_WEIGHTS"
          : "; check that it is a complete .pth or .safetensors checkpoint in the reference naming, or fix VDET_WEIGHTS";
    super(PIPELINE_ERRORS.MODEL_LOAD_FAILED, `cannot load the model ${what}: ${reason}${hint}`, options);
  }
}

export function createModelProvider(options: ModelSourceOptions = {}): ModelProvider {
  const detectors = new Map<string, Promise<Detector>>();
  const hashes = new Map<string, string>();
  const agreements = new Map<string, number | undefined>();
  const weightsFor = (phi: PhiValue) => options.weights?.[String(phi)];
  const precisionOf = (phi: PhiValue): Precision =>
    options.precisions?.[String(phi)] ?? options.precision ?? "fp32";
  const load = async (phi: PhiValue): Promise<Detector> => {
    const reference = weightsFor(phi);
    const fail = (error: unknown) =>
      new ModelLoadError(phi, reference, error instanceof Error ? error.message : String(error), {
        cause: error,
      });
    let model: Uint8Array;
    let isOnnx = false;
    try {
      const resolved = reference ? resolveModelReference(reference, { phi }) : undefined;
      const path = resolved?.path;
      const file = path ? new Uint8Array(await readFile(path)) : undefined;
      if (file !== undefined && file.byteLength === 0) throw fail(new Error("the file is empty"));
      isOnnx = file !== undefined && (resolved?.kind === "cached" || path!.endsWith(".onnx"));
      model = isOnnx ? file! : build({ phi, weights: file, seed: file ? undefined : (options.seed ?? 0) });
    } catch (error) {
      throw fail(error);
    }
    if (precisionOf(phi) === "int8") {
      const sourceSha = modelContentSha256(model);
      const int8 = findInt8Build(sourceSha);
      if (!int8)
        throw fail(
          new Error(
            `no cached int8 build of this model (sha256 ${sourceSha.slice(0, 12)}): build one with \`vdet model build ` +
              `--phi ${phi}${reference ? ` --weights ${reference}` : ` --seed ${options.seed ?? 0}`} --precision int8 ` +
              "--calibrate FOOTAGE` (it is cached for workers), or run φ at fp32",
          ),
        );
      model = new Uint8Array(await readFile(int8.modelPath));
      agreements.set(String(phi), int8.manifest.quantization?.agreement);
      isOnnx = true;
    }
    hashes.set(String(phi), createHash("sha256").update(model).digest("hex").slice(0, 16));
    const runnerOptions = {
      executionProvider: options.executionProvider ?? "cpu",
      intraOpThreads: options.intraOpThreads,
      intraOpSpinning: options.intraOpSpinning,
    };
    // A model we built loads unless the execution provider fails (its own error says what to install); a
    // given ONNX file may also be corrupt.
    if (!isOnnx) return Detector.create(model, runnerOptions);
    try {
      return await Detector.create(model, runnerOptions);
    } catch (error) {
      throw fail(error);
    }
  };
  const detector = (phiValue: PhiValue): Promise<Detector> => {
    const phi = parsePhi(phiValue);
    const key = String(phi);
    let loading = detectors.get(key);
    if (!loading) {
      loading = load(phi);
      detectors.set(key, loading);
      // A failed load is not cached (the caller sees the error); the next request tries again.
      loading.catch(() => detectors.delete(key));
    }
    return loading;
  };
  return {
    detector,
    hasWeights: (phi) => weightsFor(phi) !== undefined,
    precision: (phi) => precisionOf(parsePhi(phi)),
    async agreement(phi) {
      if (precisionOf(parsePhi(phi)) === "fp32") return 1;
      await detector(phi);
      return agreements.get(String(parsePhi(phi)));
    },
    async modelHash(phi) {
      await detector(phi);
      return hashes.get(String(parsePhi(phi)))!;
    },
    async close() {
      const all = await Promise.allSettled(detectors.values());
      await Promise.all(all.flatMap((r) => (r.status === "fulfilled" ? [r.value.close()] : [])));
      detectors.clear();
    },
  };
}

/**
 * Detectors that compute nothing and take the time a latency profile gives (its median per φ and batch size):
 * a stand-in accelerator for policy tests and scale benchmarks (VDET_SIMULATE_PROFILE for the worker role).
 * φ missing from the profile fail to load, as a model that cannot run would.
 */
export function createSimulatedModelProvider(
  table: ProfileTable,
  options: {
    /** The runners' clock (default performance.now): a test's virtual clock. */ now?: () => number;
  } = {},
): ModelProvider {
  const profile = LatencyProfile.fromTable(table, { percentile: 0.5, window: Number.MAX_SAFE_INTEGER });
  const detectors = new Map<string, Detector>();
  return {
    async detector(phiValue) {
      const phi = parsePhi(phiValue);
      let detector = detectors.get(String(phi));
      if (!detector) {
        if (profile.predict(phi, 1) === undefined) {
          throw new ConfigError(`the simulated profile ${table.key} has no D${phi} rows: cannot run D${phi}`);
        }
        detector = Detector.fromRunner(
          createSimulatedRunner({ latencyMs: (b) => profile.predict(phi, b)!, now: options.now }),
        );
        detectors.set(String(phi), detector);
      }
      return detector;
    },
    hasWeights: () => false,
    precision: (phi) => profile.precisionOf(parsePhi(phi)),
    agreement: async (phi) => profile.agreement({ phi, precision: profile.precisionOf(parsePhi(phi)) }),
    // The simulated "model" is the profile's timings for φ.
    modelHash: async (phi) =>
      createHash("sha256")
        .update(JSON.stringify(table.rows.filter((r) => String(r.phi) === String(parsePhi(phi)))))
        .digest("hex")
        .slice(0, 16),
    async close() {
      await Promise.all([...detectors.values()].map((d) => d.close()));
      detectors.clear();
    },
  };
}
