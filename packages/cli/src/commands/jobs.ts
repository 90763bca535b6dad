// `vdet submit|status|cancel`: talk to a running api (VDET_API_URL, VDET_API_TOKEN). `submit` takes a video, or
// with --archive a directory (or glob) of videos and submits one job per video, idempotently: each job's
// idempotency key is derived from the input and settings, so a re-run does not duplicate jobs.

import { createHash } from "node:crypto";
import { readdirSync, statSync } from "node:fs";
import { extname, join, resolve } from "node:path";
import type { ZonesFile } from "@vdet/analytics";
import {
  describeJobError,
  isTerminal,
  type JobRecord,
  type JobSpecInput,
  type JobWaiting,
} from "@vdet/protocol";
import { createS3Client, listS3Videos, s3ConfigFromEnv, VIDEO_EXTENSIONS } from "@vdet/storage";
import { type Command, InvalidArgumentError } from "commander";
import { globSync } from "tinyglobby";
import { ApiRequestError, NoVideosError } from "../errors.ts";
import { absoluteLocation, checkLocalOutput } from "../local-paths.ts";
import { integer, positiveNumber, probability } from "../options.ts";
import { createProgress } from "../progress.ts";
import { readZonesFile } from "../zones-file.ts";

export interface ClientOptions {
  api: string;
  token?: string;
}

export async function call(
  client: ClientOptions,
  method: string,
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  let response: Response;
  try {
    response = await fetch(new URL(path, client.api), {
      method,
      headers: {
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...(client.token ? { authorization: `Bearer ${client.token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiRequestError(
      `cannot reach the vdet api at ${client.api} (${(error as Error).message}); is \`vdet api\` running?`,
    );
  }
  const payload = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (response.status === 401)
    throw new ApiRequestError(
      `the api at ${client.api} refused the request (401): ${client.token ? "wrong token" : "no token given"}; ` +
        "set VDET_API_TOKEN or pass --token with the token the api was started with",
    );
  if (!response.ok)
    throw new ApiRequestError(
      `api answered ${response.status}: ${String(payload.error ?? response.statusText)}`,
    );
  return payload;
}

export function clientOptions(o: { api?: string; token?: string }): ClientOptions {
  return {
    api: o.api ?? process.env.VDET_API_URL ?? "http://127.0.0.1:8080",
    token: o.token ?? process.env.VDET_API_TOKEN,
  };
}

export function addClientOptions(command: Command): Command {
  return command
    .option("--api <url>", "api address (VDET_API_URL, default http://127.0.0.1:8080)")
    .option("--token <token>", "bearer token (VDET_API_TOKEN)");
}

/** A stable output folder per video: its name plus a short hash of its full path (names can repeat). */
function outputFolder(video: string): string {
  const name = video
    .split("/")
    .at(-1)!
    .replace(/\.[^.]+$/, "")
    .replace(/[^A-Za-z0-9._-]/g, "_");
  return `${name}-${createHash("sha256").update(video).digest("hex").slice(0, 8)}`;
}

/** Videos in a directory (recursively) or matching a glob, sorted. */
export function findVideos(pattern: string): string[] {
  const path = resolve(pattern);
  let files: string[];
  try {
    if (statSync(path).isDirectory()) {
      files = readdirSync(path, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => join(e.parentPath, e.name));
    } else {
      files = [path];
    }
  } catch {
    files = globSync(pattern, { absolute: true }); // not a path: a glob
  }
  return files.filter((f) => VIDEO_EXTENSIONS.includes(extname(f).toLowerCase())).sort();
}

interface SubmitOptions {
  api?: string;
  token?: string;
  out: string;
  budget?: number;
  archive?: boolean;
  phi?: string;
  maxPhi?: string;
  fps?: number;
  scoreThreshold?: number;
  classes?: string;
  priority?: number;
  wait?: boolean;
  idempotencyKey?: string;
  json?: boolean;
  preview?: boolean;
  targetFps?: number;
  finishBy?: string;
  maxFrames?: number;
  zones?: string;
  refine?: boolean;
  overload?: "drop" | "queue";
  notifyWebhook?: string;
  notifySns?: string;
  notifyTag?: string;
}

function overloadPolicy(value: string): "drop" | "queue" {
  if (value !== "drop" && value !== "queue")
    throw new InvalidArgumentError(`--overload must be drop or queue, not "${value}"`);
  return value;
}

function specFor(input: string, output: string, o: SubmitOptions, zones?: ZonesFile): JobSpecInput {
  const spec: JobSpecInput = {
    input,
    output,
    sampling: { fps: o.fps ?? 5 },
    scoreThreshold: o.scoreThreshold,
    classes: o.classes?.split(",").map((c) => c.trim()),
    priority: o.priority,
    preview: o.preview,
    maxFrames: o.maxFrames,
    zones,
    refine: o.refine,
    overload: o.overload,
    ...(o.notifyWebhook !== undefined || o.notifySns !== undefined
      ? { notify: { webhook: o.notifyWebhook, snsTopicArn: o.notifySns, tag: o.notifyTag } }
      : {}),
    ...(o.budget !== undefined
      ? { latencyBudgetMs: o.budget, phi: { min: o.phi ?? 0, max: o.maxPhi ?? 3 } }
      : o.targetFps !== undefined || o.finishBy !== undefined
        ? {
            mode: "archive" as const,
            phi: { min: o.phi ?? 0, max: o.maxPhi ?? 3 },
            throughput:
              o.targetFps !== undefined ? { framesPerSecond: o.targetFps } : { finishBy: o.finishBy },
          }
        : { mode: "archive" as const, phi: { min: o.phi ?? 0, max: o.phi ?? 0 } }),
  };
  const key = createHash("sha256").update(JSON.stringify(spec)).digest("hex").slice(0, 32);
  return { ...spec, idempotencyKey: o.idempotencyKey ?? `auto-${key}` };
}

/** GET /jobs/:id: the job, and why it stands still when no worker runs. */
type JobResponse = { job: JobRecord; waiting?: JobWaiting; stalled?: string };

function waitingLine(waiting: JobWaiting): string {
  return `${waiting.reason}: ${waiting.waitingChunks} segment(s) or frame chunk(s) queued, no worker connected (the autoscaler starts one on backlog.frames)`;
}

async function waitFor(client: ClientOptions, id: string): Promise<JobRecord> {
  const progress = createProgress("frames");
  for (;;) {
    const { job, waiting, stalled } = (await call(
      client,
      "GET",
      `/jobs/${encodeURIComponent(id)}`,
    )) as JobResponse;
    const done = job.progress.written + job.progress.failed;
    progress.update(
      done,
      job.progress.total,
      `${stalled ?? (waiting ? waiting.reason : job.state)}, ${job.progress.decoded} decoded`,
    );
    if (isTerminal(job.state)) {
      progress.stop();
      return job;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export function registerJobCommands(program: Command): void {
  addClientOptions(
    program
      .command("submit")
      .description(
        "submit a video job to the api (or, with --archive, one job per video in a directory/glob)",
      )
      .argument("<input>", "video path or URL; with --archive: a directory or glob")
      .requiredOption(
        "--out <location>",
        "s3://bucket/prefix or a directory (an archive adds one folder per video)",
      ),
  )
    .option("--budget <ms>", "latency budget per frame (latency mode)", integer("--budget", 10, 3_600_000))
    .option(
      "--overload <policy>",
      "with --budget: drop (skip frames that can no longer make their deadline) or queue (run them late); default drop for live inputs, queue for files",
      overloadPolicy,
    )
    .option("--notify-webhook <url>", "POST the job's end to this https:// URL (signed; docs/live.md)")
    .option("--notify-sns <arn>", "publish the job's end to this SNS topic")
    .option("--notify-tag <tag>", "copied into the notifications")
    .option("--archive", "throughput first, no deadline; a directory or glob submits every video in it")
    .option("--phi <φ>", "φ (archive) or smallest φ (with --budget)")
    .option("--max-phi <φ>", "largest φ with --budget (default 3); with a throughput target, the archive's")
    .option(
      "--target-fps <n>",
      "archive: frames/s to keep; workers run the largest φ up to --max-phi that does",
      positiveNumber("--target-fps"),
    )
    .option("--finish-by <time>", "archive: ISO date-time with offset by which every frame should be done")
    .option("--fps <n>", "frames per second to sample (default 5)", positiveNumber("--fps"))
    .option("--score-threshold <p>", "minimum detection score", probability)
    .option("--classes <names>", "keep only these classes, e.g. person,car")
    .option("--priority <n>", "1 (first) … 10", integer("--priority", 1, 10))
    .option(
      "--max-frames <n>",
      "stop after this many sampled frames (a quick test job)",
      integer("--max-frames", 1, 10_000_000),
    )
    .option("--idempotency-key <key>", "same key, same job (default: derived from input and settings)")
    .option("--wait", "wait for the job to finish, showing progress")
    .option("--preview", "also write preview.mp4 next to the results (not for live streams)")
    .option(
      "--zones <file>",
      "zones.json: zones and lines to count (writes events.jsonl and analytics.json; docs/analytics.md)",
    )
    .option(
      "--refine",
      "archive jobs: also write tracks.refined.mot.txt, the tracks after offline refinement (gaps filled, tracklets joined, smoothed)",
    )
    .option("--json", "one JSON object per job on stdout (with --wait: the finished job)")
    .action(async (input: string, o: SubmitOptions) => {
      if (o.budget !== undefined && o.archive)
        throw new InvalidArgumentError("give --budget or --archive, not both");
      if (o.budget !== undefined && (o.targetFps !== undefined || o.finishBy !== undefined))
        throw new InvalidArgumentError(
          "--target-fps and --finish-by are for archive jobs, not with --budget",
        );
      if (o.targetFps !== undefined && o.finishBy !== undefined)
        throw new InvalidArgumentError("give --target-fps or --finish-by, not both");
      const client = clientOptions(o);
      // Checked here, before any job is submitted; the api checks the same schema (the job spec embeds it).
      const zones = o.zones !== undefined ? readZonesFile(o.zones) : undefined;
      // Local paths are made absolute here: the api, producer and aggregator run in directories of their own.
      checkLocalOutput(o.out);
      o.out = absoluteLocation(o.out);
      const target = o.archive ? input : absoluteLocation(input);
      const ids: string[] = [];
      const submitAll = async (videos: readonly string[], many: boolean) => {
        for (const video of videos) {
          const output = many ? `${o.out.replace(/\/$/, "")}/${outputFolder(video)}` : o.out;
          const { job, created } = (await call(
            client,
            "POST",
            "/jobs",
            specFor(video, output, o, zones),
          )) as {
            job: JobRecord;
            created: boolean;
          };
          ids.push(job.id);
          if (o.json && !o.wait) process.stdout.write(`${JSON.stringify({ job, created, input: video })}\n`);
          else if (!o.json)
            process.stdout.write(`${job.id} ${created ? "submitted" : "already submitted"} ${video}\n`);
        }
      };
      if (o.archive && input.startsWith("s3://")) {
        // An S3 prefix: one page of the listing at a time, so a huge archive starts at once.
        const s3 = createS3Client(s3ConfigFromEnv());
        for await (const page of listS3Videos(input, s3, { pageSize: 500 })) {
          await submitAll(
            page.map((v) => v.uri),
            true,
          );
        }
      } else if (o.archive) {
        const videos = findVideos(input);
        await submitAll(videos, videos.length > 1);
      } else {
        await submitAll([target], false);
      }
      if (ids.length === 0) throw new NoVideosError(`no videos found in ${input}`);
      if (o.wait) {
        for (const id of ids) {
          const job = await waitFor(client, id);
          if (o.json) process.stdout.write(`${JSON.stringify({ job })}\n`);
          else {
            // Why first: the job's errors, in user terms, then the outcome.
            for (const error of job.errors) process.stderr.write(`error: ${describeJobError(error)}\n`);
            process.stdout.write(
              `${id} ${job.state}: ${job.progress.written} frames written` +
                (job.progress.written > 0 || job.state === "completed"
                  ? `, results in ${job.output}\n`
                  : "\n"),
            );
          }
          if (job.state !== "completed") process.exitCode = 1;
        }
      }
    });

  addClientOptions(program.command("status").description("show a job's state and progress").argument("<id>"))
    .option("--json", "machine-readable output")
    .action(async (id: string, o: { api?: string; token?: string; json?: boolean }) => {
      const { job, waiting, stalled } = (await call(
        clientOptions(o),
        "GET",
        `/jobs/${encodeURIComponent(id)}`,
      )) as JobResponse;
      if (o.json) {
        process.stdout.write(`${JSON.stringify(job, null, 2)}\n`);
        return;
      }
      const p = job.progress;
      process.stdout.write(
        `${job.id}: ${job.state}${stalled ? ` (${stalled})` : ""}\n  decoded ${p.decoded}, inferred ${p.inferred}, written ${p.written}, failed ${p.failed}` +
          `${p.total === null ? "" : ` of ${p.total}`}\n  output ${job.output}\n` +
          (waiting ? `  ${waitingLine(waiting)}\n` : "") +
          job.errors.map((e) => `  error: ${describeJobError(e)}\n`).join(""),
      );
    });

  addClientOptions(
    program.command("cancel").description("cancel a job: stop decoding, write what is done").argument("<id>"),
  ).action(async (id: string, o: { api?: string; token?: string }) => {
    await call(clientOptions(o), "DELETE", `/jobs/${encodeURIComponent(id)}`);
    process.stdout.write(`${id}: cancel requested\n`);
  });
}
