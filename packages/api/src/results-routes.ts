// Read a job's results and its video through the API, for the dashboard and scripts: summary.json,
// manifest.json and tracks.jsonl from the job's output sink (tracks.jsonl's parts while the job runs), the
// source video and preview.mp4 with HTTP Range support so a browser's <video> can seek.

import { extname } from "node:path";
import { Readable } from "node:stream";
import { InputNotAllowedError, type InputPolicy, inputScheme } from "@vdet/input-policy";
import type { JobStore } from "@vdet/jobs";
import { type JobRecord, STREAM_MANIFEST, streamPartsManifestSchema } from "@vdet/protocol";
import { openLocalObject, openSink, type Sink, STORAGE_ERRORS } from "@vdet/storage";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { routeSchemas, zodRoute } from "./route-schemas.ts";

/** A readable video with a known size, read in byte ranges. */
export interface VideoSource {
  sizeBytes: number;
  /** Unset: taken from the file name's extension. */
  contentType?: string;
  /** Bytes start…end inclusive. */
  read(start: number, end: number): Readable;
}

export interface ResultsOptions {
  jobStore: JobStore;
  /** The policy job inputs were admitted under: /jobs/:id/video serves an input only while it still passes. */
  inputPolicy: InputPolicy;
  /** Opens a job's output location; default: local directories only (S3 needs a client, see the roles). */
  openOutput?: (location: string) => Promise<Sink>;
  /**
   * Opens a job's input for playback; default: local files (the roles pass StorageResolver.openObject, which
   * adds s3:// objects). Returns null when it cannot be played back.
   */
  openVideo?: (input: string) => Promise<VideoSource | null>;
}

const VIDEO_TYPES: Record<string, string> = {
  ".mp4": "video/mp4",
  ".m4v": "video/mp4",
  ".mov": "video/quicktime",
  ".webm": "video/webm",
  ".mkv": "video/x-matroska",
  ".ogv": "video/ogg",
};

export function videoContentType(name: string): string {
  return VIDEO_TYPES[extname(name.split("?")[0]).toLowerCase()] ?? "application/octet-stream";
}

/** Parses a single `bytes=a-b` range; null for none, "invalid" for one that cannot be satisfied. */
function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | null | "invalid" {
  if (!header) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === "" && match[2] === "")) return "invalid";
  let start: number;
  let end: number;
  if (match[1] === "") {
    start = Math.max(0, size - Number(match[2]));
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
  }
  return start > end || start >= size ? "invalid" : { start, end };
}

async function sendVideo(request: FastifyRequest, reply: FastifyReply, video: VideoSource, name: string) {
  const range = parseRange(request.headers.range, video.sizeBytes);
  reply.header("accept-ranges", "bytes").header("content-type", video.contentType ?? videoContentType(name));
  if (range === "invalid")
    return reply.code(416).header("content-range", `bytes */${video.sizeBytes}`).send();
  const { start, end } = range ?? { start: 0, end: video.sizeBytes - 1 };
  if (range) reply.code(206).header("content-range", `bytes ${start}-${end}/${video.sizeBytes}`);
  reply.header("content-length", end - start + 1);
  if (request.method === "HEAD" || video.sizeBytes === 0) return reply.send();
  return reply.send(video.read(start, end));
}

export function registerResultsRoutes(app: FastifyInstance, options: ResultsOptions): void {
  const openOutput = options.openOutput ?? ((location: string) => openSink(location));
  const openVideo = options.openVideo ?? openLocalObject;
  const route = {
    summary: zodRoute(routeSchemas.summary),
    manifest: zodRoute(routeSchemas.manifest),
    tracks: zodRoute(routeSchemas.tracks),
    events: zodRoute(routeSchemas.events),
    analytics: zodRoute(routeSchemas.analytics),
    video: zodRoute(routeSchemas.video),
    preview: zodRoute(routeSchemas.preview),
  };

  const withJob = async (
    request: FastifyRequest<{ Params: { id: string } }>,
    reply: FastifyReply,
  ): Promise<JobRecord | null> => {
    const job = await options.jobStore.get(request.params.id);
    if (!job) await reply.code(404).send({ error: `no job ${request.params.id}` });
    return job;
  };

  const getObject = async (job: JobRecord, key: string): Promise<Uint8Array | null> => {
    try {
      return await (await openOutput(job.output)).get(key);
    } catch (error) {
      if ((error as { code?: unknown }).code === STORAGE_ERRORS.OBJECT_NOT_FOUND) return null;
      throw error;
    }
  };

  for (const name of ["summary", "manifest"] as const) {
    app.get<{ Params: { id: string } }>(`/jobs/:id/${name}`, route[name], async (request, reply) => {
      const job = await withJob(request, reply);
      if (!job) return reply;
      const body = await getObject(job, `${name}.json`);
      if (!body)
        return reply.code(404).send({ error: `${name}.json is written when the job ends (${job.state})` });
      return reply.type("application/json").send(Buffer.from(body));
    });
  }

  /** tracks.jsonl or events.jsonl: the whole file once the job ended, else the numbered parts written so far. */
  const sendJsonl = async (job: JobRecord, name: "tracks" | "events", reply: FastifyReply) => {
    const sink = await openOutput(job.output);
    reply.type("application/x-ndjson");
    // A stream's tracks are time-based parts listed by its rolling manifest (docs/live.md): joined in order, the
    // pieces of a part still being written after the parts before it.
    if (name === "tracks" && job.spec.stream) {
      const listed = await getObject(job, STREAM_MANIFEST);
      if (!listed) return reply.header("x-vdet-complete", "false").send("");
      const manifest = streamPartsManifestSchema.parse(JSON.parse(Buffer.from(listed).toString("utf8")));
      const chunks: Uint8Array[] = [];
      for (const part of manifest.parts) {
        if (part.complete) {
          chunks.push(await sink.get(part.key));
          continue;
        }
        for await (const page of sink.list(`${part.key.replace(/\.jsonl$/, "")}/part-`)) {
          for (const object of page) chunks.push(await sink.get(object.key));
        }
      }
      return reply.header("x-vdet-complete", String(manifest.complete)).send(Buffer.concat(chunks));
    }
    const whole = await getObject(job, `${name}.jsonl`);
    if (whole) return reply.header("x-vdet-complete", "true").send(Buffer.from(whole));
    // While the job runs, the file exists as numbered parts (see @vdet/storage PartWriter).
    const parts: Uint8Array[] = [];
    for await (const page of sink.list(`${name}/`)) {
      for (const object of page) if (object.key.endsWith(".jsonl")) parts.push(await sink.get(object.key));
    }
    return reply.header("x-vdet-complete", "false").send(Buffer.concat(parts));
  };

  app.get<{ Params: { id: string } }>("/jobs/:id/tracks", route.tracks, async (request, reply) => {
    const job = await withJob(request, reply);
    if (!job) return reply;
    return sendJsonl(job, "tracks", reply);
  });

  const noZones = (job: JobRecord) => `job ${job.id} has no zones or lines (submit it with zones)`;

  app.get<{ Params: { id: string } }>("/jobs/:id/events", route.events, async (request, reply) => {
    const job = await withJob(request, reply);
    if (!job) return reply;
    if (!job.spec.zones) return reply.code(404).send({ error: noZones(job) });
    return sendJsonl(job, "events", reply);
  });

  // analytics.json is rewritten while the job runs (about once a second while frames come in), final at the end.
  app.get<{ Params: { id: string } }>("/jobs/:id/analytics", route.analytics, async (request, reply) => {
    const job = await withJob(request, reply);
    if (!job) return reply;
    if (!job.spec.zones) return reply.code(404).send({ error: noZones(job) });
    const body = await getObject(job, "analytics.json");
    if (!body)
      return reply
        .code(404)
        .send({ error: `analytics.json is written once the first frames are in (${job.state})` });
    return reply.type("application/json").send(Buffer.from(body));
  });

  // Only an input the producer probed as a video (job.video is set then), of a job that has not failed, and only
  // while the input policy still allows it: never an arbitrary file or object a job spec merely named.
  app.get<{ Params: { id: string } }>("/jobs/:id/video", route.video, async (request, reply) => {
    const job = await withJob(request, reply);
    if (!job) return reply;
    if (job.video === null || job.state === "failed") {
      return reply.code(404).send({
        error:
          job.state === "failed"
            ? `job ${job.id} failed: its input is not served`
            : `job ${job.id}'s input has not been probed as a video yet (${job.state})`,
      });
    }
    let input = job.spec.input;
    try {
      await options.inputPolicy.checkInput(input);
      if (inputScheme(input) === "file") input = (await options.inputPolicy.checkFile(input)) ?? input;
    } catch (error) {
      if (!(error instanceof InputNotAllowedError)) throw error;
      return reply.code(403).send({ error: `this job's input is not served: ${error.message}` });
    }
    if (inputScheme(input) === "http") return reply.redirect(job.spec.input);
    const video = await openVideo(input);
    if (!video) return reply.code(404).send({ error: "this job's input cannot be played back from the api" });
    return sendVideo(request, reply, video, job.spec.input);
  });

  app.get<{ Params: { id: string } }>("/jobs/:id/preview", route.preview, async (request, reply) => {
    const job = await withJob(request, reply);
    if (!job) return reply;
    const body = await getObject(job, "preview.mp4");
    if (!body)
      return reply.code(404).send({ error: "this job has no preview.mp4 (submit it with preview: true)" });
    const bytes = Buffer.from(body);
    return sendVideo(
      request,
      reply,
      {
        sizeBytes: bytes.length,
        contentType: "video/mp4",
        read: (start, end) => Readable.from([bytes.subarray(start, end + 1)]),
      },
      "preview.mp4",
    );
  });
}
