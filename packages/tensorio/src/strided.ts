// Turns (storage, offset, shape, strides) into C-order data: a view on the storage when the tensor is already
// contiguous, otherwise one gather pass over the strided layout.

import {
  allocate,
  type DType,
  type DTypeArrays,
  elementBytes,
  numel,
  TensorFileError,
  viewOrCopy,
} from "./tensor.ts";

/** Whether strides describe C order (dimensions of size 1 may have any stride). */
function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expected) return false;
    expected *= shape[d];
  }
  return true;
}

type Indexable = { [index: number]: number | bigint };

/**
 * The tensor at element `offset` of a storage whose `storageNumel` elements start at `storage[0]`, copied to
 * C order when strided. `name` labels errors.
 */
export function materialize<D extends DType>(
  dtype: D,
  storage: Uint8Array,
  storageNumel: number,
  offset: number,
  shape: readonly number[],
  stride: readonly number[],
  name: string,
): DTypeArrays[D] {
  const count = numel(shape);
  if (count === 0) return allocate(dtype, 0);
  let span = 1;
  for (let d = 0; d < shape.length; d++) span += (shape[d] - 1) * stride[d];
  if (offset + span > storageNumel) {
    throw new TensorFileError(
      `tensor "${name}" (shape [${shape.join(", ")}], stride [${stride.join(", ")}], offset ${offset}) reads past ` +
        `the end of its storage of ${storageNumel} elements`,
    );
  }
  const bytes = elementBytes(dtype);
  if (isContiguous(shape, stride)) return viewOrCopy(dtype, storage, offset * bytes, count);
  const source = viewOrCopy(dtype, storage, offset * bytes, span) as unknown as Indexable;
  const out = allocate(dtype, count);
  const target = out as unknown as Indexable;
  const last = shape.length - 1;
  const inner = shape[last];
  const innerStride = stride[last];
  const index = new Array<number>(last).fill(0);
  let base = 0;
  let o = 0;
  for (let row = 0; row < count / inner; row++) {
    for (let j = 0, s = base; j < inner; j++, s += innerStride) target[o++] = source[s];
    for (let d = last - 1; d >= 0; d--) {
      base += stride[d];
      if (++index[d] < shape[d]) break;
      base -= stride[d] * shape[d];
      index[d] = 0;
    }
  }
  return out;
}
