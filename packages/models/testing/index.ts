// Test support for other packages' tests (import from "@vdet/models/testing"): a local checkpoint server and
// small labelled ONNX models. Not for production code.

export {
  type Behaviour,
  type CheckpointServer,
  type RecordedRequest,
  startCheckpointServer,
  startConnectProxy,
  useCheckpointServer,
} from "./checkpoint-server.ts";
export { writeLabelledOnnx } from "./labelled-onnx.ts";
export { useTempDir } from "./temp-dir.ts";
