// The api's routes as zod schemas built from the protocol's: each validates its route's request (params,
// querystring, body) and documents the route; /openapi.json is generated from the same schemas (openapi.ts).

import { defineErrorCodes, VdetError } from "@vdet/errors";
import {
  ERROR_SUBJECTS,
  issuesOf,
  isTerminal,
  JOB_STATES,
  jobIdSchema,
  jobManifestSchema,
  jobRecordSchema,
  jobSpecSchema,
  jobSummarySchema,
  jobWaitingSchema,
  notificationDeliverySchema,
  PHI_VALUES,
  phiLabel,
  streamPartSchema,
  streamSpecSchema,
  streamViewSchema,
} from "@vdet/protocol";
import type { FastifySchema, FastifySchemaCompiler } from "fastify";
import { z } from "zod";

export const errorBodySchema = z
  .object({
    error: z.string(),
    /** Each bad field of a job spec. */
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .describe("what went wrong and what to do");

/** A response with a JSON body: the zod schema of the body and a description. */
const json = (description: string, schema: z.ZodType) => schema.describe(description);
/** A response of another media type (NDJSON, video, text). */
const media = (description: string, contentType: string, format?: "binary") => ({
  description,
  content: { [contentType]: { schema: { type: "string", ...(format ? { format } : {}) } } },
});

const jobParams = z.object({ id: jobIdSchema.describe("a job id as returned by POST /jobs") });
const jobBody = (description: string) => json(description, z.object({ job: jobRecordSchema }));
const notFound = json("no such job", errorBodySchema);

const streamParams = z.object({ id: jobIdSchema.describe("a stream id as returned by POST /streams") });
const noStream = json("no such stream", errorBodySchema);
/** GET /jobs/:id/notifications and GET /streams/:id/notifications answer the same log (jobDeliveries). */
const deliveryLog = json(
  "the delivery log (the last 200 attempts of each kind: job events, stream events)",
  z.object({ deliveries: z.array(notificationDeliverySchema) }),
);

/** What the dashboard shows from the protocol: the job states (terminal ones marked) and the φ names. */
export const metaSchema = z.object({
  jobStates: z.array(z.object({ state: z.enum(JOB_STATES), terminal: z.boolean() })),
  phis: z.array(z.object({ phi: z.literal(PHI_VALUES), label: z.string() })),
  /** What each stage's errors are about, in the user's terms (input, model, output). */
  errorSubjects: z.record(z.string(), z.string()),
});
export type Meta = z.infer<typeof metaSchema>;

/** How many jobs GET /jobs returns at most per page. */
const LIST_LIMIT = { min: 1, max: 500, default: 50 } as const;
const limitMessage = `limit must be an integer from ${LIST_LIMIT.min} to ${LIST_LIMIT.max}`;

/** The query of a paged list (GET /jobs, GET /streams): a page size and the previous page's `next`. */
const pageQuerySchema = z.object({
  limit: z.coerce
    .number({ error: limitMessage })
    .int(limitMessage)
    .min(LIST_LIMIT.min, limitMessage)
    .max(LIST_LIMIT.max, limitMessage)
    .default(LIST_LIMIT.default),
  after: z.string().optional().describe("`next` of the previous page"),
});

/** Route schemas by route. `summary` marks a route as documented; routes without one are left out of the docs. */
export const routeSchemas = {
  createJob: {
    summary: "Submit a job (idempotent with idempotencyKey)",
    body: jobSpecSchema,
    response: {
      201: json("created", z.object({ job: jobRecordSchema, created: z.literal(true) })),
      200: json(
        "a job with this idempotencyKey exists",
        z.object({ job: jobRecordSchema, created: z.literal(false) }),
      ),
      400: json("invalid spec, naming each bad field", errorBodySchema),
      401: json("missing or wrong token", errorBodySchema),
      415: json("the body is not JSON", errorBodySchema),
      429: json(
        "too many jobs queued or running (VDET_MAX_ACTIVE_JOBS); retry after retry-after seconds",
        errorBodySchema,
      ),
    },
  },
  listJobs: {
    summary: "List jobs, newest first",
    querystring: pageQuerySchema,
    response: {
      200: json(
        "a page of jobs",
        z.object({
          jobs: z.array(jobRecordSchema),
          next: z.string().nullable().describe("null on the last page"),
        }),
      ),
      400: json("a bad limit", errorBodySchema),
    },
  },
  getJob: {
    summary: "A job's state, progress and errors",
    params: jobParams,
    response: {
      200: json(
        "the job; `waiting` while its frames are queued and no worker runs",
        z.object({
          job: jobRecordSchema,
          waiting: jobWaitingSchema.optional(),
          stalled: z
            .string()
            .optional()
            .describe(
              "`stalled: no worker has taken frames for N s`, `no aggregator`: no process serves the job",
            ),
        }),
      ),
      404: notFound,
    },
  },
  cancelJob: {
    summary: "Cancel a job: decoding stops, what is done is written",
    params: jobParams,
    response: {
      202: jobBody("cancel requested"),
      404: notFound,
      409: json("the job has already ended", errorBodySchema),
    },
  },
  createStream: {
    summary: "Add a stream: a live source watched until it is removed (a latency job underneath)",
    body: streamSpecSchema,
    response: {
      201: json("created", z.object({ stream: streamViewSchema, created: z.literal(true) })),
      200: json(
        "a stream with this idempotencyKey exists",
        z.object({ stream: streamViewSchema, created: z.literal(false) }),
      ),
      400: json("invalid stream spec, naming each bad field", errorBodySchema),
      401: json("missing or wrong token", errorBodySchema),
      409: json("the idempotencyKey names a job that is not a stream", errorBodySchema),
      415: json("the body is not JSON", errorBodySchema),
      429: json("too many jobs and streams queued or running (VDET_MAX_ACTIVE_JOBS)", errorBodySchema),
    },
  },
  listStreams: {
    summary: "List streams, newest first, with their state, frame rates, deadline hit rate and φ",
    querystring: pageQuerySchema,
    response: {
      200: json(
        "a page of streams",
        z.object({
          streams: z.array(streamViewSchema),
          next: z.string().nullable().describe("null on the last page"),
        }),
      ),
      400: json("a bad limit", errorBodySchema),
    },
  },
  getStream: {
    summary: "A stream, with the tracks.jsonl parts its rolling manifest lists",
    params: streamParams,
    response: {
      200: json(
        "the stream; `parts` from tracks.parts.json (empty before the first part is begun)",
        z.object({
          stream: streamViewSchema,
          parts: z.array(streamPartSchema),
          unlisted: z.number().int().describe("older parts the rolling manifest no longer lists"),
        }),
      ),
      404: noStream,
    },
  },
  removeStream: {
    summary: "Remove a stream: decoding stops, the frames read are written and its last part is completed",
    params: streamParams,
    response: {
      202: json(
        "removal requested; the stream is `stopped` once its output is final",
        z.object({ stream: streamViewSchema }),
      ),
      404: noStream,
      409: json("the stream has already stopped", errorBodySchema),
    },
  },
  notifications: {
    summary:
      "The job's notification deliveries (job-spec notify): every attempt, oldest first; a live job's stream events too",
    params: jobParams,
    response: {
      200: deliveryLog,
      404: notFound,
    },
  },
  streamNotifications: {
    summary:
      "The stream's notification deliveries (notify): stream.state, stream.gap.* and the job.* event at its end, oldest first",
    params: streamParams,
    response: {
      200: deliveryLog,
      404: noStream,
    },
  },
  summary: {
    summary: "summary.json: tracks per class and per track (when the job has ended)",
    params: jobParams,
    response: {
      200: json("summary.json", jobSummarySchema),
      404: json("no job, or not written yet", errorBodySchema),
    },
  },
  manifest: {
    summary: "manifest.json: spec, video, frame counts, φ ranges, timings (when the job has ended)",
    params: jobParams,
    response: {
      200: json("manifest.json", jobManifestSchema),
      404: json("no job, or not written yet", errorBodySchema),
    },
  },
  tracks: {
    summary: "tracks.jsonl: one line per sampled frame (while the job runs: the parts written so far)",
    params: jobParams,
    response: {
      200: media(
        "NDJSON, one tracks.jsonl line per frame; header x-vdet-complete says whether the file is final",
        "application/x-ndjson",
      ),
      404: notFound,
    },
  },
  events: {
    summary:
      "events.jsonl of a job with zones: enter, exit, loiter, cross-in, cross-out (while it runs: the parts so far)",
    params: jobParams,
    response: {
      200: media(
        "NDJSON, one event per line (docs/analytics.md); header x-vdet-complete says whether the file is final",
        "application/x-ndjson",
      ),
      404: json("no such job, or a job without zones", errorBodySchema),
    },
  },
  analytics: {
    summary:
      "analytics.json of a job with zones: counts, occupancy, dwell, per-minute series (updated while it runs)",
    params: jobParams,
    response: {
      200: media("analytics.json (docs/analytics.md)", "application/json"),
      404: json("no such job, a job without zones, or none written yet", errorBodySchema),
    },
  },
  video: {
    summary: "The job's source video (Range requests supported; http(s) inputs redirect)",
    params: jobParams,
    response: {
      200: media("video", "video/mp4", "binary"),
      206: media("a byte range", "video/mp4", "binary"),
      404: json("not playable from the api", errorBodySchema),
    },
  },
  preview: {
    summary: "preview.mp4, the annotated video (jobs submitted with preview: true)",
    params: jobParams,
    response: { 200: media("video/mp4", "video/mp4", "binary"), 404: json("no preview", errorBodySchema) },
  },
  meta: {
    summary: "Job states (which are terminal) and φ names, for clients such as the dashboard",
    response: { 200: json("states and φ", metaSchema) },
  },
  metrics: {
    summary: "Prometheus metrics (text format)",
    response: { 200: media("metrics", "text/plain") },
  },
  healthz: {
    summary: "Liveness",
    security: [],
    response: { 200: json("alive", z.object({ ok: z.literal(true) })) },
  },
  readyz: {
    summary: "Readiness (Redis answers)",
    security: [],
    response: {
      200: json("ready", z.object({ ready: z.literal(true) })),
      503: json("not ready", z.object({ ready: z.literal(false), error: z.string() })),
    },
  },
} satisfies Record<string, FastifySchema & { summary: string }>;

/** The request part that failed its schema, and each bad field. Sent as a 400 by the server's error handler. */
const API_ERRORS = defineErrorCodes("api", {
  REQUEST_INVALID: {
    retryable: false,
    statusCode: 400,
    description: "a request part fails its route's schema",
  },
});

export class RequestValidationError extends VdetError {
  constructor(
    readonly part: string,
    readonly issues: { path: string; message: string }[],
  ) {
    super(API_ERRORS.REQUEST_INVALID, issues.map((i) => i.message).join("; "));
  }
}

/** Route options that validate with the route's zod schemas (the validated, defaulted value replaces the part). */
export function zodRoute<S extends FastifySchema>(schema: S) {
  // Fastify hands each part's schema back as given: here, always a zod schema.
  const validatorCompiler: FastifySchemaCompiler<FastifySchema> =
    ({ schema: part, httpPart }) =>
    (data: unknown) => {
      const result = (part as unknown as z.ZodType).safeParse(data);
      return result.success
        ? { value: result.data }
        : { error: new RequestValidationError(httpPart ?? "request", issuesOf(result.error)) };
    };
  // Responses are documented, not re-validated: they are sent as built (JSON.stringify, Fastify's default).
  const serializerCompiler = () => (data: unknown) => JSON.stringify(data);
  return { schema, validatorCompiler, serializerCompiler };
}

/** GET /meta: the protocol's job states and φ, so that clients hold no copy of them. */
export const META: Meta = {
  jobStates: JOB_STATES.map((state) => ({ state, terminal: isTerminal(state) })),
  phis: PHI_VALUES.map((phi) => ({ phi, label: phiLabel(phi) })),
  errorSubjects: { ...ERROR_SUBJECTS },
};
