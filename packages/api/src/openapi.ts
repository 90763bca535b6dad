// The OpenAPI document of the HTTP API, generated from the protocol's zod schemas (zod 4's toJSONSchema), and
// served with Swagger UI at /docs (the document itself at /openapi.json).

import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { jobErrorSchema, jobSpecSchema, WAITING_FOR_WORKER } from "@vdet/protocol";
import type { FastifyInstance } from "fastify";
import { z } from "zod";

/** JSON Schema of a zod schema, without the $schema key (OpenAPI 3.1 documents use JSON Schema 2020-12). */
function jsonSchema(schema: z.ZodType, io: "input" | "output" = "output"): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  return rest;
}

const progressSchema = z.object({
  decoded: z.number().int().describe("sampled frames decoded and queued"),
  inferred: z.number().int().describe("frames run through the model"),
  written: z.number().int().describe("frames written to tracks.jsonl"),
  failed: z.number().int().describe("frames that failed (reasons in errors)"),
  deadlineMisses: z.number().int().describe("latency jobs: frames ready after their deadline"),
  total: z.number().int().nullable().describe("sampled frames in all, once decoding has finished"),
});

const jobSchema = z.object({
  id: z.string(),
  state: z.enum(["queued", "running", "completed", "failed", "cancelled"]),
  createdAtMs: z.number(),
  updatedAtMs: z.number(),
  progress: progressSchema,
  errors: z.array(jobErrorSchema),
  output: z.string(),
  cancelRequested: z.boolean(),
  video: z
    .object({
      width: z.number(),
      height: z.number(),
      fps: z.number().nullable(),
      durationMs: z.number().nullable(),
      codec: z.string().nullable(),
    })
    .nullable(),
});

const errorBody = { $ref: "#/components/schemas/Error" };
const json = (schema: object) => ({ content: { "application/json": { schema } } });
const idParam = [{ name: "id", in: "path", required: true, schema: { type: "string" } }];
const jobRef = { $ref: "#/components/schemas/Job" };

export function openApiDocument(): Record<string, unknown> {
  const jobSpec = jsonSchema(jobSpecSchema, "input");
  return {
    openapi: "3.1.0",
    info: {
      title: "vdet API",
      version: "0.1.0",
      description:
        "Submit video jobs, follow their progress, read their results. Every route except /healthz, /readyz and " +
        "/docs needs `Authorization: Bearer <token>` (a browser: open any page once with `?token=<token>`).",
    },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: {
        JobSpec: jobSpec,
        Job: {
          ...jsonSchema(jobSchema),
          properties: { ...(jsonSchema(jobSchema).properties as object), spec: jobSpec },
        },
        Error: {
          type: "object",
          properties: {
            error: { type: "string" },
            issues: { type: "array", items: { type: "object", properties: { path: {}, message: {} } } },
          },
        },
      },
    },
    security: [{ bearer: [] }],
    paths: {
      "/jobs": {
        post: {
          summary: "Submit a job (idempotent with idempotencyKey)",
          requestBody: { required: true, ...json({ $ref: "#/components/schemas/JobSpec" }) },
          responses: {
            "201": {
              description: "created",
              ...json({ type: "object", properties: { job: jobRef, created: { const: true } } }),
            },
            "200": {
              description: "a job with this idempotencyKey exists",
              ...json({ type: "object", properties: { job: jobRef, created: { const: false } } }),
            },
            "400": { description: "invalid spec, naming each bad field", ...json(errorBody) },
            "401": { description: "missing or wrong token", ...json(errorBody) },
          },
        },
        get: {
          summary: "List jobs, newest first",
          parameters: [
            {
              name: "limit",
              in: "query",
              schema: { type: "integer", minimum: 1, maximum: 500, default: 50 },
            },
            {
              name: "after",
              in: "query",
              schema: { type: "string" },
              description: "`next` of the previous page",
            },
          ],
          responses: {
            "200": {
              description: "a page of jobs",
              ...json({
                type: "object",
                properties: { jobs: { type: "array", items: jobRef }, next: { type: ["string", "null"] } },
              }),
            },
          },
        },
      },
      "/jobs/{id}": {
        get: {
          summary: "A job's state, progress and errors",
          parameters: idParam,
          responses: {
            "200": {
              description: "the job; `waiting` while its frames are queued and no worker runs",
              ...json({
                type: "object",
                properties: {
                  job: jobRef,
                  waiting: {
                    type: "object",
                    properties: {
                      reason: { type: "string", enum: [WAITING_FOR_WORKER] },
                      waitingChunks: { type: "integer", description: "backlog.frames of GET /backlog" },
                      workers: { type: "integer" },
                    },
                  },
                },
              }),
            },
            "404": { description: "no such job", ...json(errorBody) },
          },
        },
        delete: {
          summary: "Cancel a job: decoding stops, what is done is written",
          parameters: idParam,
          responses: {
            "202": { description: "cancel requested" },
            "404": { description: "no such job" },
            "409": { description: "the job has already ended" },
          },
        },
      },
      "/jobs/{id}/summary": {
        get: {
          summary: "summary.json: tracks per class and per track (when the job has ended)",
          parameters: idParam,
          responses: {
            "200": { description: "summary.json" },
            "404": { description: "no job, or not written yet" },
          },
        },
      },
      "/jobs/{id}/manifest": {
        get: {
          summary: "manifest.json: spec, video, frame counts, φ ranges, timings (when the job has ended)",
          parameters: idParam,
          responses: {
            "200": { description: "manifest.json" },
            "404": { description: "no job, or not written yet" },
          },
        },
      },
      "/jobs/{id}/tracks": {
        get: {
          summary: "tracks.jsonl: one line per sampled frame (while the job runs: the parts written so far)",
          parameters: idParam,
          responses: {
            "200": {
              description: "NDJSON; header x-vdet-complete says whether the file is final",
              content: { "application/x-ndjson": {} },
            },
          },
        },
      },
      "/jobs/{id}/video": {
        get: {
          summary: "The job's source video (Range requests supported; http(s) inputs redirect)",
          parameters: idParam,
          responses: {
            "200": { description: "video" },
            "206": { description: "a byte range" },
            "404": { description: "not playable from the api" },
          },
        },
      },
      "/jobs/{id}/preview": {
        get: {
          summary: "preview.mp4, the annotated video (jobs submitted with preview: true)",
          parameters: idParam,
          responses: { "200": { description: "video/mp4" }, "404": { description: "no preview" } },
        },
      },
      "/metrics": {
        get: {
          summary: "Prometheus metrics (text format)",
          responses: { "200": { description: "metrics", content: { "text/plain": {} } } },
        },
      },
      "/healthz": {
        get: { summary: "Liveness", security: [], responses: { "200": { description: "alive" } } },
      },
      "/readyz": {
        get: {
          summary: "Readiness (Redis answers)",
          security: [],
          responses: { "200": { description: "ready" }, "503": { description: "not ready" } },
        },
      },
    },
  };
}

export async function registerDocs(app: FastifyInstance): Promise<void> {
  const document = openApiDocument();
  await app.register(swagger, { mode: "static", specification: { document: document as never } });
  await app.register(swaggerUi, { routePrefix: "/docs" });
  app.get("/openapi.json", { schema: { hide: true } }, async () => document);
}
