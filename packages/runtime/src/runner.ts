// The model runner interface every inference backend implements: named tensors in, named tensors out.
// Tensors are plain objects (no class instances) so they cross worker and process boundaries unchanged.

export type TensorType = "float32" | "uint8" | "int32" | "int64";

export type TypedArray = Float32Array | Uint8Array | Int32Array | BigInt64Array;

/** A dense tensor: `data` holds the elements of `dims` in row-major order. */
export type TensorLike =
  | { type: "float32"; dims: number[]; data: Float32Array }
  | { type: "uint8"; dims: number[]; data: Uint8Array }
  | { type: "int32"; dims: number[]; data: Int32Array }
  | { type: "int64"; dims: number[]; data: BigInt64Array };

export interface ModelRunner {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /**
   * Runs the model once. Requests run one at a time in call order. The runner may take ownership of the
   * feeds' buffers (they can be detached when this returns); do not reuse them.
   */
  run(feeds: Record<string, TensorLike>): Promise<Record<string, TensorLike>>;
  /** Lets queued runs finish, then releases the model. Later `run` calls reject. */
  close(): Promise<void>;
}

export const TENSOR_TYPES: readonly TensorType[] = ["float32", "uint8", "int32", "int64"];
