// safetensors (https://github.com/huggingface/safetensors): u64 little-endian header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {string: string}}, then the data block.
// Validation follows the reference implementation: offsets cover the data block exactly, without gaps or overlap.

import {
  DTYPES,
  elementBytes,
  isDType,
  isValidShape,
  makeTensor,
  matchesDType,
  numel,
  type StateDict,
  TensorFileError,
  tensorBytes,
  viewOrCopy,
} from "./tensor.ts";

/** Largest header the reference implementation accepts (100 MB). */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = "__metadata__";

interface HeaderEntry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/** Whether the first 9 bytes can start a safetensors file: a plausible header length, then '{'. */
export function looksLikeSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 9 || bytes[8] !== 0x7b) return false;
  const length = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  return length >= 2n && length <= BigInt(MAX_HEADER_BYTES);
}

/** Length of the JSON header, or an error message when the first bytes cannot start a safetensors file. */
function safetensorsHeaderLength(bytes: Uint8Array): number | string {
  if (bytes.length < 8) return `file is ${bytes.length} bytes, shorter than the 8-byte header length`;
  const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
  const length = view.getBigUint64(0, true);
  if (length < 2n) return `header length ${length} is too small for a JSON object`;
  if (length > BigInt(MAX_HEADER_BYTES)) return `header length ${length} exceeds the 100 MB limit`;
  if (length > BigInt(bytes.length - 8)) {
    return `header length ${length} runs past the end of the file (${bytes.length} bytes): truncated?`;
  }
  if (bytes[8] !== 0x7b) return "header does not start with '{'";
  return Number(length);
}

/** Parses the header and checks it against the data block; entries come in header order. */
function parseHeader(bytes: Uint8Array): {
  entries: HeaderEntry[];
  dataStart: number;
  metadata: Record<string, string>;
} {
  const headerLength = safetensorsHeaderLength(bytes);
  if (typeof headerLength === "string")
    throw new TensorFileError(`not a valid safetensors file: ${headerLength}`);
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)),
    );
  } catch (error) {
    throw new TensorFileError(`safetensors header is not valid UTF-8 JSON: ${(error as Error).message}`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new TensorFileError("safetensors header is not a JSON object");
  }
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new TensorFileError("safetensors __metadata__ must be an object of strings");
      }
      for (const [key, text] of Object.entries(value)) {
        if (typeof text !== "string") {
          throw new TensorFileError(`safetensors __metadata__.${key} is not a string`);
        }
        metadata[key] = text;
      }
      continue;
    }
    const info = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const offsets = info?.data_offsets;
    if (
      typeof info?.dtype !== "string" ||
      !isValidShape(info.shape) ||
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)
    ) {
      throw new TensorFileError(
        `safetensors entry "${name}" needs dtype (string), shape (non-negative integers) and data_offsets ` +
          `([begin, end]), got ${JSON.stringify(value)}`,
      );
    }
    entries.push({ name, dtype: info.dtype, shape: info.shape, begin: offsets[0], end: offsets[1] });
  }
  for (const entry of entries) {
    if (!isDType(entry.dtype)) {
      throw new TensorFileError(
        `tensor "${entry.name}" has dtype ${entry.dtype}, which this reader does not support ` +
          `(supported: ${DTYPES.join(", ")})`,
      );
    }
    const expected = numel(entry.shape) * elementBytes(entry.dtype);
    if (entry.end < entry.begin || entry.end - entry.begin !== expected) {
      throw new TensorFileError(
        `tensor "${entry.name}" (${entry.dtype} [${entry.shape.join(", ")}]) needs ${expected} bytes, ` +
          `its data_offsets [${entry.begin}, ${entry.end}] hold ${entry.end - entry.begin}`,
      );
    }
    if (entry.end > dataLength) {
      throw new TensorFileError(
        `tensor "${entry.name}" ends at byte ${entry.end} of the data block, which has only ${dataLength} bytes: ` +
          "the file is truncated",
      );
    }
  }
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const entry of byOffset) {
    if (entry.begin !== covered) {
      throw new TensorFileError(
        `safetensors data_offsets of "${entry.name}" start at ${entry.begin}, expected ${covered}: ` +
          (entry.begin < covered ? "tensors overlap" : "gap in the data block"),
      );
    }
    covered = entry.end;
  }
  if (covered !== dataLength) {
    throw new TensorFileError(
      `safetensors tensors cover ${covered} bytes but the data block has ${dataLength}: trailing bytes after the data`,
    );
  }
  return { entries, dataStart, metadata };
}

/**
 * Reads a safetensors file. Tensors keep header order (as JSON.parse yields it: integer-like names would come
 * first). Data are views on `bytes` where the alignment allows, copies otherwise.
 */
export function readSafetensors(bytes: Uint8Array): StateDict {
  const { entries, dataStart } = parseHeader(bytes);
  const dict: StateDict = new Map();
  for (const e of entries) {
    const dtype = e.dtype as Parameters<typeof viewOrCopy>[0];
    dict.set(
      e.name,
      makeTensor(dtype, e.shape, viewOrCopy(dtype, bytes, dataStart + e.begin, numel(e.shape))),
    );
  }
  return dict;
}

/** The `__metadata__` strings of a safetensors file (empty when it has none). */
export function readSafetensorsMetadata(bytes: Uint8Array): Record<string, string> {
  return parseHeader(bytes).metadata;
}

/**
 * Writes a safetensors file. The header lists tensors in `dict` order; the data block groups them by element size
 * (largest first) so that every tensor starts aligned to its element size, and the header is padded with spaces
 * to a multiple of 8 bytes.
 */
export function writeSafetensors(dict: StateDict, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== "string") throw new TypeError(`metadata "${key}" must be a string`);
    }
    header[METADATA_KEY] = metadata;
  }
  const offsets = new Map<string, number>();
  let dataLength = 0;
  for (const size of [8, 4, 2, 1]) {
    for (const [name, tensor] of dict) {
      if (elementBytes(tensor.dtype) !== size) continue;
      offsets.set(name, dataLength);
      dataLength += tensor.data.byteLength;
    }
  }
  for (const [name, tensor] of dict) {
    if (name === METADATA_KEY) throw new TypeError(`"${METADATA_KEY}" cannot be a tensor name`);
    if (!isDType(tensor.dtype))
      throw new TypeError(`tensor "${name}": unknown dtype ${String(tensor.dtype)}`);
    if (!matchesDType(tensor.dtype, tensor.data)) {
      throw new TypeError(`tensor "${name}": ${tensor.dtype} data must be a ${tensor.dtype} typed array`);
    }
    if (!isValidShape(tensor.shape) || numel(tensor.shape) !== tensor.data.length) {
      throw new TypeError(
        `tensor "${name}": shape [${tensor.shape.join(", ")}] does not match ${tensor.data.length} values`,
      );
    }
    const begin = offsets.get(name)!;
    header[name] = {
      dtype: tensor.dtype,
      shape: tensor.shape,
      data_offsets: [begin, begin + tensor.data.byteLength],
    };
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + dataLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  const dataStart = 8 + headerLength;
  for (const [name, tensor] of dict) out.set(tensorBytes(tensor), dataStart + offsets.get(name)!);
  return out;
}
