// Typed errors of the model cache. Each message names the problem and what to do about it.

import { defineErrorCodes, VdetError, type VdetErrorOptions } from "@vdet/errors";

export const MODEL_CACHE_ERRORS = defineErrorCodes("models", {
  MODEL_CACHE_FAILED: {
    retryable: false,
    description: "the model cache could not complete a pull, import or list",
  },
  DOWNLOAD_HTTP: {
    retryable: false,
    description: "the download server answered an HTTP error (5xx: retryable)",
  },
  DOWNLOAD_CONNECTION: { retryable: true, description: "the download server could not be reached" },
  DOWNLOAD_TRUNCATED: { retryable: true, description: "a download was cut off; the same pull resumes it" },
  DOWNLOAD_STALLED: { retryable: true, description: "a download delivered nothing for the stall timeout" },
  CHECKSUM_MISMATCH: { retryable: false, description: "a file's sha256 is not the published one" },
  MODEL_CONVERSION_FAILED: { retryable: false, description: "a file could not be turned into a model" },
  MODEL_NOT_FOUND: { retryable: false, description: "a model name is neither a file nor a cached model" },
  MODEL_INPUT_INVALID: {
    retryable: false,
    description: "invalid names, labels files, catalog entries or options",
  },
});

type ModelCacheCode = (typeof MODEL_CACHE_ERRORS)[keyof typeof MODEL_CACHE_ERRORS];

/** Base class: any failure of pull, import, list or resolve. */
export class ModelCacheError extends VdetError {
  /** The code of errors of this class; subclasses set their own. */
  static readonly code: ModelCacheCode = MODEL_CACHE_ERRORS.MODEL_CACHE_FAILED;
  override readonly name: string = "ModelCacheError";
  constructor(message: string, options: VdetErrorOptions = {}) {
    super((new.target as typeof ModelCacheError).code, message, options);
  }
}

/** The server answered with an HTTP error status (404, 500 …). */
export class DownloadHttpError extends ModelCacheError {
  static override readonly code = MODEL_CACHE_ERRORS.DOWNLOAD_HTTP;
  override readonly name = "DownloadHttpError";
  constructor(
    readonly url: string,
    readonly status: number,
  ) {
    super(
      status === 404
        ? `download failed: ${url} was not found (HTTP 404); check the URL, or the mirror set in VDET_MODELS_BASE_URL / VDET_MODELS_CATALOG`
        : `download failed: ${url} answered HTTP ${status}${status >= 500 ? "; the server has a problem, try again later" : ""}`,
      { retryable: status >= 500 },
    );
  }
}

/** No response at all: DNS failure, connection refused, proxy unreachable. Nothing was written. */
export class DownloadConnectionError extends ModelCacheError {
  static override readonly code = MODEL_CACHE_ERRORS.DOWNLOAD_CONNECTION;
  override readonly name = "DownloadConnectionError";
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    super(
      `could not reach ${url}${cause instanceof Error ? ` (${describeCause(cause)})` : ""}: check the network and ` +
        "the proxy settings (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), or pull from a mirror (VDET_MODELS_BASE_URL)",
      { cause },
    );
  }
}

function describeCause(error: Error): string {
  const code = (error as { code?: string }).code;
  const inner = error.cause instanceof Error ? error.cause : undefined;
  const text = error.message || inner?.message || code || error.name;
  return code && !text.includes(code) ? `${code}: ${text}` : text;
}

/** The connection closed (or failed) before the whole body arrived. The partial file is kept for a resume. */
export class TruncatedDownloadError extends ModelCacheError {
  static override readonly code = MODEL_CACHE_ERRORS.DOWNLOAD_TRUNCATED;
  override readonly name = "TruncatedDownloadError";
  constructor(
    readonly url: string,
    readonly received: number,
    readonly expected: number | null,
    cause?: unknown,
  ) {
    super(
      `download of ${url} was cut off after ${received} of ${expected ?? "?"} bytes` +
        `${cause instanceof Error ? ` (${cause.message})` : ""}; run the same pull again to resume it`,
      { cause },
    );
  }
}

/** No data arrived for longer than the stall timeout. The partial file is kept for a resume. */
export class DownloadStalledError extends ModelCacheError {
  static override readonly code = MODEL_CACHE_ERRORS.DOWNLOAD_STALLED;
  override readonly name = "DownloadStalledError";
  constructor(
    readonly url: string,
    readonly received: number,
    readonly timeoutMs: number,
  ) {
    super(
      `download of ${url} stalled: no data for ${timeoutMs / 1000} s after ${received} bytes; ` +
        "check the network or proxy (HTTPS_PROXY), then run the same pull again to resume it",
    );
  }
}

/** The downloaded file's sha256 does not match the expected one; the file has been deleted. */
export class ChecksumMismatchError extends ModelCacheError {
  static override readonly code = MODEL_CACHE_ERRORS.CHECKSUM_MISMATCH;
  override readonly name = "ChecksumMismatchError";
  constructor(
    readonly file: string,
    readonly expected: string,
    readonly actual: string,
    downloaded = true,
  ) {
    super(
      `checksum mismatch for ${file}: sha256 is ${actual}, expected it to start with ${expected}; ` +
        (downloaded
          ? "the download was corrupted or the server sent another file. It was deleted and nothing was cached; " +
            "run the pull again, and if it fails again check the mirror (VDET_MODELS_BASE_URL)"
          : "it is not the published file (a damaged copy, or another φ). Nothing was cached"),
    );
  }
}

/** The file could not be turned into a model (not a checkpoint, wrong φ, damaged). Nothing was cached. */
export class ModelConversionError extends ModelCacheError {
  static override readonly code = MODEL_CACHE_ERRORS.MODEL_CONVERSION_FAILED;
  override readonly name = "ModelConversionError";
}

/** A name asked for is neither a file nor a cached model, or is not a valid model name. */
export class ModelNotFoundError extends ModelCacheError {
  static override readonly code = MODEL_CACHE_ERRORS.MODEL_NOT_FOUND;
  override readonly name = "ModelNotFoundError";
}

/** Invalid input from the user: names, labels files, catalog entries, options. */
export class ModelInputError extends ModelCacheError {
  static override readonly code = MODEL_CACHE_ERRORS.MODEL_INPUT_INVALID;
  override readonly name = "ModelInputError";
}
