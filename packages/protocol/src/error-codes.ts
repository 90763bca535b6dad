// The error codes of the protocol package: what the edge refuses (job specs, queue messages).

import { defineErrorCodes } from "@vdet/errors";

export const PROTOCOL_ERRORS = defineErrorCodes("protocol", {
  INVALID_JOB_SPEC: {
    retryable: false,
    statusCode: 400,
    description: "a job spec fails validation; `issues` names each field",
  },
  UNKNOWN_PHI: { retryable: false, description: "a compound coefficient φ that is not 0…7 or 7x" },
  UNKNOWN_CLASS: { retryable: false, description: "a class name that is not a COCO class" },
  POISON_MESSAGE: {
    retryable: false,
    description: "a queue message fails validation; it is dead-lettered, not retried",
  },
});
