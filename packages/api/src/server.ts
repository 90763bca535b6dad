// The vdet HTTP API (Fastify): submit jobs, read their state and progress, list them, cancel them; read their
// results; /metrics, the dashboard (/ui, bull-board at /admin/queues) and the OpenAPI docs (/docs).
// Job state lives in the job store (Redis in production); submitting queues the job for a producer.

import { isAbsolute } from "node:path";
import { API_DEFAULTS } from "@vdet/config";
import { errorStatusCode, isVdetError } from "@vdet/errors";
import { InputNotAllowedError, InputPolicy } from "@vdet/input-policy";
import {
  type ActiveJobLimitError,
  type JobStore,
  jobClassIds,
  jobDeliveries,
  type ModelRegistry,
  type NotificationStore,
} from "@vdet/jobs";
import { METRICS_CONTENT_TYPE, metrics, metricsText, watchLiveRoles, watchQueueDepths } from "@vdet/metrics";
import {
  InvalidJobSpecError,
  isTerminal,
  type JobRecord,
  type JobSpec,
  jobIdSchema,
  jobStalled,
  jobWaiting,
  type RoleLiveness,
} from "@vdet/protocol";
import {
  directoryOutsideRoots,
  formatLocation,
  parseLocation,
  type Sink,
  type StorageLocation,
} from "@vdet/storage";
import { QUEUE_NAMES, type Transport, workerBacklog } from "@vdet/transport";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { registerQueueAdmin } from "./admin.ts";
import { installAuth } from "./auth.ts";
import { registerDocs } from "./openapi.ts";
import { registerResultsRoutes, type VideoSource } from "./results-routes.ts";
import { META, RequestValidationError, routeSchemas, zodRoute } from "./route-schemas.ts";
import { registerStreamRoutes } from "./stream-routes.ts";
import { registerUi } from "./ui.ts";

export interface ApiConfig {
  transport: Transport;
  jobStore: JobStore;
  /** What the workers run per φ: a job's `classes` are checked against its models' labels (default: COCO). */
  models?: ModelRegistry;
  /** Bearer token every request except /healthz and /readyz must carry; null only in explicit local mode. */
  token: string | null;
  /** Accept local file paths as inputs (local mode); otherwise only s3://, http(s):// and rtsp:// inputs. */
  allowFileInputs?: boolean;
  /**
   * What a job may read: input buckets, input roots, the address policy for network inputs (@vdet/input-policy).
   * Default: the strict policy (no loopback, private or link-local addresses) with `allowFileInputs`.
   */
  inputPolicy?: InputPolicy;
  /** Accept local directories as outputs; otherwise only s3:// outputs. */
  allowDirectoryOutputs?: boolean;
  /** Only these S3 buckets may be written (empty: any). */
  allowedOutputBuckets?: readonly string[];
  /**
   * Every job output must lie inside one of these (`s3://bucket/prefix/` or an absolute directory); empty: no
   * restriction beyond the bucket list. Checked after normalisation, so `..`, `.` and `//` cannot escape.
   */
  outputRoots?: readonly string[];
  /** Jobs queued or running at once, over the whole deployment (the job store counts them); beyond: 429. */
  maxActiveJobs?: number;
  /** Readiness: resolves when the dependencies answer. */
  ready?: () => Promise<void>;
  bodyLimitBytes?: number;
  /** Headers and body must arrive within this (Fastify requestTimeout); default API_DEFAULTS. */
  requestTimeoutMs?: number;
  /** A connection idle this long in both directions is closed (Fastify connectionTimeout). */
  connectionTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this (Fastify keepAliveTimeout). */
  keepAliveTimeoutMs?: number;
  logger?: boolean;
  /** Opens a job's output location for the results routes (S3 needs a client); default: directories only. */
  openOutput?: (location: string) => Promise<Sink>;
  /** Opens a job's input for playback (/jobs/:id/video); default: local files. */
  openVideo?: (input: string) => Promise<VideoSource | null>;
  /**
   * Which roles are alive (their heartbeats, @vdet/jobs readRoleLiveness): GET /jobs/:id then says
   * `stalled: …` when no process serves an unfinished job, and /metrics counts live roles by kind. Unset: neither.
   */
  roleLiveness?: () => Promise<RoleLiveness>;
  /** The notification delivery logs (GET /jobs/:id/notifications); unset: that route answers an empty log. */
  notifications?: NotificationStore;
  /** Report queue depths on /metrics (default true; a process with several servers reports them once). */
  queueMetrics?: boolean;
  /**
   * A job created this long ago and still not queued was left by an api that stopped in between: this server
   * queues it (at start, then as often). Default 60 s; a creator queues its job within milliseconds.
   */
  requeueAfterMs?: number;
}

/** Queue depths for /metrics: BullMQ's own counts (Redis), or the in-process queues' counts. */
function queueDepths(transport: Transport) {
  return async () => {
    const bull = transport.bullmqQueues();
    if (bull.length > 0) {
      // A partitioned queue (Redis Cluster) is several BullMQ queues of one name: reported as one, summed.
      const all = await Promise.all(
        bull.map(async (q) => ({
          queue: q.name,
          counts: await q.getJobCounts("waiting", "prioritized", "active", "delayed", "failed"),
        })),
      );
      const byName = new Map<string, Record<string, number>>();
      for (const { queue, counts } of all) {
        const sum = byName.get(queue) ?? {};
        for (const [state, n] of Object.entries(counts)) sum[state] = (sum[state] ?? 0) + n;
        byName.set(queue, sum);
      }
      // Queues that are streams (results, events) count themselves.
      for (const name of Object.values(QUEUE_NAMES)) {
        if (!byName.has(name)) byName.set(name, { ...(await transport[name].counts()) });
      }
      return [...byName].map(([queue, counts]) => ({ queue, counts }));
    }
    return Promise.all(
      Object.values(QUEUE_NAMES).map(async (name) => ({
        queue: name,
        counts: await transport[name].counts(),
      })),
    );
  };
}

/** Whether `inner` is `outer` or below it. */
function isInside(inner: StorageLocation, outer: StorageLocation): boolean {
  if (inner.kind === "s3" && outer.kind === "s3") {
    return inner.bucket === outer.bucket && inner.prefix.startsWith(outer.prefix);
  }
  if (inner.kind === "local" && outer.kind === "local") {
    const root = outer.directory.endsWith("/") ? outer.directory : `${outer.directory}/`;
    return inner.directory === outer.directory || inner.directory.startsWith(root);
  }
  return false;
}

async function outputProblem(output: string, config: ApiConfig): Promise<string | null> {
  let location: StorageLocation;
  try {
    location = parseLocation(output);
  } catch (error) {
    return (error as Error).message;
  }
  if (location.kind === "s3") {
    const allowed = config.allowedOutputBuckets ?? [];
    if (allowed.length > 0 && !allowed.includes(location.bucket)) {
      return `output bucket "${location.bucket}" is not one this server writes to`;
    }
  } else if (!config.allowDirectoryOutputs) {
    return "this server writes only to s3:// outputs (start the api with --allow-directory-outputs, VDET_ALLOW_DIRECTORY_OUTPUTS=1, to write to directories)";
  }
  // A relative directory would resolve against the aggregator's working directory, not the client's.
  if (location.kind === "local" && !isAbsolute(output)) {
    return "directory outputs must be absolute paths on this server";
  }
  const roots = config.outputRoots ?? [];
  if (roots.length === 0) return null;
  if (!roots.some((root) => isInside(location, parseLocation(root)))) {
    return `output ${formatLocation(location)} is outside the locations this server writes to (${roots.join(", ")})`;
  }
  if (location.kind === "local") {
    // The text lies inside a root; so must the real path (a symbolic link in it may lead elsewhere). The
    // aggregator checks again when it opens the directory.
    const directoryRoots = roots.filter((root) => parseLocation(root).kind === "local");
    return directoryOutsideRoots(location.directory, directoryRoots);
  }
  return null;
}

async function checkPolicy(
  spec: JobSpec,
  config: ApiConfig,
  inputPolicy: InputPolicy,
): Promise<{ path: string; message: string }[]> {
  const issues: { path: string; message: string }[] = [];
  try {
    await inputPolicy.checkInput(spec.input, { atSubmission: true });
  } catch (error) {
    if (!(error instanceof InputNotAllowedError)) throw error;
    issues.push({ path: "input", message: error.message });
  }
  // A webhook goes through the same address policy as inputs (checked again by the notifier when it sends).
  if (spec.notify?.webhook !== undefined) {
    try {
      await inputPolicy.checkInput(spec.notify.webhook, { atSubmission: true });
    } catch (error) {
      if (!(error instanceof InputNotAllowedError)) throw error;
      issues.push({ path: "notify.webhook", message: error.message.replace(/^input/, "webhook") });
    }
  }
  const output = await outputProblem(spec.output, config);
  if (output !== null) issues.push({ path: "output", message: output });
  if (spec.classes) {
    try {
      jobClassIds(spec.classes, (await config.models?.read()) ?? {}, spec.phi);
    } catch (error) {
      if (!isVdetError(error) || error.statusCode !== 400) throw error;
      issues.push({ path: "classes", message: error.message });
    }
  }
  return issues;
}

/** POST /jobs takes JSON only: anything else is a 415 before the body is validated as a job spec. */
async function requireJson(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (!/^application\/json\b/i.test(request.headers["content-type"] ?? "")) {
    await reply.code(415).send({ error: "send the job spec as JSON with content-type: application/json" });
  }
}

const BAD_JOB_ID = "job ids are letters, digits, _ and - (as returned by POST /jobs)";
const BAD_STREAM_ID = "stream ids are letters, digits, _ and - (as returned by POST /streams)";

/**
 * The 400 body for a request that failed its route's schema: the only bodies are a job spec and a stream spec, the
 * only param an id.
 */
function validationBody(
  error: RequestValidationError,
  url: string | undefined,
): { error: string; issues?: typeof error.issues } {
  const stream = url?.startsWith("/streams") ?? false;
  if (error.part === "body") {
    metrics.error("api", stream ? "invalid_stream_spec" : "invalid_job_spec");
    const message = new InvalidJobSpecError(error.issues).message;
    return {
      error: stream ? message.replace(/^invalid job spec/, "invalid stream spec") : message,
      issues: error.issues,
    };
  }
  if (error.part === "params") return { error: stream ? BAD_STREAM_ID : BAD_JOB_ID };
  return { error: error.message };
}

export async function buildServer(config: ApiConfig): Promise<FastifyInstance> {
  for (const root of config.outputRoots ?? []) parseLocation(root); // a bad root is a configuration error
  const bodyLimit = config.bodyLimitBytes ?? API_DEFAULTS.bodyLimitBytes;
  const requestTimeout = config.requestTimeoutMs ?? API_DEFAULTS.requestTimeoutMs;
  const app = Fastify({
    logger: config.logger ?? false,
    bodyLimit,
    requestTimeout,
    connectionTimeout: config.connectionTimeoutMs ?? API_DEFAULTS.connectionTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs ?? API_DEFAULTS.keepAliveTimeoutMs,
    // Node checks request timeouts on this interval (30 s by default, longer than a short timeout).
    http: {
      connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(requestTimeout / 4))),
      headersTimeout: Math.min(requestTimeout, 60_000),
    },
  });
  const { jobStore, transport } = config;
  const inputPolicy = config.inputPolicy ?? new InputPolicy({ allowFileInputs: config.allowFileInputs });

  installAuth(app, config.token);

  // Decided on each error's statusCode and code (ours and Fastify's alike), never on its class.
  app.setErrorHandler(async (error: Error & { statusCode?: number; code?: string }, request, reply) => {
    if (error instanceof RequestValidationError)
      return reply.code(400).send(validationBody(error, request.routeOptions.url));
    // A 5xx of any kind is answered as a plain 500 "internal error".
    const status = Math.min(errorStatusCode(error), 500);
    if (status === 500) {
      app.log.error(error);
      metrics.error("api", error.name || "internal");
    }
    // Fastify's own messages for the usual client mistakes, made to say what to do.
    const clearer: Record<string, string> = {
      FST_ERR_CTP_BODY_TOO_LARGE: `request body is over the ${bodyLimit}-byte limit; a job spec is a small JSON object (submit one job per request)`,
      FST_ERR_CTP_INVALID_MEDIA_TYPE: "send the job spec as JSON with content-type: application/json",
      FST_ERR_CTP_EMPTY_JSON_BODY: "the request body is empty; send the job spec as a JSON object",
      FST_ERR_CTP_INVALID_JSON_BODY: `the request body is not valid JSON (${error.message})`,
    };
    const message = status === 500 ? "internal error" : (clearer[error.code ?? ""] ?? error.message);
    await reply.code(status).send({ error: message });
  });

  // Job ids are ours (j_…); anything else cannot name a job, so it is refused before reaching the store (routes
  // with a params schema refuse it when validating, with the same answer).
  app.addHook("preHandler", async (request: FastifyRequest, reply: FastifyReply) => {
    const id = (request.params as { id?: string } | undefined)?.id;
    if (id !== undefined && !jobIdSchema.safeParse(id).success) {
      await reply
        .code(400)
        .send({ error: request.routeOptions.url?.startsWith("/streams") ? BAD_STREAM_ID : BAD_JOB_ID });
    }
  });

  // Before any route: the document is collected from the routes as they are added.
  await registerDocs(app);

  app.get("/healthz", zodRoute(routeSchemas.healthz), async () => ({ ok: true as const }));
  app.get("/meta", zodRoute(routeSchemas.meta), async () => META);
  app.get("/readyz", zodRoute(routeSchemas.readyz), async (_request, reply) => {
    try {
      await config.ready?.();
      return { ready: true };
    } catch (error) {
      return reply.code(503).send({ ready: false, error: (error as Error).message });
    }
  });

  // Work waiting for each stage, for autoscalers (KEDA's metrics-api scaler reads `backlog.frames`). Counts are
  // queue messages: `frames` is the workers' backlog, segments plus chunks of frames (workerBacklog). "waiting"
  // covers BullMQ's wait list and its prioritized set (every vdet message carries a priority, so most waiting
  // work is in the latter).
  app.get("/backlog", async () => {
    const [jobs, segments, frames, results, work] = await Promise.all([
      transport.jobs.counts(),
      transport.segments.counts(),
      transport.frames.counts(),
      transport.results.counts(),
      workerBacklog(transport),
    ]);
    return {
      backlog: { jobs: jobs.waiting, frames: work.waiting, results: results.waiting },
      queues: { jobs, segments, frames, results },
      workers: work.workers,
    };
  });
  if (config.queueMetrics !== false) {
    const unwatch = watchQueueDepths(queueDepths(transport));
    app.addHook("onClose", async () => unwatch());
  }
  const roleLiveness = config.roleLiveness;
  if (roleLiveness) {
    const unwatch = watchLiveRoles(async () => (await roleLiveness()).live);
    app.addHook("onClose", async () => unwatch());
  }
  app.get("/metrics", zodRoute(routeSchemas.metrics), async (_request, reply) =>
    reply.type(METRICS_CONTENT_TYPE).send(await metricsText()),
  );

  registerUi(app);
  await registerQueueAdmin(app, transport.bullmqQueues());
  registerResultsRoutes(app, {
    jobStore,
    inputPolicy,
    openOutput: config.openOutput,
    openVideo: config.openVideo,
  });

  /** Puts a created job's message on the jobs queue (under the job's id: a no-op when it is there already). */
  const queueJob = async (job: JobRecord): Promise<void> => {
    await transport.jobs.add({ jobId: job.id }, { id: job.id, priority: job.spec.priority });
    await jobStore.markQueued(job.id);
  };
  // Jobs whose creator stopped between creating and queueing them, found by whichever api looks next.
  const requeueAfterMs = config.requeueAfterMs ?? 60_000;
  const queueAbandoned = async (): Promise<void> => {
    try {
      for (const job of await jobStore.unqueued(Date.now() - requeueAfterMs)) {
        if (job.state !== "queued") continue;
        app.log.warn({ jobId: job.id }, "queueing a job its creator left unqueued");
        await queueJob(job);
      }
    } catch (error) {
      app.log.error(error, "looking for jobs left unqueued failed");
    }
  };
  let sweep: NodeJS.Timeout | undefined;
  app.addHook("onReady", async () => {
    await queueAbandoned();
    sweep = setInterval(() => void queueAbandoned(), Math.max(requeueAfterMs, 1000));
    sweep.unref();
  });
  app.addHook("onClose", async () => clearInterval(sweep));

  // The job routes, validated by their schemas.
  const jobRoutes = {
    create: { ...zodRoute(routeSchemas.createJob), preValidation: requireJson },
    list: zodRoute(routeSchemas.listJobs),
    get: zodRoute(routeSchemas.getJob),
    cancel: zodRoute(routeSchemas.cancelJob),
    notifications: zodRoute(routeSchemas.notifications),
  };

  /** Creates and queues a job (POST /jobs, POST /streams): policy checks, the active-job limit, idempotency. */
  const submit = async (
    spec: JobSpec,
    reply: FastifyReply,
    what: "job" | "stream",
  ): Promise<{ job: JobRecord; created: boolean } | null> => {
    const issues = await checkPolicy(spec, config, inputPolicy);
    if (issues.length > 0) {
      await reply.code(400).send({
        error: `invalid ${what} spec: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`,
        issues,
      });
      return null;
    }
    let submitted: Awaited<ReturnType<JobStore["create"]>>;
    try {
      // The limit is counted and the job created in one step: concurrent submissions cannot pass it together.
      submitted = await jobStore.create(spec, { maxActive: config.maxActiveJobs });
    } catch (error) {
      if (!isVdetError(error) || error.statusCode !== 429) throw error;
      await reply
        .code(429)
        .header("retry-after", "10")
        .send({
          error: `${(error as ActiveJobLimitError).active} jobs are queued or running, this server's limit (${(error as ActiveJobLimitError).limit}, VDET_MAX_ACTIVE_JOBS); submit again when some have finished`,
        });
      return null;
    }
    const { job, created } = submitted;
    // A job stays marked until its message is on the queue: a retry with the same idempotency key queues a job
    // whose creator stopped before queueing it.
    if (created || (job.state === "queued" && (await jobStore.needsQueueing(job.id)))) await queueJob(job);
    if (created) metrics.jobSubmitted();
    return { job, created };
  };

  app.post("/jobs", jobRoutes.create, async (request, reply) => {
    const submitted = await submit(request.body as JobSpec, reply, "job");
    if (!submitted) return reply;
    const { job, created } = submitted;
    return reply.code(created ? 201 : 200).send({ job, created });
  });

  registerStreamRoutes(app, {
    jobStore,
    openOutput: config.openOutput,
    notifications: config.notifications,
    submit,
    requireJson,
  });

  app.get<{ Params: { id: string } }>("/jobs/:id", jobRoutes.get, async (request, reply) => {
    const job = await jobStore.get(request.params.id);
    if (!job) return reply.code(404).send({ error: `no job ${request.params.id}` });
    if (isTerminal(job.state)) return { job };
    // With workers scaled to zero (or all gone), say so instead of showing a job that silently stands still.
    const [work, liveness] = await Promise.all([workerBacklog(transport), roleLiveness?.()]);
    const waiting = jobWaiting(job, { workers: work.workers, waitingChunks: work.waiting });
    const stalled = liveness ? jobStalled(job, liveness, Date.now()) : undefined;
    return { job, ...(waiting ? { waiting } : {}), ...(stalled ? { stalled } : {}) };
  });

  app.get<{ Querystring: { limit: number; after?: string } }>("/jobs", jobRoutes.list, async (request) => {
    const page = await jobStore.list({ limit: request.query.limit, after: request.query.after });
    return { jobs: page.jobs, next: page.next };
  });

  app.get<{ Params: { id: string } }>(
    "/jobs/:id/notifications",
    jobRoutes.notifications,
    async (request, reply) => {
      const job = await jobStore.get(request.params.id);
      if (!job) return reply.code(404).send({ error: `no job ${request.params.id}` });
      return { deliveries: await jobDeliveries(config.notifications, job.id) };
    },
  );

  app.delete<{ Params: { id: string } }>("/jobs/:id", jobRoutes.cancel, async (request, reply) => {
    const job = await jobStore.get(request.params.id);
    if (!job) return reply.code(404).send({ error: `no job ${request.params.id}` });
    const accepted = await jobStore.requestCancel(job.id);
    if (!accepted) return reply.code(409).send({ error: `job ${job.id} has already ended (${job.state})` });
    return reply.code(202).send({ job: await jobStore.get(job.id) });
  });

  return app;
}
