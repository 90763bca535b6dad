// The error codes of the protocol package: what the edge refuses (job specs, queue messages).

import { defineErrorCodes } from "@vdet/errors";

export const PROTOCOL_ERRORS = defineErrorCodes("protocol", {
  INVALID_JOB_SPEC: {
    retryable: false,
    statusCode: 400,
    description: "a job spec fails validation; `issues` names each field",
  },
  POISON_MESSAGE: {
    retryable: false,
    description: "a queue message fails validation; it is dead-lettered, not retried",
  },
});
