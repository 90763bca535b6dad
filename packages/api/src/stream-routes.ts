// Streams as a resource: POST /streams, GET /streams, GET /streams/:id, DELETE /streams/:id,
// GET /streams/:id/notifications. A stream is a latency
// job underneath (its spec carries `stream`), created and queued like any job, served by the roles already running:
// adding or removing one restarts nothing. Removing one is cancelling its job: the producer stops reading, the
// aggregator writes what was read and completes the last part.

import { type JobStore, jobDeliveries, type NotificationStore } from "@vdet/jobs";
import {
  type JobRecord,
  type JobSpec,
  STREAM_MANIFEST,
  type StreamPart,
  streamPartsManifestSchema,
  streamView,
} from "@vdet/protocol";
import { openSink, type Sink, STORAGE_ERRORS } from "@vdet/storage";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { routeSchemas, zodRoute } from "./route-schemas.ts";

export interface StreamRoutesOptions {
  jobStore: JobStore;
  /** Opens a stream's output to read its rolling manifest; default: local directories only. */
  openOutput?: (location: string) => Promise<Sink>;
  /** The notification delivery logs (GET /streams/:id/notifications); unset: that route answers an empty log. */
  notifications?: NotificationStore;
  /** Creates and queues a job (the server's, shared with POST /jobs); null when it has answered already. */
  submit(
    spec: JobSpec,
    reply: FastifyReply,
    what: "job" | "stream",
  ): Promise<{ job: JobRecord; created: boolean } | null>;
  /** Refuses a body that is not JSON (as POST /jobs does). */
  requireJson(request: FastifyRequest, reply: FastifyReply): Promise<void>;
}

export function registerStreamRoutes(app: FastifyInstance, options: StreamRoutesOptions): void {
  const { jobStore } = options;
  const openOutput = options.openOutput ?? ((location: string) => openSink(location));
  const route = {
    create: { ...zodRoute(routeSchemas.createStream), preValidation: options.requireJson },
    list: zodRoute(routeSchemas.listStreams),
    get: zodRoute(routeSchemas.getStream),
    remove: zodRoute(routeSchemas.removeStream),
    notifications: zodRoute(routeSchemas.streamNotifications),
  };

  /** The stream with this id, or a 404 (also for a job that is not a stream). */
  const withStream = async (id: string, reply: FastifyReply): Promise<JobRecord | null> => {
    const job = await jobStore.get(id);
    if (!job?.spec.stream) {
      await reply.code(404).send({ error: `no stream ${id}` });
      return null;
    }
    return job;
  };

  /** The parts tracks.parts.json lists (none before it is written). */
  const partsOf = async (job: JobRecord): Promise<{ parts: StreamPart[]; unlisted: number }> => {
    let body: Uint8Array;
    try {
      body = await (await openOutput(job.output)).get(STREAM_MANIFEST);
    } catch (error) {
      if ((error as { code?: unknown }).code === STORAGE_ERRORS.OBJECT_NOT_FOUND)
        return { parts: [], unlisted: 0 };
      throw error;
    }
    const manifest = streamPartsManifestSchema.parse(JSON.parse(Buffer.from(body).toString("utf8")));
    return { parts: manifest.parts, unlisted: manifest.unlisted };
  };

  app.post("/streams", route.create, async (request, reply) => {
    const submitted = await options.submit(request.body as JobSpec, reply, "stream");
    if (!submitted) return reply;
    const { job, created } = submitted;
    const stream = streamView(job);
    // An idempotency key first used for a job names that job, not a stream.
    if (!stream)
      return reply
        .code(409)
        .send({ error: `idempotencyKey ${job.spec.idempotencyKey} names job ${job.id}, not a stream` });
    return reply.code(created ? 201 : 200).send({ stream, created });
  });

  app.get<{ Querystring: { limit: number; after?: string } }>("/streams", route.list, async (request) => {
    const page = await jobStore.listStreams({ limit: request.query.limit, after: request.query.after });
    return { streams: page.jobs.flatMap((job) => streamView(job) ?? []), next: page.next };
  });

  app.get<{ Params: { id: string } }>("/streams/:id", route.get, async (request, reply) => {
    const job = await withStream(request.params.id, reply);
    if (!job) return reply;
    return { stream: streamView(job)!, ...(await partsOf(job)) };
  });

  app.get<{ Params: { id: string } }>(
    "/streams/:id/notifications",
    route.notifications,
    async (request, reply) => {
      const job = await withStream(request.params.id, reply);
      if (!job) return reply;
      return { deliveries: await jobDeliveries(options.notifications, job.id) };
    },
  );

  app.delete<{ Params: { id: string } }>("/streams/:id", route.remove, async (request, reply) => {
    const job = await withStream(request.params.id, reply);
    if (!job) return reply;
    if (!(await jobStore.requestCancel(job.id)))
      return reply.code(409).send({ error: `stream ${job.id} has already stopped (its job ${job.state})` });
    return reply.code(202).send({ stream: streamView((await jobStore.get(job.id)) ?? job)! });
  });
}
