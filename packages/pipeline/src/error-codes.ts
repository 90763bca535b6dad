// The error codes of the pipeline's stages.

import { defineErrorCodes } from "@vdet/errors";

export const PIPELINE_ERRORS = defineErrorCodes("pipeline", {
  MODEL_LOAD_FAILED: {
    retryable: false,
    description: "a worker's model file for a φ cannot be read, parsed or loaded (VDET_WEIGHTS)",
  },
  INFERENCE_FAILED: {
    retryable: true,
    description: "inference of a chunk or segment failed; it goes back to the queue while attempts remain",
  },
  INPUT_CHANGED: {
    retryable: false,
    description: "a restarted producer cannot resume: the input is live or now has fewer frames",
  },
  SEGMENT_EXPIRED: {
    retryable: false,
    description:
      "a recorded live segment's bytes expired or are missing in the frame store before a worker read it",
  },
  SEGMENT_INPUT: {
    retryable: false,
    description:
      "a worker was given a segment of an input it cannot read by itself (no object storage access)",
  },
  UNSUPPORTED_OUTPUT: { retryable: false, description: "the output location is not supported by this mode" },
});
