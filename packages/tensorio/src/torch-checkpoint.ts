// PyTorch checkpoints (`torch.save`), both formats: the zip archive (torch >= 1.6) with `<folder>/data.pkl` and raw
// storages `<folder>/data/<key>`, and the legacy stream of pickles followed by the storages. The pickle goes through
// the restricted unpickler; then the state dict is picked out of wrappers and its tensors are read.

import { describePickleValue, unpickle } from "./pickle.ts";
import { materialize } from "./strided.ts";
import { elementBytes, makeTensor, type StateDict, TensorFileError } from "./tensor.ts";
import { findTorchGlobal, StorageRegistry, TensorRecord } from "./torch-pickle.ts";
import { isZip, ZipArchive } from "./zip.ts";

/** First pickle of a legacy file: a protocol-2 LONG1 of this value. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL_VERSION = 1001;

/**
 * Keys that wrap a state dict in training checkpoints, in order of precedence: the first one present is used,
 * so plain weights win over EMA weights when a checkpoint holds both.
 */
export const WRAPPER_KEYS: readonly string[] = ["model", "state_dict", "state_dict_ema", "model_ema"];
const MAX_WRAPPER_DEPTH = 4;
const DATA_PARALLEL_PREFIX = "module.";

/** Whether the bytes start like a legacy checkpoint: PROTO n, LONG1 of 10 bytes (the magic number). */
export function isLegacyTorch(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x80 && bytes[1] >= 2 && bytes[2] === 0x8a && bytes[3] === 0x0a;
}

/** Reads a PyTorch checkpoint in either format. See `WRAPPER_KEYS` for wrapped checkpoints. */
export function readTorchCheckpoint(bytes: Uint8Array): StateDict {
  if (isZip(bytes)) return readZipCheckpoint(bytes);
  if (isLegacyTorch(bytes)) return readLegacyCheckpoint(bytes);
  throw new TensorFileError(
    "not a PyTorch checkpoint: neither a zip archive nor the legacy format's magic number",
  );
}

function readZipCheckpoint(bytes: Uint8Array): StateDict {
  const zip = new ZipArchive(bytes);
  const names = [...zip.entries.keys()];
  const pickles = names.filter((name) => /^[^/]+\/data\.pkl$/.test(name));
  if (pickles.length !== 1) {
    const hint = names.some((n) => n.endsWith(".npy")) ? " (it looks like a numpy .npz archive)" : "";
    throw new TensorFileError(
      `zip archive is not a PyTorch checkpoint${hint}: expected one <folder>/data.pkl, found ${pickles.length}`,
    );
  }
  const folder = pickles[0].slice(0, -"data.pkl".length);
  if (zip.entries.has(`${folder}constants.pkl`) || names.some((n) => n.startsWith(`${folder}code/`))) {
    throw new TensorFileError(
      "this is a TorchScript archive (torch.jit.save), not a state dict: save model.state_dict() with torch.save",
    );
  }
  const byteOrder = zip.entries.get(`${folder}byteorder`);
  if (byteOrder && new TextDecoder().decode(zip.read(byteOrder)).trim() !== "little") {
    throw new TensorFileError(
      "checkpoint was written on a big-endian machine; only little-endian data is supported",
    );
  }
  const registry = new StorageRegistry();
  const root = unpickle(zip.read(zip.entries.get(pickles[0])!), 0, {
    findGlobal: findTorchGlobal,
    persistentLoad: registry.persistentLoad,
  }).value;
  return readTensors(root, registry, (key) => {
    const entry = zip.entries.get(`${folder}data/${key}`);
    if (!entry)
      throw new TensorFileError(`storage ${key} is missing from the archive (${folder}data/${key})`);
    return zip.read(entry);
  });
}

function readLegacyCheckpoint(bytes: Uint8Array): StateDict {
  const refuseGlobals = {
    findGlobal: (module: string, name: string): never => {
      throw new TensorFileError(
        `legacy checkpoint header names a global (${module}.${name}); the file is not valid`,
      );
    },
  };
  const magic = unpickle(bytes, 0, refuseGlobals);
  if (magic.value !== LEGACY_MAGIC)
    throw new TensorFileError("not a PyTorch legacy checkpoint: wrong magic number");
  const protocol = unpickle(bytes, magic.end, refuseGlobals);
  if (protocol.value !== LEGACY_PROTOCOL_VERSION) {
    throw new TensorFileError(`legacy checkpoint protocol ${String(protocol.value)} (expected 1001)`);
  }
  const sysInfo = unpickle(bytes, protocol.end, refuseGlobals);
  if (!(sysInfo.value instanceof Map) || sysInfo.value.get("little_endian") !== true) {
    throw new TensorFileError(
      "legacy checkpoint is not marked little-endian; only little-endian data is supported",
    );
  }
  const registry = new StorageRegistry();
  const main = unpickle(bytes, sysInfo.end, {
    findGlobal: findTorchGlobal,
    persistentLoad: registry.persistentLoad,
  });
  const keyList = unpickle(bytes, main.end, refuseGlobals);
  if (!Array.isArray(keyList.value) || !keyList.value.every((k) => typeof k === "string")) {
    throw new TensorFileError("legacy checkpoint: the storage key list is not a list of strings");
  }
  // Storages follow each other unpadded. Copying the whole region once so that the first one lands 8-aligned
  // lets typed arrays view (nearly) all of them, instead of copying tensor by tensor, which is much slower.
  const aligned = (bytes.byteOffset + keyList.end + 8) % 8 === 0;
  const region = aligned ? bytes.subarray(keyList.end) : new Uint8Array(bytes.subarray(keyList.end));
  const storages = new Map<string, Uint8Array>();
  const view = new DataView(region.buffer, region.byteOffset, region.byteLength);
  let pos = 0;
  for (const key of keyList.value as string[]) {
    const root = registry.roots.get(key);
    if (!root) throw new TensorFileError(`legacy checkpoint lists storage ${key}, which no tensor uses`);
    if (pos + 8 > region.length)
      throw new TensorFileError(`legacy checkpoint is truncated before storage ${key}`);
    const count = Number(view.getBigUint64(pos, true));
    if (count !== root.numel) {
      throw new TensorFileError(
        `legacy storage ${key} holds ${count} elements, the pickle says ${root.numel}`,
      );
    }
    const length = count * elementBytes(root.dtype);
    if (pos + 8 + length > region.length) {
      throw new TensorFileError(
        `legacy checkpoint is truncated: storage ${key} needs ${length} bytes at ${keyList.end + pos + 8}, ` +
          `file has ${bytes.length}`,
      );
    }
    storages.set(key, region.subarray(pos + 8, pos + 8 + length));
    pos += 8 + length;
  }
  return readTensors(main.value, registry, (key) => {
    const storage = storages.get(key);
    if (!storage) throw new TensorFileError(`legacy checkpoint has no data for storage ${key}`);
    return storage;
  });
}

/** The state dict inside `root`: itself when it maps names to tensors, else the first `WRAPPER_KEYS` entry. */
function selectStateDict(value: unknown, path: string, depth = 0): Map<string, TensorRecord> {
  // A pickle can make a dict contain itself; real checkpoints nest one or two levels.
  if (depth > MAX_WRAPPER_DEPTH) throw new TensorFileError(`${path}: wrappers nested too deep`);
  if (!(value instanceof Map)) {
    throw new TensorFileError(
      `${path} is a ${describePickleValue(value)}, not a state dict (name -> tensor)`,
    );
  }
  const holdsTensors = value.size === 0 || [...value.values()].some((v) => v instanceof TensorRecord);
  if (holdsTensors) {
    for (const [key, item] of value) {
      if (typeof key !== "string" || !(item instanceof TensorRecord)) {
        throw new TensorFileError(
          `state dict ${path} holds ${String(key)} = ${describePickleValue(item)}; only tensors are supported`,
        );
      }
    }
    return value as Map<string, TensorRecord>;
  }
  for (const key of WRAPPER_KEYS) {
    if (value.has(key)) return selectStateDict(value.get(key), `${path}["${key}"]`, depth + 1);
  }
  const keys = [...value.keys()].slice(0, 10).map(String).join(", ");
  throw new TensorFileError(
    `no state dict found: ${path} has keys ${keys}; expected tensors or one of ${WRAPPER_KEYS.join(", ")}`,
  );
}

function readTensors(
  root: unknown,
  registry: StorageRegistry,
  rootStorage: (key: string) => Uint8Array,
): StateDict {
  const records = selectStateDict(root, "the checkpoint");
  const names = [...records.keys()];
  const strip = names.length > 0 && names.every((n) => n.startsWith(DATA_PARALLEL_PREFIX));
  const loaded = new Map<string, Uint8Array>();
  const dict: StateDict = new Map();
  for (const [name, record] of records) {
    const { storage } = record;
    let bytes = loaded.get(storage.key);
    if (!bytes) {
      bytes = rootStorage(storage.key);
      const needed = registry.roots.get(storage.key)!.numel * elementBytes(storage.dtype);
      if (bytes.length < needed) {
        throw new TensorFileError(
          `storage ${storage.key} has ${bytes.length} bytes, its tensors need ${needed}`,
        );
      }
      loaded.set(storage.key, bytes);
    }
    const window = bytes.subarray(storage.elementOffset * elementBytes(storage.dtype));
    const data = materialize(
      storage.dtype,
      window,
      storage.numel,
      record.offset,
      record.shape,
      record.stride,
      name,
    );
    dict.set(
      strip ? name.slice(DATA_PARALLEL_PREFIX.length) : name,
      makeTensor(storage.dtype, record.shape, data),
    );
  }
  return dict;
}
