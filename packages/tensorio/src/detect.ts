// Picks the reader from the file's first bytes, never from its name: users rename checkpoints freely.

import { decodeLatin1 } from "./latin1.ts";
import { looksLikeSafetensors, readSafetensors } from "./safetensors.ts";
import { type StateDict, TensorFileError } from "./tensor.ts";
import { isLegacyTorch, readTorchCheckpoint } from "./torch-checkpoint.ts";
import { isZip } from "./zip.ts";

export type TensorFileFormat = "safetensors" | "torch-zip" | "torch-legacy";

/** The format the content starts like, or undefined. Only the first bytes are looked at: a damaged file of a
 * known format is detected as that format, and its reader then says what is wrong. */
export function detectTensorFormat(bytes: Uint8Array): TensorFileFormat | undefined {
  if (isZip(bytes)) return "torch-zip";
  if (isLegacyTorch(bytes)) return "torch-legacy";
  if (looksLikeSafetensors(bytes)) return "safetensors";
  return undefined;
}

/** A hint for formats people often mistake for weights files. */
function otherFormatHint(bytes: Uint8Array): string {
  const ascii = decodeLatin1(bytes.subarray(0, 512));
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return " (it is gzip-compressed: decompress it first)";
  if (ascii.startsWith("\x89HDF"))
    return " (it is an HDF5 file, e.g. Keras weights, which are not supported)";
  if (ascii.slice(257, 262) === "ustar") {
    return " (it is a tar archive; PyTorch's pre-0.4 tar checkpoint format is not supported)";
  }
  if (ascii.startsWith("\x93NUMPY")) return " (it is a numpy .npy array)";
  if (bytes[0] === 0x08 && ascii.includes("onnx"))
    return " (it looks like an ONNX model: pass it as a model)";
  if (bytes[0] === 0x80) return " (it is a pickle, but not a torch.save checkpoint)";
  if (ascii.startsWith("<") || ascii.startsWith("{")) return " (it is a text file, e.g. an HTML error page)";
  return "";
}

/** Reads a safetensors file or a PyTorch checkpoint (zip or legacy), detected from the content. */
export function readTensorFile(bytes: Uint8Array): StateDict {
  switch (detectTensorFormat(bytes)) {
    case "torch-zip":
    case "torch-legacy":
      return readTorchCheckpoint(bytes);
    case "safetensors":
      return readSafetensors(bytes);
    default: {
      const hex = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join(" ");
      throw new TensorFileError(
        `not a safetensors, PyTorch (zip or legacy) checkpoint file${otherFormatHint(bytes)}; first bytes: ` +
          `${hex || "(empty file)"}`,
      );
    }
  }
}
