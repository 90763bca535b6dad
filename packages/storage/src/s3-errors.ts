// Turns AWS SDK errors into our typed errors, with a hint about what to do.

import { ObjectNotFoundError, StorageRequestError } from "./errors.ts";

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

const shape = (error: unknown): SdkErrorShape =>
  typeof error === "object" && error !== null ? (error as SdkErrorShape) : {};

const httpStatusOf = (error: unknown): number | undefined => shape(error).$metadata?.httpStatusCode;

export function isNotFound(error: unknown): boolean {
  const { name } = shape(error);
  return (
    name === "NoSuchKey" || name === "NotFound" || (httpStatusOf(error) === 404 && name !== "NoSuchBucket")
  );
}

export function isPreconditionFailed(error: unknown): boolean {
  return shape(error).name === "PreconditionFailed" || httpStatusOf(error) === 412;
}

function hintFor(error: SdkErrorShape): string {
  switch (error.name) {
    case "NoSuchBucket":
      return "create the bucket or fix the location";
    case "AccessDenied":
    case "InvalidAccessKeyId":
    case "SignatureDoesNotMatch":
    case "ExpiredToken":
    case "CredentialsProviderError":
      return "check the AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE) and their permissions";
    case "PermanentRedirect":
    case "AuthorizationHeaderMalformed":
      return "check AWS_REGION: the bucket is in another region";
  }
  if (error.code === "ECONNREFUSED" || error.code === "ENOTFOUND" || error.code === "EAI_AGAIN") {
    return "is the S3 endpoint (VDET_S3_ENDPOINT) reachable?";
  }
  if (
    error.name === "TimeoutError" ||
    error.code === "ECONNRESET" ||
    (error.$metadata?.httpStatusCode ?? 0) >= 500
  ) {
    return "the store kept failing; retry later or raise VDET_S3_MAX_ATTEMPTS";
  }
  return "see the cause";
}

/** Wraps an SDK error from `operation` on `uri`: ObjectNotFoundError for 404s, StorageRequestError otherwise. */
export function wrapS3Error(operation: string, uri: string, error: unknown): Error {
  if (isNotFound(error)) return new ObjectNotFoundError(uri, { cause: error });
  const details = shape(error);
  const attempts = details.$metadata?.attempts ?? 1;
  const status = details.$metadata?.httpStatusCode;
  const what = `${details.name ?? "Error"}${status ? ` (HTTP ${status})` : ""}: ${details.message ?? String(error)}`;
  return new StorageRequestError(
    operation,
    uri,
    attempts,
    `S3 ${operation} of ${uri} failed after ${attempts} attempt(s): ${what}; ${hintFor(details)}`,
    { cause: error },
  );
}
