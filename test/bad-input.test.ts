// The bad-input corpus, end to end over the real Redis, ffmpeg and an S3-protocol server: every case gets a
// clear error (an HTTP status and message from the API, or a failed job with its reason), and good jobs
// submitted alongside still complete with every frame. Inputs are generated here; nothing binary is committed.
// Set VDET_OUTCOMES_FILE to collect what each case observed (one JSON line per case).

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { buildServer } from "@vdet/api";
import { build } from "@vdet/effdet";
import { InputPolicy } from "@vdet/input-policy";
import { MemoryJobStore, RedisJobStore } from "@vdet/jobs";
import {
  createModelProvider,
  ModelLoadError,
  openJobOutput,
  startAggregator,
  startProducer,
  startWorker,
} from "@vdet/pipeline";
import { loadConfig, startWorkerRole, workerConfigSchema } from "@vdet/roles";
import { openS3Input, s3ObjectSize } from "@vdet/storage";
import { startTestS3, type TestS3 } from "@vdet/storage/testing";
import {
  createMemoryTransport,
  createRedisTransport,
  deleteKeysWithPrefix,
  QUEUE_NAMES,
  redisOptionsFromUrl,
} from "@vdet/transport";
import { makeTestClip } from "@vdet/video/testing";
import type { FastifyInstance } from "fastify";
import { Redis } from "ioredis";
import { pino } from "pino";
import { type BadInputFiles, makeBadInputs, noise } from "./support/bad-inputs.ts";
import { buildLocalApi } from "./support/local-api.ts";
import { OutcomeLog } from "./support/outcomes.ts";
import { REDIS_URL } from "./support/redis-pipeline.ts";
import { parseTracks } from "./support/tracks.ts";

const prefix = `vdet-bad-${randomUUID().slice(0, 8)}`;
const token = "bad-input-test-token-0123456789";
const auth = { authorization: `Bearer ${token}` };
const dir = mkdtempSync(join(tmpdir(), "vdet-bad-"));
const outRoot = join(dir, "out");
const LIMITS = {
  maxWidth: 640,
  maxHeight: 480,
  maxFrames: 30,
  maxDurationSeconds: 10,
  maxInputBytes: 1024 * 1024,
};
// Long enough that ffprobe answers for every file case on a loaded 2-core machine; the stall cases wait it out.
const INPUT_TIMEOUT_MS = 4000;
const outcomes = new OutcomeLog("bad-input");

const redis = new Redis(redisOptionsFromUrl(REDIS_URL));
const transport = createRedisTransport({ url: REDIS_URL, prefix });
const jobStore = new RedisJobStore(redis, prefix);
const finished = new Map<string, string>();
let s3server: TestS3;
let s3: S3Client;
let bucket = "";
let http: Server;
let httpBase = "";
let files: BadInputFiles;
let goodClip = "";
let localApi: FastifyInstance;
let remoteApi: FastifyInstance;
const stages: { close(): Promise<void> }[] = [];
const models = createModelProvider({ seed: 0 });

before(async () => {
  mkdirSync(outRoot);
  s3server = await startTestS3();
  s3 = s3server.client();
  bucket = await s3server.createBucket();
  [files, goodClip] = await Promise.all([
    makeBadInputs(dir, LIMITS.maxInputBytes),
    makeTestClip(join(dir, "good.mp4"), 2, 10, 160, 120),
  ]);
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: "in/big.mp4", Body: readFileSync(files.tooBig) }),
  );
  http = await startHttpServer(files.faststart);
  httpBase = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;

  stages.push(
    startProducer({
      transport,
      jobStore,
      // The corpus checks what the producer makes of each input (a failed job with the reason, nothing written).
      // On the segment path an input that breaks after its index was read (a body that stalls) is found by the
      // workers instead, and ends with those frames failed, not the job: an open follow-up of the segment path.
      segments: false,
      framesPerChunk: 2,
      concurrency: 4,
      limits: LIMITS,
      inputTimeoutMs: INPUT_TIMEOUT_MS,
      openInput: async (input) => (input.startsWith("s3://") ? openS3Input(input, s3) : input),
      inputSizeBytes: async (input) => (input.startsWith("s3://") ? s3ObjectSize(input, s3) : undefined),
    }),
    startWorker({ transport, jobStore, models, maxBatch: 4 }),
    startAggregator({
      transport,
      jobStore,
      openOutput: (_id, location) =>
        openJobOutput(location, location.startsWith("s3://") ? { s3Client: s3 } : {}),
      onJobFinished: (id, state) => finished.set(id, state),
    }),
  );
  // One machine: local files in and out, outputs confined to outRoot.
  localApi = await buildServer({
    transport,
    jobStore,
    token,
    allowFileInputs: true,
    allowDirectoryOutputs: true,
    outputRoots: [outRoot],
  });
  // A deployment: remote inputs only, outputs only under s3://bucket/results/. The test's HTTP server is on
  // 127.0.0.1, the one address its input policy allows beyond global unicast.
  remoteApi = await buildServer({
    transport,
    jobStore,
    token,
    inputPolicy: new InputPolicy({ allowAddresses: ["127.0.0.1/32"] }),
    allowedOutputBuckets: [bucket],
    outputRoots: [`s3://${bucket}/results/`],
  });
});

after(async () => {
  await localApi?.close();
  await remoteApi?.close();
  for (const stage of stages.reverse()) await stage.close();
  await models.close();
  await transport.close();
  await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
  http?.closeAllConnections();
  http?.close();
  await s3server?.close();
  rmSync(dir, { recursive: true, force: true });
  outcomes.flush();
});

/** An HTTP server with the network cases: stalls, a web page, playlists that try other protocols, redirects. */
function startHttpServer(faststart: string): Promise<Server> {
  const playlist = (segment: string) =>
    `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n${segment}\n#EXT-X-ENDLIST\n`;
  const server = createServer((request, response) => {
    switch (request.url) {
      case "/stall-headers.mp4": // headers, then nothing at all
        response.writeHead(200, { "content-type": "video/mp4", "content-length": "5000000" });
        response.flushHeaders();
        return;
      case "/stall-body.mp4": {
        // a real streamable MP4, cut off after a third: then nothing
        const bytes = readFileSync(faststart);
        response.writeHead(200, { "content-type": "video/mp4", "content-length": String(bytes.length) });
        response.write(bytes.subarray(0, Math.floor(bytes.length / 3)));
        return;
      }
      case "/page.mp4":
        response.writeHead(200, { "content-type": "text/html" });
        response.end("<!doctype html><html><body>Not found, but with status 200</body></html>\n".repeat(40));
        return;
      case "/file-segment.m3u8":
        response.writeHead(200, { "content-type": "application/vnd.apple.mpegurl" });
        response.end(playlist(`file://${faststart.replace(/\.mp4$/, ".ts")}`));
        return;
      case "/passwd-segment.m3u8":
        response.writeHead(200, { "content-type": "application/vnd.apple.mpegurl" });
        response.end(playlist("file:///etc/passwd"));
        return;
      case "/concat-segment.m3u8":
        response.writeHead(200, { "content-type": "application/vnd.apple.mpegurl" });
        response.end(playlist(`concat:${faststart}|${faststart}`));
        return;
      case "/redirect.mp4":
        response.writeHead(302, { location: `file://${faststart}` });
        response.end();
        return;
      default:
        response.writeHead(404, { "content-type": "text/plain" });
        response.end("not found");
    }
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

async function waitFinished(ids: string[], timeoutMs = 60_000): Promise<void> {
  const started = Date.now();
  while (!ids.every((id) => finished.has(id))) {
    if (Date.now() - started > timeoutMs) {
      const missing = ids.filter((id) => !finished.has(id));
      const jobs = await Promise.all(missing.map((id) => jobStore.get(id)));
      const what = missing.map((id, i) => `${id} (${jobs[i]?.state}, ${jobs[i]?.spec.input})`);
      throw new Error(`jobs did not finish: ${what.join(", ")}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function submit(app: FastifyInstance, payload: object): Promise<string> {
  const response = await app.inject({ method: "POST", url: "/jobs", headers: auth, payload });
  assert.equal(response.statusCode, 201, response.body);
  return response.json().job.id as string;
}

/** A good job's output: every sampled frame written once, none failed. */
function assertComplete(output: string, frames: number): void {
  const lines = parseTracks(readFileSync(join(output, "tracks.jsonl"), "utf8"));
  assert.deepEqual(
    lines.map((l) => l.frame),
    [...Array(frames).keys()],
  );
  assert.ok(lines.every((l) => l.error === undefined));
  const manifest = JSON.parse(readFileSync(join(output, "manifest.json"), "utf8"));
  assert.deepEqual(manifest.frames, {
    sampled: frames,
    written: frames,
    failed: 0,
    skipped: 0,
    duplicatesDropped: 0,
  });
}

describe("the API refuses bad requests with a status and a message naming the problem", () => {
  type Request = {
    method?: "GET" | "POST" | "DELETE";
    url?: string;
    headers?: Record<string, string>;
    payload?: unknown;
    remote?: boolean;
  };
  const spec = (fields: object) => ({ input: "s3://videos/a.mp4", output: "OUT", ...fields });
  /** Submissions refused alike: a 400 with `message` for each [case, spec fields] (on the S3-only server with `remote`). */
  const refusedSpecs = (
    category: string,
    message: RegExp,
    rows: [string, object][],
    remote?: boolean,
  ): [string, string, Request, number, RegExp][] =>
    rows.map(([name, fields]) => [category, name, { remote, payload: spec(fields) }, 400, message]);
  // [category, case, request, status, message]
  const cases: [string, string, Request, number, RegExp][] = [
    // authentication
    ["auth", "no bearer token", { headers: {} }, 401, /missing or wrong bearer token/],
    [
      "auth",
      "wrong token of the same length",
      { headers: { authorization: `Bearer ${"x".repeat(token.length)}` } },
      401,
      /wrong bearer token/,
    ],
    [
      "auth",
      "wrong token, shorter",
      { headers: { authorization: "Bearer short" } },
      401,
      /wrong bearer token/,
    ],
    [
      "auth",
      "token as Basic credentials",
      { headers: { authorization: `Basic ${token}` } },
      401,
      /bearer token/,
    ],
    // the body itself
    [
      "body",
      "body over the size limit",
      { payload: spec({ classes: Array(20_000).fill("car") }) },
      413,
      /request body is over the 65536-byte limit/,
    ],
    [
      "body",
      "not JSON",
      { headers: { "content-type": "application/json" }, payload: "{input: a.mp4" },
      400,
      /not valid JSON/,
    ],
    [
      "body",
      "text/plain body",
      { headers: { "content-type": "text/plain" }, payload: "input=a.mp4" },
      415,
      /as JSON with content-type: application\/json/,
    ],
    [
      "body",
      "empty JSON body",
      { headers: { "content-type": "application/json" }, payload: "" },
      400,
      /body is empty/,
    ],
    ["body", "a JSON array", { payload: [spec({})] }, 400, /expected object/],
    [
      "body",
      "JSON null",
      { headers: { "content-type": "application/json" }, payload: "null" },
      400,
      /expected object/,
    ],
    [
      "body",
      "prototype pollution (__proto__ key)",
      {
        headers: { "content-type": "application/json" },
        payload: '{"input":"s3://v/a.mp4","output":"OUT","__proto__":{"admin":true}}',
      },
      400,
      /not valid JSON/,
    ],
    [
      "body",
      "deeply nested JSON",
      {
        headers: { "content-type": "application/json" },
        payload: `${"[".repeat(20_000)}${"]".repeat(20_000)}`,
      },
      400,
      /expected object/,
    ],
    // each field: missing, wrong type, out of range, huge, unicode
    ["spec", "missing input", { payload: { output: "OUT" } }, 400, /input: /],
    ["spec", "input is a number", { payload: spec({ input: 42 }) }, 400, /input: .*expected string/],
    [
      "spec",
      "input of 5000 characters",
      { payload: spec({ input: `s3://v/${"a".repeat(5000)}.mp4` }) },
      400,
      /input: .*(too big|<=4096)/i,
    ],
    [
      "spec",
      "input with a NUL byte",
      { payload: spec({ input: "s3://v/a\u0000.mp4" }) },
      400,
      /input: input must not contain NUL/,
    ],
    ["spec", "sampling as a string", { payload: spec({ sampling: "5fps" }) }, 400, /sampling/],
    ["spec", "sampling fps 0", { payload: spec({ sampling: { fps: 0 } }) }, 400, /sampling/],
    ["spec", "sampling fps 1e9", { payload: spec({ sampling: { fps: 1e9 } }) }, 400, /sampling/],
    ["spec", "sampling everyNth 2.5", { payload: spec({ sampling: { everyNth: 2.5 } }) }, 400, /sampling/],
    ["spec", "unknown mode", { payload: spec({ mode: "turbo" }) }, 400, /mode: /],
    [
      "spec",
      "latency budget 1e12 ms",
      { payload: spec({ latencyBudgetMs: 1e12 }) },
      400,
      /latencyBudgetMs: /,
    ],
    [
      "spec",
      "latency budget as text",
      { payload: spec({ latencyBudgetMs: "fast" }) },
      400,
      /latencyBudgetMs: /,
    ],
    ["spec", "φ 9", { payload: spec({ phi: { min: 0, max: 9 } }) }, 400, /phi\.max: unknown φ "9"/],
    ["spec", "φ given as a string", { payload: spec({ phi: "d0" }) }, 400, /phi: /],
    ["spec", "score threshold 1.5", { payload: spec({ scoreThreshold: 1.5 }) }, 400, /scoreThreshold: /],
    [
      "spec",
      "score threshold as text",
      { payload: spec({ scoreThreshold: "high" }) },
      400,
      /scoreThreshold: /,
    ],
    ["spec", "classes as a string", { payload: spec({ classes: "car" }) }, 400, /classes: /],
    ["spec", "classes empty", { payload: spec({ classes: [] }) }, 400, /classes: /],
    [
      "spec",
      "unicode class name",
      { payload: spec({ classes: ["🚗"] }) },
      400,
      /classes: unknown COCO class "🚗"/,
    ],
    ["spec", "priority 1e9", { payload: spec({ priority: 1e9 }) }, 400, /priority: /],
    ["spec", "priority 2.5", { payload: spec({ priority: 2.5 }) }, 400, /priority: /],
    ["spec", "maxFrames 0", { payload: spec({ maxFrames: 0 }) }, 400, /maxFrames: /],
    ["spec", "maxFrames 1e12", { payload: spec({ maxFrames: 1e12 }) }, 400, /maxFrames: /],
    [
      "spec",
      "unknown field",
      { payload: spec({ callbackUrl: "http://x" }) },
      400,
      /callbackUrl|Unrecognized/,
    ],
    // ffmpeg protocol tricks: an explicit list of input schemes, everything else refused
    [
      "protocol",
      "concat: input",
      { payload: spec({ input: "concat:/etc/passwd|/etc/hosts" }) },
      400,
      /input: .*concat: or file: are not accepted/,
    ],
    // The other schemes tried: each refused the same way.
    ...refusedSpecs("protocol", /input: .*not accepted/, [
      ["subfile: input", { input: "subfile:,,start,0,end,0,,:/etc/passwd" }],
      ["file: URL input", { input: "file:///etc/passwd" }],
      ["data: URL input", { input: "data:video/mp4;base64,AAAAIGZ0eXA=" }],
      ["pipe: input", { input: "pipe:0" }],
      ["tcp:// input", { input: "tcp://127.0.0.1:6379" }],
      ["ftp:// input", { input: "ftp://example.org/a.mp4" }],
      ["gopher:// input", { input: "gopher://127.0.0.1:6379/_FLUSHALL" }],
    ]),
    ...refusedSpecs(
      "protocol",
      /input: local file inputs are not accepted/,
      [
        ["local path where only remote inputs are allowed", { input: "/etc/passwd" }],
        ["relative path where only remote inputs are allowed", { input: "videos/a.mp4" }],
      ],
      true,
    ),
    // outputs confined to the configured bucket and prefix, or directory
    ...refusedSpecs("output", /output: output must not contain '\.\.'/, [
      ["'..' in a directory output", { output: `${"OUT"}/../../etc` }],
      ["'..' with backslashes", { output: "OUT\\..\\..\\etc" }],
    ]),
    [
      "output",
      "absolute directory outside the output root",
      { payload: spec({ output: "/etc/vdet" }) },
      400,
      /output: output \/etc\/vdet is outside the locations this server writes to/,
    ],
    [
      "output",
      "relative directory output",
      { payload: spec({ output: "results/a" }) },
      400,
      /output: directory outputs must be absolute/,
    ],
    [
      "output",
      "directory output on an S3-only server",
      { remote: true, payload: spec({ output: "/tmp/x" }) },
      400,
      /output: this server writes only to s3/,
    ],
    [
      "output",
      "S3 output in another bucket",
      { remote: true, payload: spec({ output: "s3://other-bucket/results/a" }) },
      400,
      /output: output bucket "other-bucket" is not one this server writes to/,
    ],
    [
      "output",
      "S3 output outside the prefix",
      { remote: true, payload: spec({ output: "s3://BUCKET/elsewhere/a" }) },
      400,
      /output: output s3:\/\/BUCKET\/elsewhere\/a\/ is outside/,
    ],
    [
      "output",
      "S3 output with '..'",
      { remote: true, payload: spec({ output: "s3://BUCKET/results/../elsewhere" }) },
      400,
      /output: output must not contain '\.\.'/,
    ],
    [
      "output",
      "S3 output with a '.' segment",
      { remote: true, payload: spec({ output: "s3://BUCKET/results/./a" }) },
      400,
      /output: .*'\.' segments are not allowed/,
    ],
    [
      "output",
      "S3 output with '//' (absolute key)",
      { remote: true, payload: spec({ output: "s3://BUCKET/results//etc/a" }) },
      400,
      /output: .*empty path segment/,
    ],
    [
      "output",
      "S3 output with a control character",
      { remote: true, payload: spec({ output: "s3://BUCKET/results/a\nb" }) },
      400,
      /output: .*control characters/,
    ],
    [
      "output",
      "gs:// output",
      { remote: true, payload: spec({ output: "gs://BUCKET/results/a" }) },
      400,
      /output: output must be s3:\/\/bucket\/prefix or a directory/,
    ],
    // job ids and idempotency keys cannot name paths
    [
      "ids",
      "idempotency key with '../'",
      { payload: spec({ idempotencyKey: "../../etc/passwd" }) },
      400,
      /idempotencyKey may use letters, digits/,
    ],
    [
      "ids",
      "absolute path as idempotency key",
      { payload: spec({ idempotencyKey: "/etc/passwd" }) },
      400,
      /idempotencyKey may use/,
    ],
    [
      "ids",
      "unicode idempotency key",
      { payload: spec({ idempotencyKey: "clé-🚗" }) },
      400,
      /idempotencyKey may use/,
    ],
    [
      "ids",
      "idempotency key of 300 characters",
      { payload: spec({ idempotencyKey: "k".repeat(300) }) },
      400,
      /idempotencyKey: /,
    ],
    [
      "ids",
      "job id with path traversal",
      { method: "GET", url: "/jobs/..%2F..%2Fetc%2Fpasswd" },
      400,
      /job ids are letters, digits, _ and -/,
    ],
    [
      "ids",
      "job id with a Redis glob",
      { method: "DELETE", url: "/jobs/j_*" },
      400,
      /job ids are letters, digits/,
    ],
    [
      "ids",
      "job id with a NUL byte",
      { method: "GET", url: "/jobs/j_%00" },
      400,
      /job ids are letters, digits/,
    ],
    ["ids", "unknown job id", { method: "GET", url: "/jobs/j_doesnotexist" }, 404, /no job j_doesnotexist/],
  ];

  for (const [category, name, request, status, message] of cases) {
    test(`${category}: ${name} → ${status}`, async () => {
      const app = request.remote ? remoteApi : localApi;
      const resolve = (value: unknown): unknown =>
        value === undefined
          ? undefined
          : JSON.parse(JSON.stringify(value).replaceAll("OUT", outRoot).replaceAll("BUCKET", bucket));
      const pattern = new RegExp(message.source.replaceAll("BUCKET", bucket));
      // The auth cases send only their own headers; the others are authenticated.
      const headers = category === "auth" ? (request.headers ?? {}) : { ...auth, ...request.headers };
      const payload = typeof request.payload === "string" ? request.payload : resolve(request.payload);
      const response = await app.inject({
        method: request.method ?? "POST",
        url: request.url ?? "/jobs",
        headers,
        ...(request.payload === undefined ? {} : { payload: payload as string }),
      });
      const body = response.json();
      outcomes.add(category, name, `HTTP ${response.statusCode}: ${body.error}`);
      assert.equal(response.statusCode, status, response.body.slice(0, 500));
      assert.match(body.error, pattern);
    });
  }

  test("auth: the token is required on every route but the health checks", async () => {
    for (const [method, url] of [
      ["GET", "/jobs"],
      ["GET", "/jobs/j_x"],
      ["DELETE", "/jobs/j_x"],
      ["POST", "/jobs"],
    ] as const) {
      assert.equal((await localApi.inject({ method, url })).statusCode, 401, `${method} ${url}`);
    }
    assert.equal((await localApi.inject({ method: "GET", url: "/healthz" })).statusCode, 200);
  });
});

describe("accepted jobs with bad inputs fail with a reason; good jobs alongside complete", () => {
  test("the corpus", async () => {
    // The good job goes first, so the bad ones run while it is in flight.
    const goodOutput = join(outRoot, "good-first");
    const good = await submit(localApi, { input: goodClip, output: goodOutput, sampling: { fps: 2 } });
    const out = (name: string) => join(outRoot, name);
    const s3out = (name: string) => `s3://${bucket}/results/${name}`;
    // [category, case, api, input, sampling, reason the job fails with]
    const cases: [string, string, "local" | "remote", string, object, RegExp][] = [
      [
        "not a video",
        "random bytes",
        "local",
        files.random,
        {},
        /not a readable video|moov atom not found|no index/,
      ],
      ["not a video", "a text file", "local", files.text, {}, /not a readable video|Invalid data|no index/],
      ["not a video", "a PNG image", "local", files.png, {}, /"png_pipe" is not an accepted video container/],
      [
        "not a video",
        "a web page served as .mp4",
        "remote",
        `${httpBase}/page.mp4`,
        {},
        /no index|not a readable video/,
      ],
      ["broken", "zero-length file", "local", files.empty, {}, /video file is empty \(0 bytes\)/],
      ["broken", "truncated MP4", "local", files.truncated, {}, /the MP4 has no index \(moov atom\)/],
      ["broken", "a directory named .mp4", "local", files.directory, {}, /not a regular file/],
      ["broken", "a device (/dev/zero)", "local", "/dev/zero", {}, /not a regular file/],
      ["broken", "audio only", "local", files.audioOnly, {}, /no video stream|matches no streams/i],
      [
        "broken",
        "unsupported codec",
        "local",
        files.unknownCodec,
        {},
        /codec .*cannot be decoded by this ffmpeg/,
      ],
      [
        "limits",
        "resolution over the limit (720×480 > 640)",
        "local",
        files.tooWide,
        {},
        /720×480, wider than the 640-pixel limit \(VDET_MAX_WIDTH\)/,
      ],
      [
        "limits",
        "huge resolution in the header (8000×8000)",
        "local",
        files.hugeHeader,
        {},
        /8000×8000, wider than the 640-pixel limit/,
      ],
      [
        "limits",
        "frame count over the limit (40 > 30)",
        "local",
        files.tooManyFrames,
        { everyNth: 1 },
        /give 40 frames, over the 30-frame limit \(VDET_MAX_FRAMES\)/,
      ],
      [
        "limits",
        "duration over the limit (12 s > 10 s)",
        "local",
        files.tooLong,
        {},
        /12\.0 s long, over the 10 s limit \(VDET_MAX_DURATION_SECONDS\)/,
      ],
      [
        "limits",
        "file over the byte limit",
        "local",
        files.tooBig,
        {},
        /over the 1048576-byte limit \(VDET_MAX_INPUT_BYTES\)/,
      ],
      [
        "limits",
        "S3 object over the byte limit",
        "remote",
        `s3://${bucket}/in/big.mp4`,
        {},
        /over the 1048576-byte limit \(VDET_MAX_INPUT_BYTES\)/,
      ],
      ["missing", "missing local file", "local", join(dir, "nowhere.mp4"), {}, /video file does not exist/],
      [
        "missing",
        "missing S3 object",
        "remote",
        `s3://${bucket}/in/nowhere.mp4`,
        {},
        /no object at s3:\/\/.*\/in\/nowhere\.mp4/,
      ],
      [
        "missing",
        "missing S3 bucket",
        "remote",
        "s3://no-such-bucket-vdet/in/a.mp4",
        {},
        /no-such-bucket-vdet/,
      ],
      ["missing", "HTTP 404", "remote", `${httpBase}/nowhere.mp4`, {}, /video not found.*404/],
      [
        "network",
        "unreachable URL (connection refused)",
        "remote",
        "http://127.0.0.1:1/a.mp4",
        {},
        /could not read the video over the network.*Connection refused/,
      ],
      [
        "network",
        "server sends headers, then nothing",
        "remote",
        `${httpBase}/stall-headers.mp4`,
        {},
        /no answer within 4000 ms|no progress from ffmpeg/,
      ],
      [
        "network",
        "server stops in the middle of the body",
        "remote",
        `${httpBase}/stall-body.mp4`,
        {},
        /no answer within 4000 ms|no progress from ffmpeg/,
      ],
      [
        "protocol",
        "HLS playlist with a file:// segment",
        "remote",
        `${httpBase}/file-segment.m3u8`,
        {},
        /Protocol 'file' not on whitelist|not a readable video/,
      ],
      [
        "protocol",
        "HLS playlist pointing at /etc/passwd",
        "remote",
        `${httpBase}/passwd-segment.m3u8`,
        {},
        /file:\/\/\/etc\/passwd/,
      ],
      [
        "protocol",
        "HLS playlist with a concat: segment",
        "remote",
        `${httpBase}/concat-segment.m3u8`,
        {},
        /not a readable video|no index|Invalid data/,
      ],
      [
        "protocol",
        "HTTP redirect to file://",
        "remote",
        `${httpBase}/redirect.mp4`,
        {},
        /not on whitelist|could not read|not a readable video|Invalid/,
      ],
      [
        "secrets",
        "URL credentials and signature are kept out of errors",
        "remote",
        "http://user:hunter2@127.0.0.1:1/a.mp4?X-Amz-Signature=topsecret",
        {},
        /Connection refused.*\[input: http:\/\/<redacted>@127\.0\.0\.1:1\/a\.mp4\?<redacted>\]/,
      ],
    ];
    const submitted: { id: string; category: string; name: string; reason: RegExp; output: string }[] = [];
    for (const [i, [category, name, api, input, sampling, reason]] of cases.entries()) {
      const output = api === "local" ? out(`bad-${i}`) : s3out(`bad-${i}`);
      const payload = { input, output, ...(Object.keys(sampling).length > 0 ? { sampling } : {}) };
      const id = await submit(api === "local" ? localApi : remoteApi, payload);
      submitted.push({ id, category, name, reason, output });
    }
    await waitFinished([good, ...submitted.map((s) => s.id)]);

    const problems: string[] = [];
    for (const { id, category, name, reason } of submitted) {
      const job = (await jobStore.get(id))!;
      const message = job.errors.map((e) => `${e.stage}: ${e.message}`).join(" | ");
      outcomes.add(category, name, `job ${job.state}: ${message}`);
      if (job.state !== "failed") problems.push(`${name}: state ${job.state}`);
      else if (!reason.test(message))
        problems.push(`${name}: reason ${JSON.stringify(message)} does not match ${reason}`);
      else if (/hunter2|topsecret/.test(message)) problems.push(`${name}: a secret reached the job's errors`);
      else if (job.progress.written !== 0 || job.progress.total !== 0) {
        problems.push(`${name}: ${job.progress.written} frames written, total ${job.progress.total}`);
      }
    }
    assert.deepEqual(problems, []);
    assert.equal(finished.get(good), "completed");
    assertComplete(goodOutput, 4);
    assert.ok(
      submitted.length + 0 >= 28,
      `the corpus has ${submitted.length} accepted bad inputs (with the API cases, well over 30 in all)`,
    );
  });
});

describe("poison messages on every queue go to the dead letters with the reason; the stages carry on", () => {
  test("schema failures are dead-lettered, then a good job completes", async () => {
    const poison: [keyof typeof QUEUE_NAMES, string, unknown, RegExp][] = [
      [
        "jobs",
        "job id with path traversal",
        { jobId: "../../etc/passwd" },
        /invalid jobs message: jobId: job ids are letters/,
      ],
      ["jobs", "not an object", "j_123", /invalid jobs message: \(root\): /],
      [
        "frames",
        "negative chunk, no frames",
        { jobId: "j_x", chunk: -1, frames: [] },
        /invalid frames message: chunk: /,
      ],
      [
        "frames",
        "frame size of 1e9",
        { jobId: "j_x", chunk: 0, frames: [{ index: 0, ptsMs: 0, key: "k" }], size: 1e9 },
        /invalid frames message: .*size/,
      ],
      ["results", "chunk as text", { jobId: "j_x", chunk: "seven" }, /invalid results message: chunk: /],
      [
        "segments",
        "segment of no frames",
        { jobId: "j_x", segment: 0, source: { kind: "input", input: "a.mp4" }, firstIndex: 0, frames: 0 },
        /invalid segments message: .*frames/,
      ],
      [
        "results",
        "packed detections that disagree with their counts",
        {
          jobId: "j_x",
          chunk: 0,
          packed: { boxUnits: 32, indices: [0], ptsMs: [0], phi: [0], counts: [2], data: "AAAA" },
          worker: "w",
          queueMs: 0,
          computeMs: 0,
        },
        /invalid results message: packed\.data: holds 3 bytes, not 2 detections × 12/,
      ],
      ["events", "unknown event type", { type: "explode", jobId: "j_x" }, /invalid events message: type: /],
      [
        "events",
        "unicode job id",
        {
          type: "decoded",
          jobId: "j_🚗",
          totalFrames: 0,
          chunks: 0,
          video: null,
          error: null,
          cancelled: false,
        },
        /invalid events message: jobId: /,
      ],
    ];
    {
      // Straight onto the queues, as a buggy or hostile client with Redis access would (add does not validate).
      for (const [queue, name, data] of poison) {
        await transport[queue].add(data as never, { id: `poison-${name.replace(/[^a-z0-9]/gi, "-")}` });
      }
      const expected = (queue: keyof typeof QUEUE_NAMES) => poison.filter(([q]) => q === queue).length;
      const letters = async () =>
        Object.fromEntries(
          await Promise.all(
            (Object.keys(QUEUE_NAMES) as (keyof typeof QUEUE_NAMES)[]).map(
              async (q) =>
                [q, (await transport[q].deadLetters()).filter((l) => l.id.startsWith("poison-"))] as const,
            ),
          ),
        );
      let dead = await letters();
      for (
        let i = 0;
        i < 200 && Object.entries(dead).some(([q, l]) => l.length < expected(q as never));
        i++
      ) {
        await new Promise((r) => setTimeout(r, 50));
        dead = await letters();
      }
      for (const [queue, name, , reason] of poison) {
        const letter = dead[queue].find((l) => l.id === `poison-${name.replace(/[^a-z0-9]/gi, "-")}`);
        outcomes.add(
          "poison",
          `${queue}: ${name}`,
          letter ? `dead letter: ${letter.reason}` : "not dead-lettered",
        );
        assert.ok(letter, `${queue}: ${name} is in the dead letters`);
        assert.match(letter.reason, reason);
      }
    }
    // Every stage is still taking work.
    const output = join(outRoot, "good-after-poison");
    const good = await submit(localApi, { input: goodClip, output, sampling: { everyNth: 5 } });
    await waitFinished([good]);
    assert.equal(finished.get(good), "completed");
    assertComplete(output, 4);
  });
});

describe("limits the API and the producer enforce on their own", () => {
  test("concurrent jobs: beyond maxActiveJobs a submission gets 429; a finished job frees its place", async () => {
    const memory = createMemoryTransport();
    const store = new MemoryJobStore();
    const app = await buildLocalApi({
      transport: memory,
      jobStore: store,
      token,
      maxActiveJobs: 2,
    });
    try {
      const body = (n: number) => ({ input: goodClip, output: join(outRoot, `limit-${n}`) });
      const first = await submit(app, body(1));
      await submit(app, body(2));
      const refused = await app.inject({ method: "POST", url: "/jobs", headers: auth, payload: body(3) });
      outcomes.add(
        "limits",
        "third job over maxActiveJobs 2",
        `HTTP ${refused.statusCode}: ${refused.json().error}`,
      );
      assert.equal(refused.statusCode, 429);
      assert.equal(refused.headers["retry-after"], "10");
      assert.match(
        refused.json().error,
        /2 jobs are queued or running, this server's limit \(2, VDET_MAX_ACTIVE_JOBS\)/,
      );
      await store.setState(first, "failed");
      await submit(app, body(4));
    } finally {
      await app.close();
      await memory.close();
    }
  });

  test("the Redis job store counts active jobs until they end", async () => {
    const countPrefix = `${prefix}-count`;
    const store = new RedisJobStore(redis, countPrefix);
    try {
      const a = await store.create({ ...baseSpec(), output: join(outRoot, "c1") });
      await store.create({ ...baseSpec(), output: join(outRoot, "c2") });
      assert.equal(await store.countActive(), 2);
      await store.setState(a.job.id, "running");
      assert.equal(await store.countActive(), 2);
      await store.setState(a.job.id, "completed");
      assert.equal(await store.countActive(), 1);
    } finally {
      await deleteKeysWithPrefix(redis, countPrefix);
    }
  });

  test("a producer that reads only remote inputs fails a local path that bypassed the API", async () => {
    const memory = createMemoryTransport();
    const store = new MemoryJobStore();
    const producer = startProducer({
      transport: memory,
      jobStore: store,
      allowedInputKinds: ["url", "hls", "rtsp", "stream"],
    });
    try {
      const { job } = await store.create({ ...baseSpec(), input: goodClip, output: join(outRoot, "bypass") });
      await memory.jobs.add({ jobId: job.id });
      let errors: string[] = [];
      for (let i = 0; i < 100 && errors.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 20));
        errors = (await store.get(job.id))!.errors.map((e) => e.message);
      }
      outcomes.add("protocol", "local path injected past the API", `job error: ${errors[0]}`);
      assert.match(errors[0] ?? "", /input kind "file" is not allowed here/);
      assert.equal((await store.get(job.id))!.progress.decoded, 0);
    } finally {
      await producer.close();
      await memory.close();
    }
  });
});

function baseSpec() {
  return {
    input: "s3://videos/a.mp4",
    output: "/tmp/x",
    sampling: { fps: 5 },
    mode: "archive" as const,
    phi: { min: 0 as const, max: 0 as const },
    scoreThreshold: 0.3,
    priority: 5,
  };
}

describe("corrupt model files give a clear error naming the file", () => {
  test("checkpoints and ONNX files that are corrupt, truncated or empty", async () => {
    const good = build({ phi: 0, seed: 1, imageSize: 128 });
    const bad: [string, Uint8Array, RegExp][] = [
      [
        "random bytes as .pth",
        noise(4096, 7),
        /cannot load the model D0 from .*d0-random\.pth: .*complete \.pth or \.safetensors/,
      ],
      [
        "empty .safetensors",
        new Uint8Array(0),
        /cannot load the model D0 from .*d0-empty\.safetensors: the file is empty/,
      ],
      [
        "truncated .safetensors header",
        new Uint8Array([0xff, 0xff, 0, 0, 0, 0, 0, 0, 0x7b]),
        /cannot load the model D0 from .*d0-truncated\.safetensors: /,
      ],
      [
        "a text file as .onnx",
        new TextEncoder().encode("not a model\n".repeat(20)),
        /cannot load the model D0 from .*d0-text\.onnx: .*rebuild it with `vdet model build/,
      ],
      [
        "truncated .onnx",
        good.subarray(0, Math.floor(good.length / 2)),
        /cannot load the model D0 from .*d0-cut\.onnx: /,
      ],
    ];
    const names = [
      "d0-random.pth",
      "d0-empty.safetensors",
      "d0-truncated.safetensors",
      "d0-text.onnx",
      "d0-cut.onnx",
    ];
    for (const [i, [name, bytes, message]] of bad.entries()) {
      const path = join(dir, names[i]);
      writeFileSync(path, bytes);
      const provider = createModelProvider({ weights: { "0": path } });
      try {
        await assert.rejects(provider.detector(0), (error: unknown) => {
          assert.ok(error instanceof ModelLoadError, String(error));
          outcomes.add("model", name, `ModelLoadError: ${error.message}`);
          assert.match(error.message, message);
          return true;
        });
      } finally {
        await provider.close();
      }
    }
    // A missing file is named too.
    const missing = createModelProvider({ weights: { "0": join(dir, "absent.pth") } });
    await assert.rejects(
      missing.detector(0),
      /cannot load the model D0 from .*absent\.pth: ".*absent\.pth" is neither a file nor a cached model/,
    );
    await missing.close();
  });

  test("a worker with a corrupt checkpoint refuses to start, naming it", async () => {
    const path = join(dir, "worker-d0.pth");
    writeFileSync(path, noise(2048, 3));
    const config = loadConfig(workerConfigSchema, {
      VDET_WEIGHTS: `0=${path}`,
      VDET_PRELOAD: "0",
      VDET_REDIS_URL: REDIS_URL,
      VDET_PREFIX: prefix,
    });
    await assert.rejects(startWorkerRole(config, pino({ level: "silent" })), (error: unknown) => {
      assert.ok(error instanceof ModelLoadError);
      outcomes.add("model", "worker start with a corrupt checkpoint", `${error.name}: ${error.message}`);
      assert.match(error.message, /worker-d0\.pth/);
      return true;
    });
  });
});
