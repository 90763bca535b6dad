// S3 client settings, read by @vdet/storage when a process first touches S3. Credentials are left to the AWS
// SDK's default provider chain, so nothing secret is read here.

import { z } from "zod";
import { S3_DEFAULTS } from "./defaults.ts";
import { envBoolean, envPositiveInt } from "./grammar.ts";
import { ConfigError, loadConfig } from "./load.ts";

const endpoint = z.string().superRefine((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: "custom", message: "is not a URL: write e.g. http://127.0.0.1:9000" });
    return;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    ctx.addIssue({ code: "custom", message: "must be an http:// or https:// URL" });
  }
});

export const s3SettingsSchema = z.object({
  /** Custom endpoint (MinIO, s3rver, LocalStack); unset for AWS. */
  s3Endpoint: endpoint.optional(),
  s3Region: z.string().optional(),
  /** `endpoint/bucket/key` instead of `bucket.endpoint/key`; default: on with a custom endpoint. */
  s3ForcePathStyle: envBoolean.optional(),
  s3MaxAttempts: envPositiveInt.default(S3_DEFAULTS.maxAttempts),
  /** A request fails (and is retried) when its connection is idle this long, body transfer included. */
  s3IdleTimeoutMs: envPositiveInt.default(S3_DEFAULTS.idleTimeoutMs),
});

export interface S3Settings {
  endpoint: string | undefined;
  region: string;
  forcePathStyle: boolean;
  maxAttempts: number;
  idleTimeoutMs: number;
  connectionTimeoutMs: number;
}

/**
 * Reads `VDET_S3_ENDPOINT`, `AWS_REGION` (or `AWS_DEFAULT_REGION`), `VDET_S3_FORCE_PATH_STYLE`,
 * `VDET_S3_MAX_ATTEMPTS` and `VDET_S3_IDLE_TIMEOUT_MS`. Throws ConfigError naming the variable to fix.
 */
export function loadS3Settings(env: Record<string, string | undefined>): S3Settings {
  const s = loadConfig(s3SettingsSchema, env);
  const region = s.s3Region ?? (s.s3Endpoint ? S3_DEFAULTS.customEndpointRegion : undefined);
  if (region === undefined) {
    throw new ConfigError("no AWS region: set AWS_REGION (for example AWS_REGION=eu-west-1)");
  }
  return {
    endpoint: s.s3Endpoint,
    region,
    forcePathStyle: s.s3ForcePathStyle ?? s.s3Endpoint !== undefined,
    maxAttempts: s.s3MaxAttempts,
    idleTimeoutMs: s.s3IdleTimeoutMs,
    connectionTimeoutMs: S3_DEFAULTS.connectionTimeoutMs,
  };
}
