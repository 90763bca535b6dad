// The error codes of the job store, model registry, labels and checkpoints.

import { defineErrorCodes } from "@vdet/errors";

export const JOBS_ERRORS = defineErrorCodes("jobs", {
  ACTIVE_JOB_LIMIT: {
    retryable: true,
    statusCode: 429,
    description:
      "a new job would pass the deployment's limit of jobs queued or running (VDET_MAX_ACTIVE_JOBS)",
  },
  CLASS_NAME: {
    retryable: false,
    statusCode: 400,
    description: "a job's `classes` names no class of its models, or its φ range's models disagree",
  },
  JOB_RECORD_MISSING: {
    retryable: true,
    description: "an idempotency key names a job whose record is not in Redis",
  },
  MODEL_ENTRY_INVALID: {
    retryable: false,
    description:
      "a worker's published model entry in Redis is not valid; restart a worker to publish it again",
  },
  CHECKPOINT_NOT_SAVED: {
    retryable: true,
    description: "an aggregator checkpoint transaction failed in Redis",
  },
});
