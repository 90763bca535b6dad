// What a PyTorch state-dict pickle may reference, and the inert records that stand in for it: storage references
// (persistent ids) and tensor records (storage + offset + shape + strides). Tensor data are read afterwards.

import { type PickleGlobal, PickleInstance, PickleTuple } from "./pickle.ts";
import { type DType, TensorFileError } from "./tensor.ts";

/** A storage named by a persistent id; a legacy view storage is a window on its root storage. */
export class StorageRef {
  constructor(
    readonly dtype: DType,
    /** Key of the root storage: the zip entry `data/<key>` or the legacy key list entry. */
    readonly key: string,
    /** Where this storage starts in the root storage, in elements (non-zero only for legacy views). */
    readonly elementOffset: number,
    readonly numel: number,
  ) {}
}

/** `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …)`, not yet read. */
export class TensorRecord {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

class StorageType implements PickleGlobal {
  constructor(
    readonly qualifiedName: string,
    readonly dtype: DType,
  ) {}
}

const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: "F32",
  DoubleStorage: "F64",
  HalfStorage: "F16",
  BFloat16Storage: "BF16",
  LongStorage: "I64",
  IntStorage: "I32",
  ShortStorage: "I16",
  CharStorage: "I8",
  ByteStorage: "U8",
  BoolStorage: "BOOL",
};

/** Globals that belong to PyTorch but stand for tensors this reader does not handle. */
const UNSUPPORTED: Record<string, string> = {
  "torch._utils._rebuild_tensor_v3": "tensors of newer dtypes (uint16/32/64, float8)",
  "torch._utils._rebuild_qtensor": "quantized tensors",
  "torch._utils._rebuild_sparse_tensor": "sparse tensors",
  "torch._utils._rebuild_sparse_csr_tensor": "sparse tensors",
  "torch._utils._rebuild_meta_tensor_no_storage": "meta tensors",
  "torch._utils._rebuild_wrapper_subclass": "tensor subclasses",
  "torch._utils._rebuild_nested_tensor": "nested tensors",
  "torch._tensor._rebuild_from_type_v2": "tensor subclasses",
  "torch.ComplexFloatStorage": "complex tensors",
  "torch.ComplexDoubleStorage": "complex tensors",
  "torch.QInt8Storage": "quantized tensors",
  "torch.QUInt8Storage": "quantized tensors",
  "torch.QInt32Storage": "quantized tensors",
};

function integer(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new TensorFileError(`${what} must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}

function integers(value: unknown, what: string): number[] {
  if (!(value instanceof PickleTuple)) throw new TensorFileError(`${what} must be a tuple of integers`);
  return value.items.map((item, i) => integer(item, `${what}[${i}]`));
}

function tensorArgument(value: unknown, what: string): TensorRecord {
  if (!(value instanceof TensorRecord)) throw new TensorFileError(`${what} expects a tensor`);
  return value;
}

function rebuildTensorV2(args: readonly unknown[]): TensorRecord {
  const [storage, offset, size, stride] = args;
  if (args.length < 6 || args.length > 7 || !(storage instanceof StorageRef)) {
    throw new TensorFileError(
      "_rebuild_tensor_v2 expects (storage, offset, size, stride, requires_grad, hooks)",
    );
  }
  const shape = integers(size, "tensor size");
  const strides = integers(stride, "tensor stride");
  if (shape.length !== strides.length) {
    throw new TensorFileError(`tensor size [${shape}] and stride [${strides}] have different lengths`);
  }
  return new TensorRecord(storage, integer(offset, "tensor storage offset"), shape, strides);
}

const CALLABLES: Record<string, (args: readonly unknown[]) => unknown> = {
  "collections.OrderedDict": (args) => {
    if (args.length !== 0)
      throw new TensorFileError("collections.OrderedDict is only accepted without arguments");
    return new Map();
  },
  "torch._utils._rebuild_tensor_v2": rebuildTensorV2,
  "torch._utils._rebuild_parameter": (args) => tensorArgument(args[0], "_rebuild_parameter"),
  "torch._utils._rebuild_parameter_with_state": (args) =>
    tensorArgument(args[0], "_rebuild_parameter_with_state"),
  // Training checkpoints (timm's train.py) keep their command line as a Namespace: plain data after BUILD.
  "argparse.Namespace": (args) => {
    if (args.length !== 0) throw new TensorFileError("argparse.Namespace is only accepted without arguments");
    return new PickleInstance("argparse.Namespace");
  },
  // Protocol 2 writes Python 3 bytes as _codecs.encode(text, "latin1").
  "_codecs.encode": (args) => {
    const [text, encoding] = args;
    if (typeof text !== "string" || (encoding !== "latin1" && encoding !== "latin-1")) {
      throw new TensorFileError('_codecs.encode is only accepted as encode(text, "latin1")');
    }
    return Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
  },
};

/** The globals a state-dict pickle may name, for documentation and error messages. */
export const ALLOWED_GLOBALS: readonly string[] = [
  ...Object.keys(CALLABLES),
  ...Object.keys(STORAGE_DTYPES).map((name) => `torch.${name}`),
];

/** Resolves a GLOBAL against the allow-list; everything else is refused, naming the global. */
export function findTorchGlobal(module: string, name: string): PickleGlobal {
  const qualifiedName = `${module}.${name}`;
  // Object.hasOwn: a name like "constructor" must not find Object.prototype members.
  if (Object.hasOwn(CALLABLES, qualifiedName)) return { qualifiedName, call: CALLABLES[qualifiedName] };
  if (module === "torch" && Object.hasOwn(STORAGE_DTYPES, name)) {
    return new StorageType(qualifiedName, STORAGE_DTYPES[name]);
  }
  if (Object.hasOwn(UNSUPPORTED, qualifiedName)) {
    throw new TensorFileError(
      `the checkpoint holds ${UNSUPPORTED[qualifiedName]} (${qualifiedName}), which this reader does not support`,
    );
  }
  throw new TensorFileError(
    `refusing pickle global ${qualifiedName}: a weights file may only name ${ALLOWED_GLOBALS.join(", ")}. ` +
      "Other globals can run code when Python unpickles the file; nothing was executed. A whole pickled model " +
      "(torch.save(model)) has to be re-saved as torch.save(model.state_dict()).",
  );
}

/**
 * Turns persistent ids into storage references and remembers each root storage's dtype and size, which the
 * legacy format needs to read its storages. Zip: ('storage', type, key, location, numel); legacy adds view
 * metadata (view_key, offset, size) or None.
 */
export class StorageRegistry {
  readonly roots = new Map<string, { dtype: DType; numel: number }>();

  persistentLoad = (pid: unknown): StorageRef => {
    if (!(pid instanceof PickleTuple)) throw new TensorFileError("persistent id is not a tuple");
    const [typename, type, key, location, count, view] = pid.items;
    if (typename === "module") {
      throw new TensorFileError(
        "the checkpoint is a whole pickled model (torch.save(model)); re-save it as torch.save(model.state_dict())",
      );
    }
    if (typename !== "storage" || pid.items.length < 5 || pid.items.length > 6) {
      throw new TensorFileError(
        `unsupported persistent id (${String(typename)}, ${pid.items.length} fields)`,
      );
    }
    if (!(type instanceof StorageType)) throw new TensorFileError("persistent id without a storage type");
    if (typeof key !== "string" || typeof location !== "string") {
      throw new TensorFileError("persistent id: storage key and location must be strings");
    }
    const numel = integer(count, `size of storage ${key}`);
    const known = this.roots.get(key);
    if (!known) this.roots.set(key, { dtype: type.dtype, numel });
    else if (known.dtype !== type.dtype || known.numel !== numel) {
      throw new TensorFileError(
        `storage ${key} is referenced as ${known.dtype}[${known.numel}] and ${type.dtype}[${numel}]`,
      );
    }
    if (view === undefined || view === null) return new StorageRef(type.dtype, key, 0, numel);
    if (!(view instanceof PickleTuple) || view.items.length !== 3) {
      throw new TensorFileError(`storage ${key}: view metadata must be (key, offset, size)`);
    }
    const offset = integer(view.items[1], `view offset in storage ${key}`);
    const size = integer(view.items[2], `view size in storage ${key}`);
    if (offset + size > numel) {
      throw new TensorFileError(
        `storage ${key}: view [${offset}, ${offset + size}) exceeds its ${numel} elements`,
      );
    }
    return new StorageRef(type.dtype, key, offset, size);
  };
}
