// @vdet/errors: the one error base every package throws (a stable `code`, `retryable`, an HTTP `statusCode`
// where one applies) and the registry of codes that docs/errors.md is generated from.
export {
  codedError,
  defineErrorCodes,
  type ErrorCodeInfo,
  errorCodes,
  errorStatusCode,
  InvariantError,
  isRetryable,
  isVdetError,
  type RegisteredErrorCode,
  VdetError,
  type VdetErrorOptions,
} from "./errors.ts";
