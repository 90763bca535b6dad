// S3 faults under a whole job: the services (api, producer, worker, aggregator in this process, over the real
// Redis) read their input from and write their results to s3rver through a fault-injecting proxy. Each transient
// fault must leave outputs byte-identical to a fault-free run; a fault that persists must fail the job clearly
// with no partial object under the output prefix.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { isTerminal } from "@vdet/protocol";
import type { RunningRole } from "@vdet/roles";
import {
  type Fault,
  type FaultPlan,
  type FaultProxy,
  type ProxiedRequest,
  startFaultProxy,
  startTestS3,
  type TestS3,
} from "@vdet/storage/testing";
import { makeTestClip } from "@vdet/video/testing";
import { pino } from "pino";
import { OutcomeLog } from "./support/outcomes.ts";
import { closeRoles, s3rverEnv, startRoles } from "./support/roles.ts";

const prefix = `vdet-s3f-${randomUUID().slice(0, 8)}`;
const token = "s3-faults-token-0123456789abcdef";
const dir = mkdtempSync(join(tmpdir(), "vdet-s3f-"));
const logger = pino({ level: "silent" });
const outcomes = new OutcomeLog("s3-faults");
const OUTPUT_FILES = ["manifest.json", "summary.json", "tracks.jsonl", "tracks.mot.txt"];
let s3server: TestS3;
let s3: S3Client;
let proxy: FaultProxy;
let bucket = "";
let apiUrl = "";
let plan: FaultPlan = () => undefined;
const roles: RunningRole[] = [];
const savedEnv = { ...process.env };
let baseline: Map<string, Buffer>;

before(async () => {
  s3server = await startTestS3();
  s3 = s3server.client();
  bucket = await s3server.createBucket();
  proxy = await startFaultProxy(s3server.port, (request) => plan(request));
  // The roles build their S3 clients from the environment: point them at the proxy, with short backoffs' worth
  // of attempts so that a persistent fault ends the job in seconds.
  Object.assign(process.env, s3rverEnv(proxy.endpoint), {
    VDET_S3_MAX_ATTEMPTS: "4",
    VDET_S3_IDLE_TIMEOUT_MS: "3000",
  });
  const clip = await makeTestClip(join(dir, "clip.mp4"), 2, 10);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "in/clip.mp4", Body: readFileSync(clip) }));
  apiUrl = await startRoles(roles, prefix, token, logger);
  const job = await runJob("baseline");
  assert.equal(job.state, "completed", JSON.stringify(job.errors));
  baseline = await outputs("baseline");
});

after(async () => {
  outcomes.flush();
  await closeRoles(roles, prefix);
  await proxy?.close();
  await s3server?.close();
  process.env = savedEnv;
  rmSync(dir, { recursive: true, force: true });
});

interface JobBody {
  id: string;
  state: string;
  errors: unknown[];
}

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; job: JobBody }> {
  const response = await fetch(new URL(path, apiUrl), {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const parsed = (await response.json()) as { job: JobBody; error?: string };
  assert.ok(parsed.job, `${method} ${path}: HTTP ${response.status} ${parsed.error}`);
  return { status: response.status, job: parsed.job };
}

async function runJob(name: string): Promise<JobBody> {
  const created = await api("POST", "/jobs", {
    input: `s3://${bucket}/in/clip.mp4`,
    output: `s3://${bucket}/out/${name}`,
    sampling: { fps: 5 },
    scoreThreshold: 0,
  });
  assert.equal(created.status, 201);
  for (let i = 0; i < 1200; i++) {
    const { job } = await api("GET", `/jobs/${created.job.id}`);
    if (isTerminal(job.state)) return job;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${name} did not finish in 120 s`);
}

/** Every object under out/NAME/ (read directly from s3rver, not through the proxy). */
async function outputs(name: string): Promise<Map<string, Buffer>> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `out/${name}/` }));
  const files = new Map<string, Buffer>();
  for (const object of listed.Contents ?? []) {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key! }));
    files.set(object.Key!.slice(`out/${name}/`.length), Buffer.from(await got.Body!.transformToByteArray()));
  }
  return files;
}

/** The manifest without what differs between any two runs of the same job (ids, locations, timings). */
function stableManifest(bytes: Buffer): unknown {
  const manifest = JSON.parse(bytes.toString("utf8"));
  return { frames: manifest.frames, video: manifest.video, phi: manifest.phi ?? manifest.phiHistogram };
}

/** summary.json without its job id. */
function stableSummary(bytes: Buffer): unknown {
  const { jobId: _, ...rest } = JSON.parse(bytes.toString("utf8"));
  return rest;
}

/** Applies `fault` to the first `times` requests that `matches` selects, per distinct method and URL. */
function faultEach(
  matches: (request: ProxiedRequest) => boolean,
  fault: Fault,
  times = 1,
): { plan: FaultPlan; hits: () => number } {
  const seen = new Map<string, number>();
  let hits = 0;
  return {
    plan: (request) => {
      if (!matches(request)) return undefined;
      const key = `${request.method} ${request.url}`;
      const count = seen.get(key) ?? 0;
      seen.set(key, count + 1);
      if (count >= times) return undefined;
      hits++;
      return fault;
    },
    hits: () => hits,
  };
}

const writesTo = (name: string) => (r: ProxiedRequest) =>
  ["PUT", "POST"].includes(r.method) && r.url.includes(`/out/${name}/`);
const inputReads = (r: ProxiedRequest) => r.method === "GET" && r.url.includes("/in/clip.mp4");

const transient: {
  name: string;
  what: string;
  matches: (name: string) => (r: ProxiedRequest) => boolean;
  fault: Fault;
  times?: number;
}[] = [
  {
    name: "status-500",
    what: "HTTP 500 InternalError on every output write, twice each",
    matches: writesTo,
    fault: { kind: "status", status: 500, code: "InternalError" },
    times: 2,
  },
  {
    name: "slowdown-503",
    what: "HTTP 503 SlowDown on every output write, twice each",
    matches: writesTo,
    fault: { kind: "status", status: 503, code: "SlowDown", message: "Please reduce your request rate." },
    times: 2,
  },
  {
    name: "reset-upload",
    what: "connection reset mid-upload (after 16 bytes of each output write's body)",
    matches: writesTo,
    fault: { kind: "reset-request", afterBytes: 16 },
  },
  {
    name: "reset-response",
    what: "connection reset mid-response (after 4 KiB of the input video's GET body)",
    matches: () => inputReads,
    fault: { kind: "reset-response", afterBytes: 4096 },
  },
  {
    name: "lost-response",
    what: "response lost after the store acted on each output write",
    matches: writesTo,
    fault: { kind: "lose-response" },
  },
  {
    name: "slow",
    what: "every request to the output and input delayed 400 ms",
    matches: (name) => (r) => writesTo(name)(r) || inputReads(r),
    fault: { kind: "delay", ms: 400 },
  },
];

for (const c of transient) {
  test(`S3 fault under a job: ${c.what} → completes with outputs identical to a fault-free run`, async (t) => {
    const injected = faultEach(c.matches(c.name), c.fault, c.times);
    plan = injected.plan;
    let job: JobBody;
    try {
      job = await runJob(c.name);
    } finally {
      plan = () => undefined;
    }
    assert.ok(injected.hits() > 0, `the ${c.name} fault was never injected`);
    assert.equal(job.state, "completed", JSON.stringify(job.errors));
    const got = await outputs(c.name);
    assert.deepEqual([...got.keys()].sort(), OUTPUT_FILES, "exactly the four outputs, no parts left behind");
    for (const file of ["tracks.jsonl", "tracks.mot.txt"]) {
      assert.ok(got.get(file)!.equals(baseline.get(file)!), `${file} differs from the fault-free run`);
    }
    assert.deepEqual(stableSummary(got.get("summary.json")!), stableSummary(baseline.get("summary.json")!));
    assert.deepEqual(
      stableManifest(got.get("manifest.json")!),
      stableManifest(baseline.get("manifest.json")!),
    );
    outcomes.add(
      "s3",
      c.what,
      `job completed; ${injected.hits()} fault(s) injected and retried; outputs byte-identical to a fault-free run`,
      t.name,
    );
  });
}

test("S3 fault under a job: HTTP 500 on every output write, persistently → job fails clearly, nothing partial visible", async (t) => {
  const name = "persistent";
  const injected = faultEach(writesTo(name), { kind: "status", status: 500, code: "InternalError" }, 1e9);
  plan = injected.plan;
  let job: JobBody;
  try {
    job = await runJob(name);
  } finally {
    plan = () => undefined;
  }
  assert.ok(injected.hits() >= 4, `expected retries before giving up, saw ${injected.hits()} write(s)`);
  assert.equal(job.state, "failed", `a job whose every write fails must fail, not ${job.state}`);
  const message = JSON.stringify(job.errors);
  assert.match(
    message,
    /InternalError|500|S3/i,
    `the job's error should name the store's failure: ${message}`,
  );
  assert.deepEqual(
    [...(await outputs(name)).keys()],
    [],
    "no object, partial or whole, under the output prefix",
  );
  outcomes.add(
    "s3",
    "HTTP 500 InternalError on every output write, persistently",
    `job failed: ${message}`,
    t.name,
  );
});
