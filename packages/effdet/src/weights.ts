// Where the model's weights come from: a state dict in the reference implementation's naming, or deterministic
// seeded initialisation. Both hand out lazy tensors, checked by name and shape when the graph asks for them.

import { codedError } from "@vdet/errors";
import { type StateDict, toFloat32 } from "@vdet/tensorio";
import { EFFDET_ERRORS } from "./errors.ts";
import { type LazyTensor, numel } from "./onnx-graph.ts";
import { fillUniform, fnv1a32 } from "./prng.ts";

export interface WeightSource {
  /** The tensor stored under `key`, which must have `shape`. */
  tensor(key: string, shape: readonly number[]): LazyTensor;
  /** Called once the graph is complete: fails when the source holds tensors the graph did not use. */
  finish(): void;
  readonly description: string;
}

export class WeightsMismatchError extends codedError(EFFDET_ERRORS.WEIGHTS_MISMATCH) {}

const IGNORED_SUFFIX = ".num_batches_tracked";

export class StateDictWeights implements WeightSource {
  private readonly used = new Set<string>();
  readonly description: string;

  constructor(
    private readonly stateDict: StateDict,
    private readonly hint = "the weights file",
  ) {
    this.description = `state dict (${stateDict.size} tensors)`;
  }

  tensor(key: string, shape: readonly number[]): LazyTensor {
    const found = this.stateDict.get(key);
    if (!found) {
      throw new WeightsMismatchError(
        `${this.hint} has no tensor "${key}" (expected shape [${shape.join(", ")}]); ` +
          "is it a checkpoint for this φ and class count, in the reference (effdet) naming?",
      );
    }
    const same = found.shape.length === shape.length && found.shape.every((d, i) => d === shape[i]);
    if (!same) {
      throw new WeightsMismatchError(
        `tensor "${key}" in ${this.hint} has shape [${found.shape.join(", ")}], the model needs [${shape.join(", ")}]` +
          " (a checkpoint for another φ or class count?)",
      );
    }
    this.used.add(key);
    return { shape, materialize: () => toFloat32(found) };
  }

  finish(): void {
    const unused = [...this.stateDict.keys()].filter((k) => !this.used.has(k) && !k.endsWith(IGNORED_SUFFIX));
    if (unused.length > 0) {
      const shown = unused.slice(0, 5).join(", ");
      throw new WeightsMismatchError(
        `${this.hint} has ${unused.length} tensor(s) the model does not use: ${shown}${unused.length > 5 ? ", …" : ""}` +
          " (a checkpoint for another φ or architecture?)",
      );
    }
  }
}

/**
 * Deterministic weights for tests and benchmarks: convs uniform in ±sqrt(3 / fan_in) keyed by tensor name and seed,
 * identity-like batch norms, the class head's prior bias -ln(99), equal fusion weights.
 */
export class SeededWeights implements WeightSource {
  readonly description: string;

  constructor(private readonly seed: number) {
    if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
    this.description = `seeded (seed ${seed})`;
  }

  tensor(key: string, shape: readonly number[]): LazyTensor {
    const count = numel(shape);
    const seed = (fnv1a32(key) ^ this.seed) >>> 0;
    const materialize = (): Float32Array => {
      const out = new Float32Array(count);
      if (key.endsWith(".running_var") || key.endsWith("edge_weights")) return out.fill(1);
      if (key.endsWith(".running_mean")) return out;
      if (/\.bn\d?\.weight$/.test(key)) return out.fill(1);
      if (/\.bn\d?\.bias$/.test(key)) return fillUniform(out, seed, 0.05);
      if (shape.length === 4) return fillUniform(out, seed, Math.sqrt(3 / (shape[1] * shape[2] * shape[3])));
      if (key === "class_net.predict.conv_pw.bias") return out.fill(-Math.log(99));
      return fillUniform(out, seed, 0.05); // other biases
    };
    return { shape, materialize };
  }

  finish(): void {}
}

export interface BatchNorm {
  weight: LazyTensor;
  bias: LazyTensor;
  mean: LazyTensor;
  variance: LazyTensor;
}

export type TensorLookup = (key: string, shape: readonly number[]) => LazyTensor;

export function batchNorm(tensor: TensorLookup, prefix: string, channels: number): BatchNorm {
  return {
    weight: tensor(`${prefix}.weight`, [channels]),
    bias: tensor(`${prefix}.bias`, [channels]),
    mean: tensor(`${prefix}.running_mean`, [channels]),
    variance: tensor(`${prefix}.running_var`, [channels]),
  };
}

/**
 * Folds inference batch norm into the preceding conv: W' = W·s per output channel, b' = (b − mean)·s + beta,
 * s = gamma / sqrt(var + eps). Returns lazy tensors; nothing is computed until serialisation.
 */
export function foldBatchNorm(
  weight: LazyTensor,
  bias: LazyTensor | null,
  bn: BatchNorm,
  eps: number,
): { weight: LazyTensor; bias: LazyTensor } {
  const outChannels = weight.shape[0];
  const perChannel = numel(weight.shape) / outChannels;
  const scale = (): Float64Array => {
    const gamma = bn.weight.materialize();
    const variance = bn.variance.materialize();
    const s = new Float64Array(outChannels);
    for (let c = 0; c < outChannels; c++) s[c] = gamma[c] / Math.sqrt(variance[c] + eps);
    return s;
  };
  return {
    weight: {
      shape: weight.shape,
      materialize: () => {
        const w = weight.materialize();
        const s = scale();
        const out = new Float32Array(w.length);
        for (let c = 0; c < outChannels; c++) {
          const base = c * perChannel;
          for (let i = 0; i < perChannel; i++) out[base + i] = w[base + i] * s[c];
        }
        return out;
      },
    },
    bias: {
      shape: [outChannels],
      materialize: () => {
        const s = scale();
        const b = bias?.materialize();
        const mean = bn.mean.materialize();
        const beta = bn.bias.materialize();
        const out = new Float32Array(outChannels);
        for (let c = 0; c < outChannels; c++) out[c] = ((b ? b[c] : 0) - mean[c]) * s[c] + beta[c];
        return out;
      },
    },
  };
}
