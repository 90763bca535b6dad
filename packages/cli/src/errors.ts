// The error codes of the command-line client.

import { codedError, defineErrorCodes } from "@vdet/errors";

export const CLI_ERRORS = defineErrorCodes("cli", {
  API_REQUEST_FAILED: {
    retryable: true,
    description: "`vdet jobs` could not reach the api, or the api refused the request",
  },
  NO_VIDEOS: {
    retryable: false,
    description: "an archive submission found no videos under the prefix or directory",
  },
});

/** The api could not be reached, or answered with an error status. */
export class ApiRequestError extends codedError(CLI_ERRORS.API_REQUEST_FAILED) {}

/** An archive to submit holds no videos. */
export class NoVideosError extends codedError(CLI_ERRORS.NO_VIDEOS) {}
