// Typed errors of the runtime package. Each message says what to do about it.

/** The execution provider string is not one of the accepted forms. */
export class InvalidExecutionProviderError extends Error {
  override readonly name = "InvalidExecutionProviderError";
  constructor(
    readonly spec: string,
    reason?: string,
  ) {
    super(
      `invalid execution provider "${spec}"${reason ? ` (${reason})` : ""}: use one of cpu, cuda, cuda:<device>, ` +
        "tensorrt, tensorrt:<device>, where <device> is a GPU index such as 0",
    );
  }
}

/** Invalid runner options other than the execution provider (thread counts, optimisation level). */
export class InvalidRunnerOptionError extends Error {
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
export class ExecutionProviderUnavailableError extends Error {
  override readonly name = "ExecutionProviderUnavailableError";
  constructor(
    readonly provider: string,
    /** Libraries that are missing or failed to load, e.g. `libonnxruntime_providers_cuda.so`. */
    readonly libraries: readonly string[],
    message: string,
  ) {
    super(message);
  }
}

/** The model could not be loaded into a session (bad file, unsupported operator, bad device id). */
export class ModelLoadError extends Error {
  override readonly name = "ModelLoadError";
}

/** A run failed inside onnxruntime (wrong input name, shape or type); the runner stays usable. */
export class ModelRunError extends Error {
  override readonly name = "ModelRunError";
}

/** The runner was closed, or its worker died; create a new runner. */
export class RunnerClosedError extends Error {
  override readonly name = "RunnerClosedError";
}

/** A feed is not a well-formed tensor (wrong array class for its type, dims that do not match its length). */
export class InvalidTensorError extends Error {
  override readonly name = "InvalidTensorError";
}
