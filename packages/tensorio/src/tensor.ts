// The in-memory tensor every reader produces: a dtype tag, a C-order shape and a typed array of the raw values.
// Readers hand out views on the file's bytes where alignment allows, so a tensor may share memory with its file.

import { codedError, defineErrorCodes } from "@vdet/errors";

export type DType = "F32" | "F16" | "BF16" | "F64" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

/** The typed array that holds each dtype's raw values (F16 and BF16 as their 16-bit patterns, BOOL as 0/1). */
export interface DTypeArrays {
  F32: Float32Array;
  F16: Uint16Array;
  BF16: Uint16Array;
  F64: Float64Array;
  I64: BigInt64Array;
  I32: Int32Array;
  I16: Int16Array;
  I8: Int8Array;
  U8: Uint8Array;
  BOOL: Uint8Array;
}

export type TensorOf<D extends DType> = {
  readonly dtype: D;
  /** C-order (row-major) dimensions; `[]` is a scalar. */
  readonly shape: number[];
  /** `numel(shape)` values in C order, little-endian as in the file. May be a view on the file's bytes. */
  readonly data: DTypeArrays[D];
};

/** A tensor of any dtype; narrowing on `dtype` narrows `data`. */
export type Tensor = { [D in DType]: TensorOf<D> }[DType];

/** Tensors by name, in the order the file lists them. */
export type StateDict = Map<string, Tensor>;

export const TENSORIO_ERRORS = defineErrorCodes("tensorio", {
  TENSOR_FILE_INVALID: {
    retryable: false,
    description:
      "a tensor file (safetensors, PyTorch checkpoint) is malformed, truncated, unsupported or refused",
  },
});

/** Thrown for every malformed, truncated, unsupported or refused input. The message names the problem. */
export class TensorFileError extends codedError(TENSORIO_ERRORS.TENSOR_FILE_INVALID) {
  override readonly name = "TensorFileError";
}

export const DTYPES: readonly DType[] = [
  "F32",
  "F16",
  "BF16",
  "F64",
  "I64",
  "I32",
  "I16",
  "I8",
  "U8",
  "BOOL",
];

const ELEMENT_BYTES: Record<DType, number> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  F64: 8,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

type ArrayConstructor<D extends DType> = {
  new (length: number): DTypeArrays[D];
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): DTypeArrays[D];
  readonly BYTES_PER_ELEMENT: number;
};

const CONSTRUCTORS: { [D in DType]: ArrayConstructor<D> } = {
  F32: Float32Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  F64: Float64Array,
  I64: BigInt64Array,
  I32: Int32Array,
  I16: Int16Array,
  I8: Int8Array,
  U8: Uint8Array,
  BOOL: Uint8Array,
};

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  // Every supported file stores little-endian values and the readers view them in place.
  throw new TensorFileError("@vdet/tensorio needs a little-endian host");
}

export function isDType(value: unknown): value is DType {
  return typeof value === "string" && (DTYPES as readonly string[]).includes(value);
}

export function elementBytes(dtype: DType): number {
  return ELEMENT_BYTES[dtype];
}

/** Number of elements of a shape; 1 for a scalar. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function isValidShape(shape: unknown): shape is number[] {
  return Array.isArray(shape) && shape.every((d) => Number.isSafeInteger(d) && d >= 0);
}

/** A zero-filled array of `length` elements for `dtype`. */
export function allocate<D extends DType>(dtype: D, length: number): DTypeArrays[D] {
  return new CONSTRUCTORS[dtype](length);
}

/**
 * `length` elements of `dtype` starting at `bytes[byteOffset]`: a view when the address is aligned to the element
 * size, otherwise a copy (typed arrays cannot view misaligned memory). The caller checks the bounds.
 */
export function viewOrCopy<D extends DType>(
  dtype: D,
  bytes: Uint8Array,
  byteOffset: number,
  length: number,
): DTypeArrays[D] {
  const Ctor = CONSTRUCTORS[dtype];
  const start = bytes.byteOffset + byteOffset;
  if (start % Ctor.BYTES_PER_ELEMENT === 0) return new Ctor(bytes.buffer, start, length);
  // ArrayBuffer#slice always copies (Buffer#slice, which `bytes` may be, would return a view).
  return new Ctor(bytes.buffer.slice(start, start + length * Ctor.BYTES_PER_ELEMENT), 0, length);
}

/** The raw little-endian bytes of a tensor's data (a view, never a copy). */
export function tensorBytes(tensor: Tensor): Uint8Array {
  return new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
}

/** Whether `data` is the typed array `dtype` calls for. */
export function matchesDType(dtype: DType, data: unknown): boolean {
  return data instanceof CONSTRUCTORS[dtype];
}

export function makeTensor<D extends DType>(dtype: D, shape: number[], data: DTypeArrays[D]): Tensor {
  return { dtype, shape, data } as TensorOf<D> as Tensor;
}
