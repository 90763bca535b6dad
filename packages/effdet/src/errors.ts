// The error codes of effdet, and its errors that belong to no one module.

import { codedError, defineErrorCodes } from "@vdet/errors";

export const EFFDET_ERRORS = defineErrorCodes("effdet", {
  WEIGHTS_MISMATCH: { retryable: false, description: "a checkpoint's tensors do not match the φ's graph" },
  NOT_AN_ONNX_MODEL: { retryable: false, description: "the bytes are not an ONNX model" },
  DETECTOR_INPUT_INVALID: {
    retryable: false,
    description: "a detector's model lacks the deploy outputs, or its frames and options do not match",
  },
  INVALID_BUILD_OPTIONS: {
    retryable: false,
    description: "options of a model build that cannot work together",
  },
});

/** Frames or options a detector cannot run, or a model without the deploy outputs. */
export class DetectorInputError extends codedError(EFFDET_ERRORS.DETECTOR_INPUT_INVALID) {}

/** Build options that cannot work (no weights and no seed, an unknown variant). */
export class BuildOptionsError extends codedError(EFFDET_ERRORS.INVALID_BUILD_OPTIONS) {}
