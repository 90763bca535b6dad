// Typed errors of the runtime package. Each message says what to do about it.

import { codedError, defineErrorCodes, VdetError } from "@vdet/errors";

export const RUNTIME_ERRORS = defineErrorCodes("runtime", {
  INVALID_EXECUTION_PROVIDER: {
    retryable: false,
    description: "the execution provider string is not accepted",
  },
  INVALID_RUNNER_OPTION: {
    retryable: false,
    description: "invalid runner options (threads, optimisation level)",
  },
  EXECUTION_PROVIDER_UNAVAILABLE: {
    retryable: false,
    description: "the execution provider's libraries (CUDA, cuDNN, TensorRT) are missing or fail to load",
  },
  SESSION_LOAD_FAILED: {
    retryable: false,
    description: "onnxruntime could not load the model into a session (bad file, operator, device)",
  },
  MODEL_RUN_FAILED: {
    retryable: false,
    description: "a run failed inside onnxruntime (input names, shapes, types)",
  },
  RUNNER_CLOSED: {
    retryable: true,
    description: "the runner was closed or its worker died; a new runner works",
  },
  INVALID_TENSOR: { retryable: false, description: "a feed is not a well-formed tensor" },
  ORT_BINDING_MISSING: {
    retryable: false,
    description: "onnxruntime-node has no native binding for this platform",
  },
});

/** The execution provider string is not one of the accepted forms. */
export class InvalidExecutionProviderError extends VdetError {
  override readonly name = "InvalidExecutionProviderError";
  constructor(
    readonly spec: string,
    reason?: string,
  ) {
    super(
      RUNTIME_ERRORS.INVALID_EXECUTION_PROVIDER,
      `invalid execution provider "${spec}"${reason ? ` (${reason})` : ""}: use one of cpu, cuda, cuda:<device>, ` +
        "tensorrt, tensorrt:<device>, where <device> is a GPU index such as 0",
    );
  }
}

/** Invalid runner options other than the execution provider (thread counts, optimisation level). */
export class InvalidRunnerOptionError extends codedError(RUNTIME_ERRORS.INVALID_RUNNER_OPTION) {
  override readonly name = "InvalidRunnerOptionError";
}

/** The install line for GPU hosts; the same on npm 10 and npm 11 (whose root `allowScripts` runs the script). */
export const GPU_INSTALL_COMMAND = "ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci";

export const GPU_INSTALL_HINT =
  `reinstall onnxruntime-node with its GPU libraries: \`${GPU_INSTALL_COMMAND}\` on a host with CUDA 12 and ` +
  "cuDNN 9, and check that npm's output does not say onnxruntime-node's install script was skipped " +
  "(or choose the cpu execution provider)";

/**
 * The execution provider exists in onnxruntime but cannot be used with this install: its provider library
 * is missing, or it (or a CUDA/cuDNN library it needs) fails to load.
 */
export class ExecutionProviderUnavailableError extends VdetError {
  override readonly name = "ExecutionProviderUnavailableError";
  constructor(
    readonly provider: string,
    /** Libraries that are missing or failed to load, e.g. `libonnxruntime_providers_cuda.so`. */
    readonly libraries: readonly string[],
    message: string,
  ) {
    super(RUNTIME_ERRORS.EXECUTION_PROVIDER_UNAVAILABLE, message);
  }
}

/** The model could not be loaded into a session (bad file, unsupported operator, bad device id). */
export class SessionLoadError extends codedError(RUNTIME_ERRORS.SESSION_LOAD_FAILED) {
  override readonly name = "SessionLoadError";
}

/** A run failed inside onnxruntime (wrong input name, shape or type); the runner stays usable. */
export class ModelRunError extends codedError(RUNTIME_ERRORS.MODEL_RUN_FAILED) {
  override readonly name = "ModelRunError";
}

/** The runner was closed, or its worker died; create a new runner. */
export class RunnerClosedError extends codedError(RUNTIME_ERRORS.RUNNER_CLOSED) {
  override readonly name = "RunnerClosedError";
}

/** A feed is not a well-formed tensor (wrong array class for its type, dims that do not match its length). */
export class InvalidTensorError extends codedError(RUNTIME_ERRORS.INVALID_TENSOR) {
  override readonly name = "InvalidTensorError";
}

/** onnxruntime-node has no native binding for this platform (or its install was skipped). */
export class OnnxRuntimeMissingError extends codedError(RUNTIME_ERRORS.ORT_BINDING_MISSING) {
  override readonly name = "OnnxRuntimeMissingError";
}
