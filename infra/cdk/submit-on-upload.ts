// The serverless front door: S3 "object created" events → one vdet job per uploaded video, submitted to the api.
// S3 delivers events at least once; the idempotency key (bucket, key, ETag) makes a redelivery return the same
// job. A spec the api rejects (4xx) is logged and skipped, since retrying cannot help; an unreachable api or a 5xx
// throws, so Lambda retries the event and finally hands it to the dead-letter queue.

import { createHash } from "node:crypto";
import { extname } from "node:path";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { JobSpecInput } from "@vdet/protocol";
import { VIDEO_EXTENSIONS } from "@vdet/storage/video-extensions";

/** The fields of an S3 event notification record that matter here (event format 2.x). */
export interface S3EventRecord {
  eventName: string;
  s3: {
    bucket: { name: string };
    object: { key: string; size?: number; eTag?: string; sequencer?: string };
  };
}
export interface S3Event {
  Records?: S3EventRecord[];
}

export interface SubmitConfig {
  /** Base URL of the vdet api, e.g. http://internal-alb:80 */
  apiUrl: string;
  token: string;
  outputBucket: string;
  /** Results of s3://in/a/b.mp4 go to s3://<outputBucket>/<outputPrefix>a/b/ */
  outputPrefix: string;
  fps: number;
  phi: number;
}

export type SubmitResult =
  | { object: string; outcome: "submitted" | "existing"; jobId: string }
  | { object: string; outcome: "skipped"; reason: string }
  | { object: string; outcome: "rejected"; status: number; error: string };

/** S3 event keys are URL-encoded with '+' for spaces. */
export function decodeS3Key(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, " "));
}

export function jobSpecFor(record: S3EventRecord, config: SubmitConfig): JobSpecInput {
  const bucket = record.s3.bucket.name;
  const key = decodeS3Key(record.s3.object.key);
  const stem = key.slice(0, key.length - extname(key).length);
  const identity = `${bucket}\n${key}\n${record.s3.object.eTag ?? record.s3.object.sequencer ?? ""}`;
  return {
    input: `s3://${bucket}/${key}`,
    output: `s3://${config.outputBucket}/${config.outputPrefix}${stem}/`,
    mode: "archive",
    sampling: { fps: config.fps },
    phi: { min: config.phi, max: config.phi },
    idempotencyKey: `s3-${createHash("sha256").update(identity).digest("hex").slice(0, 40)}`,
  };
}

export class ApiUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ApiUnavailableError";
  }
}

export async function submitUploads(event: S3Event, config: SubmitConfig): Promise<SubmitResult[]> {
  const results: SubmitResult[] = [];
  for (const record of event.Records ?? []) {
    const object = `s3://${record.s3.bucket.name}/${decodeS3Key(record.s3.object.key)}`;
    if (!record.eventName.startsWith("ObjectCreated:")) {
      results.push({ object, outcome: "skipped", reason: `event ${record.eventName}` });
      continue;
    }
    if (!VIDEO_EXTENSIONS.includes(extname(object).toLowerCase())) {
      results.push({ object, outcome: "skipped", reason: "not a video file extension" });
      continue;
    }
    let response: Response;
    try {
      response = await fetch(new URL("/jobs", config.apiUrl), {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${config.token}` },
        body: JSON.stringify(jobSpecFor(record, config)),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      throw new ApiUnavailableError(`vdet api at ${config.apiUrl} did not answer for ${object}: ${error}`);
    }
    const body = (await response.json().catch(() => ({}))) as {
      job?: { id: string };
      created?: boolean;
      error?: string;
    };
    if (response.status >= 500 || response.status === 401 || response.status === 429) {
      throw new ApiUnavailableError(
        `vdet api answered ${response.status} for ${object}: ${body.error ?? "no error text"}`,
      );
    }
    if (!response.ok || !body.job) {
      results.push({ object, outcome: "rejected", status: response.status, error: body.error ?? "" });
      continue;
    }
    results.push({ object, outcome: body.created ? "submitted" : "existing", jobId: body.job.id });
  }
  return results;
}

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`set ${name} in the function's environment (the CDK stack does)`);
  return value;
}

let token: Promise<string> | undefined;
/** The api token, read once per Lambda container from Secrets Manager. */
function apiToken(): Promise<string> {
  token ??= new SecretsManagerClient({})
    .send(new GetSecretValueCommand({ SecretId: env("VDET_API_TOKEN_SECRET_ARN") }))
    .then((out) => {
      if (!out.SecretString) throw new Error("the api token secret has no string value");
      return out.SecretString;
    });
  token.catch(() => {
    token = undefined;
  });
  return token;
}

export async function handler(event: S3Event): Promise<SubmitResult[]> {
  const results = await submitUploads(event, {
    apiUrl: env("VDET_API_URL"),
    token: await apiToken(),
    outputBucket: env("VDET_OUTPUT_BUCKET"),
    outputPrefix: process.env.VDET_OUTPUT_PREFIX ?? "",
    fps: Number(process.env.VDET_FPS ?? "5"),
    phi: Number(process.env.VDET_PHI ?? "0"),
  });
  for (const r of results) console.log(JSON.stringify(r));
  return results;
}
