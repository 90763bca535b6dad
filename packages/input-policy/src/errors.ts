// The input policy's one error: an input a job may not read (a bucket, a path or an address outside the policy).

import { defineErrorCodes, VdetError } from "@vdet/errors";

export const INPUT_POLICY_ERRORS = defineErrorCodes("input-policy", {
  INPUT_NOT_ALLOWED: {
    retryable: false,
    statusCode: 400,
    description:
      "a job input names a bucket, a path or a network address outside this server's input policy (VDET_INPUT_BUCKETS, VDET_INPUT_ROOTS, VDET_INPUT_ALLOW_ADDRESSES)",
  },
});

export class InputNotAllowedError extends VdetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(INPUT_POLICY_ERRORS.INPUT_NOT_ALLOWED, message, options);
  }
}
