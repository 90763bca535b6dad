// Retries: exponential backoff with full jitter, used two ways. As the S3 client's retry strategy (the SDK's
// middleware classifies errors, this decides whether and when to try again) and by our own loops for what the
// SDK cannot retry: response bodies that fail half way (GetObject streams).

import type { S3ClientConfig } from "@aws-sdk/client-s3";
import { S3_DEFAULTS } from "@vdet/config";
import { VdetError } from "@vdet/errors";
import { STORAGE_ERRORS } from "./errors.ts";

export interface BackoffOptions {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** Delay scale for transient errors (5xx, resets, timeouts). */
  baseDelayMs: number;
  /** Delay scale for throttling (503 SlowDown, 429): the store asked us to slow down. */
  throttlingBaseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = {
  maxAttempts: S3_DEFAULTS.maxAttempts,
  baseDelayMs: 100,
  throttlingBaseDelayMs: 500,
  maxDelayMs: 20_000,
};

/** Full jitter (AWS architecture blog): uniform in [0, min(max, base·2^retry)). `retry` counts from 0. */
export function backoffDelayMs(retry: number, baseDelayMs: number, maxDelayMs: number): number {
  return Math.floor(Math.random() * Math.min(maxDelayMs, baseDelayMs * 2 ** retry));
}

export const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

type SdkRetryStrategy = Extract<
  NonNullable<S3ClientConfig["retryStrategy"]>,
  { acquireInitialRetryToken: unknown }
>;
type SdkRetryToken = Awaited<ReturnType<SdkRetryStrategy["acquireInitialRetryToken"]>>;
type SdkRetryErrorInfo = Parameters<SdkRetryStrategy["refreshRetryTokenForRetry"]>[1];

class BackoffToken implements SdkRetryToken {
  constructor(
    private readonly retries: number,
    private readonly delayMs: number,
  ) {}
  getRetryCount(): number {
    return this.retries;
  }
  getRetryDelay(): number {
    return this.delayMs;
  }
}

/**
 * The SDK's RetryStrategyV2 with our backoff: retries TRANSIENT (500/502/503/504, ECONNRESET, EPIPE,
 * timeouts) and THROTTLING (SlowDown, 429) errors up to `maxAttempts`, honouring a Retry-After hint up to
 * `maxDelayMs`. Unlike the SDK's standard strategy it keeps no shared retry quota, so one bad minute does not
 * stop retries for the rest of the process; the attempt limit bounds each request instead.
 */
export class BackoffRetryStrategy implements SdkRetryStrategy {
  readonly options: BackoffOptions;

  constructor(options: Partial<BackoffOptions> = {}) {
    this.options = { ...DEFAULT_BACKOFF, ...options };
  }

  async acquireInitialRetryToken(): Promise<SdkRetryToken> {
    return new BackoffToken(0, 0);
  }

  async refreshRetryTokenForRetry(
    token: SdkRetryToken,
    errorInfo: SdkRetryErrorInfo,
  ): Promise<SdkRetryToken> {
    const retries = token.getRetryCount();
    const retryable = errorInfo.errorType === "TRANSIENT" || errorInfo.errorType === "THROTTLING";
    if (!retryable || retries + 1 >= this.options.maxAttempts) {
      throw new VdetError(
        STORAGE_ERRORS.STORAGE_NO_RETRY,
        "no retry: the error is not retryable or the attempts are used up",
      );
    }
    const base =
      errorInfo.errorType === "THROTTLING" ? this.options.throttlingBaseDelayMs : this.options.baseDelayMs;
    let delayMs = backoffDelayMs(retries, base, this.options.maxDelayMs);
    if (errorInfo.retryAfterHint instanceof Date) {
      const hintMs = errorInfo.retryAfterHint.getTime() - Date.now();
      delayMs = Math.max(delayMs, Math.min(hintMs, this.options.maxDelayMs));
    }
    return new BackoffToken(retries + 1, delayMs);
  }

  recordSuccess(): void {}
}
