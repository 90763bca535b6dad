// The error codes of the transport package.

import { defineErrorCodes } from "@vdet/errors";

export const TRANSPORT_ERRORS = defineErrorCodes("transport", {
  UNPROCESSABLE_MESSAGE: {
    retryable: false,
    description: "a handler refused a message that must not be retried; it is dead-lettered",
  },
  REDIS_CONNECTION: {
    retryable: true,
    description:
      "Redis refused the password or the TLS handshake, or is not there (checked at a role's start)",
  },
});
