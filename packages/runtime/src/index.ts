// @vdet/runtime: the ModelRunner interface and its onnxruntime implementation (sessions on worker threads),
// execution-provider selection and the errors they raise.

export { type CpuFeatures, cpuFeatures, int8WeightBitsFor, parseCpuInfo } from "./cpu-features.ts";
export {
  ExecutionProviderUnavailableError,
  GPU_INSTALL_COMMAND,
  GPU_INSTALL_HINT,
  InvalidExecutionProviderError,
  InvalidRunnerOptionError,
  InvalidTensorError,
  ModelRunError,
  OnnxRuntimeMissingError,
  RUNTIME_ERRORS,
  RunnerClosedError,
  SessionLoadError,
} from "./errors.ts";
export {
  assertExecutionProviderInstalled,
  type ExecutionProvider,
  formatExecutionProvider,
  type GraphOptimization,
  type OrtInstall,
  parseExecutionProvider,
  providerLibraries,
  type SessionTuning,
  sessionOptionsFor,
} from "./execution-provider.ts";
export { createOnnxRunner, type OnnxRunnerOptions } from "./onnx-runner.ts";
export { describeOrtInstall, libraryLoadError, ortVersion } from "./ort-install.ts";
export type { ModelRunner, TensorLike, TensorType, TypedArray } from "./runner.ts";
export { createSimulatedRunner, SIMULATED_INPUT, type SimulatedRunnerOptions } from "./simulated-runner.ts";
