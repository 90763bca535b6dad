// Checks on plain tensors and zero-copy hand-over between threads: a tensor whose array spans its whole
// ArrayBuffer is transferred (detached on the sending side); a view into a larger buffer is copied first, so
// transferring never detaches memory the sender did not pass in.

import { InvalidTensorError } from "./errors.ts";
import { TENSOR_TYPES, type TensorLike, type TypedArray } from "./runner.ts";

const ARRAY_CLASS = {
  float32: Float32Array,
  uint8: Uint8Array,
  int32: Int32Array,
  int64: BigInt64Array,
} as const;

export function checkTensor(name: string, tensor: TensorLike): void {
  if (typeof tensor !== "object" || tensor === null) {
    throw new InvalidTensorError(`tensor "${name}" is not a { type, dims, data } object`);
  }
  const arrayClass = ARRAY_CLASS[tensor.type];
  if (!arrayClass) {
    throw new InvalidTensorError(
      `tensor "${name}" has type ${String(tensor.type)}; use one of ${TENSOR_TYPES.join(", ")}`,
    );
  }
  if (!(tensor.data instanceof arrayClass)) {
    throw new InvalidTensorError(
      `tensor "${name}" is ${tensor.type} but its data is a ${tensor.data?.constructor?.name ?? typeof tensor.data}; ` +
        `pass a ${arrayClass.name}`,
    );
  }
  if (!Array.isArray(tensor.dims) || !tensor.dims.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new InvalidTensorError(
      `tensor "${name}" has dims ${String(tensor.dims)}; use non-negative integers`,
    );
  }
  const size = tensor.dims.reduce((a, b) => a * b, 1);
  if (size !== tensor.data.length) {
    const detached = tensor.data.buffer.byteLength === 0 && size > 0;
    throw new InvalidTensorError(
      detached
        ? `tensor "${name}" has a detached buffer: a runner took it over in an earlier run; pass a new array`
        : `tensor "${name}" has dims [${tensor.dims}] (${size} elements) but ${tensor.data.length} values`,
    );
  }
}

/**
 * Prepares tensors for `postMessage`: returns them (views into shared or partial buffers replaced by copies)
 * and the buffers to transfer.
 */
export function forTransfer(tensors: Record<string, TensorLike>): {
  tensors: Record<string, TensorLike>;
  transfer: ArrayBuffer[];
} {
  const out: Record<string, TensorLike> = {};
  const transfer = new Set<ArrayBuffer>();
  for (const [name, tensor] of Object.entries(tensors)) {
    const { buffer } = tensor.data;
    if (!(buffer instanceof ArrayBuffer)) {
      out[name] = tensor; // SharedArrayBuffer: both threads see it already
      continue;
    }
    const owned = ownsWholeBuffer(tensor.data) && !transfer.has(buffer) ? tensor : copyTensor(tensor);
    transfer.add(owned.data.buffer as ArrayBuffer);
    out[name] = owned;
  }
  return { tensors: out, transfer: [...transfer] };
}

function ownsWholeBuffer(data: TypedArray): boolean {
  return data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
}

function copyTensor(tensor: TensorLike): TensorLike {
  const dims = [...tensor.dims];
  switch (tensor.type) {
    case "float32":
      return { type: "float32", dims, data: new Float32Array(tensor.data) };
    case "uint8":
      return { type: "uint8", dims, data: new Uint8Array(tensor.data) };
    case "int32":
      return { type: "int32", dims, data: new Int32Array(tensor.data) };
    case "int64":
      return { type: "int64", dims, data: new BigInt64Array(tensor.data) };
  }
}
