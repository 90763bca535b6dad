// S3 client settings from the environment, and the one place an S3Client is built. Credentials are left to
// the SDK's default provider chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, AWS_PROFILE and
// ~/.aws, SSO, web identity, container and instance metadata), so nothing secret passes through here.

import { S3Client } from "@aws-sdk/client-s3";
import { loadS3Settings } from "@vdet/config";
import { type BackoffOptions, BackoffRetryStrategy } from "./retry.ts";

export interface S3Config {
  /** Custom endpoint (MinIO, s3rver, LocalStack); unset for AWS. */
  endpoint?: string;
  region: string;
  /** `endpoint/bucket/key` instead of `bucket.endpoint/key`; needed by most S3-compatible servers. */
  forcePathStyle: boolean;
  /** Attempts per request, the first included. */
  maxAttempts: number;
  /** A request fails (and is retried) when its connection is idle this long, body transfer included. */
  idleTimeoutMs: number;
  connectionTimeoutMs: number;
  /** Explicit credentials (tests); unset means the SDK's default chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Backoff tuning beyond maxAttempts (tests use short delays). */
  backoff?: Partial<Omit<BackoffOptions, "maxAttempts">>;
}

type Env = Record<string, string | undefined>;

/**
 * Reads `VDET_S3_ENDPOINT`, `AWS_REGION` (or `AWS_DEFAULT_REGION`), `VDET_S3_FORCE_PATH_STYLE` (default: on
 * with a custom endpoint), `VDET_S3_MAX_ATTEMPTS` and `VDET_S3_IDLE_TIMEOUT_MS` through @vdet/config's schema.
 * Throws ConfigError naming the variable to fix.
 */
export function s3ConfigFromEnv(env: Env = process.env): S3Config {
  return loadS3Settings(env);
}

/** The configuration as it may be printed: no secrets, and where credentials come from. */
export function describeS3Config(
  config: S3Config,
  env: Env = process.env,
): Record<string, string | number | boolean> {
  let credentials = "AWS SDK default chain";
  if (config.credentials) credentials = "explicit";
  else if (env.AWS_ACCESS_KEY_ID)
    credentials = "AWS SDK default chain (AWS_ACCESS_KEY_ID set in the environment)";
  else if (env.AWS_PROFILE) credentials = `AWS SDK default chain (profile ${env.AWS_PROFILE})`;
  return {
    endpoint: config.endpoint ?? "AWS",
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    maxAttempts: config.maxAttempts,
    idleTimeoutMs: config.idleTimeoutMs,
    credentials,
  };
}

/** An S3Client with our retry strategy and timeouts. The caller owns it: `client.destroy()` when done. */
export function createS3Client(config: S3Config): S3Client {
  return new S3Client({
    endpoint: config.endpoint,
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    credentials: config.credentials,
    maxAttempts: config.maxAttempts,
    retryStrategy: new BackoffRetryStrategy({ ...config.backoff, maxAttempts: config.maxAttempts }),
    // Options for the SDK's own NodeHttpHandler. An idle (socket) timeout, not a total one: an 8 MiB part on
    // a slow link may take long, but a connection that goes quiet is dead. The SDK retries its TimeoutError.
    requestHandler: { connectionTimeout: config.connectionTimeoutMs, socketTimeout: config.idleTimeoutMs },
  });
}
