// Readers for tensor files without Python: safetensors (read and write) and PyTorch checkpoints (zip and legacy
// formats, through a restricted unpickler that never executes anything). See docs/weights-formats.md.

export { bfloat16ToFloat32, float16Bits, float16ToFloat32, float32ToFloat16, toFloat32 } from "./convert.ts";
export { detectTensorFormat, readTensorFile, type TensorFileFormat } from "./detect.ts";
export { readSafetensors, readSafetensorsMetadata, writeSafetensors } from "./safetensors.ts";
export {
  DTYPES,
  type DType,
  type DTypeArrays,
  elementBytes,
  numel,
  type StateDict,
  type Tensor,
  TensorFileError,
  type TensorOf,
} from "./tensor.ts";
export { readTorchCheckpoint, WRAPPER_KEYS } from "./torch-checkpoint.ts";
export { ALLOWED_GLOBALS } from "./torch-pickle.ts";
