// The upload Lambda's handler against the real vdet api (in process, memory transport and job store), fed S3
// event notifications in the shape S3 sends them.

import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { buildServer } from "@vdet/api";
import { MemoryJobStore } from "@vdet/jobs";
import { createMemoryTransport } from "@vdet/transport";
import { build } from "esbuild";
import { LAMBDA_BUNDLING } from "./stack.ts";
import { ApiUnavailableError, type S3Event, type SubmitConfig, submitUploads } from "./submit-on-upload.ts";

/** One record as S3 sends it (event version 2.1). */
function s3Record(eventName: string, bucket: string, key: string, eTag: string) {
  return {
    eventVersion: "2.1",
    eventSource: "aws:s3",
    awsRegion: "eu-west-1",
    eventTime: "2026-11-28T12:00:00.000Z",
    eventName,
    userIdentity: { principalId: "AWS:AIDAEXAMPLE" },
    requestParameters: { sourceIPAddress: "203.0.113.7" },
    responseElements: {
      "x-amz-request-id": "C3D13FE58DE4C810",
      "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD",
    },
    s3: {
      s3SchemaVersion: "1.0",
      configurationId: "vdet-uploads",
      bucket: {
        name: bucket,
        ownerIdentity: { principalId: "A3NL1KOZZKExample" },
        arn: `arn:aws:s3:::${bucket}`,
      },
      object: { key, size: 1024, eTag, sequencer: "0055AED6DCD90281E5" },
    },
  };
}

const transport = createMemoryTransport();
const jobStore = new MemoryJobStore();
const token = "u".repeat(32);
let app: Awaited<ReturnType<typeof buildServer>>;
let config: SubmitConfig;

before(async () => {
  app = await buildServer({ transport, jobStore, token, allowedOutputBuckets: ["vdet-output"] });
  const apiUrl = await app.listen({ host: "127.0.0.1", port: 0 });
  config = { apiUrl, token, outputBucket: "vdet-output", outputPrefix: "results/", fps: 2, phi: 1 };
});
after(async () => {
  await app.close();
  await transport.close();
});

test("one job per uploaded video; encoded keys decoded; other files and events skipped; redelivery idempotent", async () => {
  const event: S3Event = {
    Records: [
      s3Record(
        "ObjectCreated:Put",
        "vdet-input",
        "cams/front+door/clip%281%29.MP4",
        "d41d8cd98f00b204e9800998ecf8427e",
      ),
      s3Record(
        "ObjectCreated:CompleteMultipartUpload",
        "vdet-input",
        "archive/2024/a.mkv",
        "9b2cf535f27731c974343645a3985328",
      ),
      s3Record("ObjectCreated:Put", "vdet-input", "notes/readme.txt", "0cc175b9c0f1b6a831c399e269772661"),
      s3Record("ObjectRemoved:Delete", "vdet-input", "old/b.mp4", ""),
    ],
  };
  const first = await submitUploads(event, config);
  assert.deepEqual(
    first.map((r) => [r.object, r.outcome]),
    [
      ["s3://vdet-input/cams/front door/clip(1).MP4", "submitted"],
      ["s3://vdet-input/archive/2024/a.mkv", "submitted"],
      ["s3://vdet-input/notes/readme.txt", "skipped"],
      ["s3://vdet-input/old/b.mp4", "skipped"],
    ],
  );
  const id = (first[0] as { jobId: string }).jobId;
  const job = await jobStore.get(id);
  assert.equal(job?.spec.input, "s3://vdet-input/cams/front door/clip(1).MP4");
  assert.equal(job?.spec.output, "s3://vdet-output/results/cams/front door/clip(1)/");
  assert.deepEqual(job?.spec.sampling, { fps: 2 });
  assert.deepEqual(job?.spec.phi, { min: 1, max: 1 });
  assert.equal((await transport.jobs.counts()).waiting, 2, "two jobs queued for the producer");

  // S3 may deliver the same event again: same jobs, nothing new queued.
  const again = await submitUploads(event, config);
  assert.deepEqual(
    again.filter((r) => r.outcome !== "skipped").map((r) => [r.outcome, (r as { jobId: string }).jobId]),
    first.filter((r) => r.outcome !== "skipped").map((r) => ["existing", (r as { jobId: string }).jobId]),
  );
  assert.equal((await transport.jobs.counts()).waiting, 2);

  // A new version of the same object (new ETag) is a new job.
  const replaced = await submitUploads(
    {
      Records: [
        s3Record("ObjectCreated:Put", "vdet-input", "archive/2024/a.mkv", "ffffffffffffffffffffffffffffffff"),
      ],
    },
    config,
  );
  assert.equal(replaced[0].outcome, "submitted");
});

test("a spec the api refuses is reported, not retried; a wrong token or an unreachable api throws", async () => {
  const record = s3Record("ObjectCreated:Put", "vdet-input", "x.mp4", "aa");
  const refused = await submitUploads({ Records: [record] }, { ...config, outputBucket: "someone-elses" });
  assert.equal(refused[0].outcome, "rejected");
  assert.match((refused[0] as { error: string }).error, /not one this server writes to/);

  await assert.rejects(
    submitUploads({ Records: [record] }, { ...config, token: "w".repeat(32) }),
    ApiUnavailableError,
  );
  await assert.rejects(
    submitUploads({ Records: [record] }, { ...config, apiUrl: "http://127.0.0.1:9" }),
    ApiUnavailableError,
  );
});

test("the handler bundles as the stack bundles it: small, only Node built-ins and the runtime's AWS SDK outside", async () => {
  const result = await build({
    entryPoints: [fileURLToPath(new URL("submit-on-upload.ts", import.meta.url))],
    bundle: true,
    platform: "node",
    format: LAMBDA_BUNDLING.format,
    target: LAMBDA_BUNDLING.target,
    external: [...LAMBDA_BUNDLING.externalModules],
    write: false,
    metafile: true,
  });
  const [output] = Object.values(result.metafile.outputs);
  const outside = output.imports.filter((i) => i.external).map((i) => i.path);
  const builtins = new Set(builtinModules.map((m) => `node:${m}`));
  assert.deepEqual(
    outside.filter((p) => !builtins.has(p)),
    ["@aws-sdk/client-secrets-manager"],
    "nothing but the SDK client the runtime ships is left to resolve at run time",
  );
  assert.ok(output.bytes < 20_000, `bundle is ${output.bytes} bytes`);
  // The bundle loads and exports the handler the stack names ("index.handler").
  const file = fileURLToPath(new URL(`.bundle-test-${process.pid}.mjs`, import.meta.url));
  writeFileSync(file, result.outputFiles[0].contents);
  try {
    const module = (await import(file)) as { handler?: unknown };
    assert.equal(typeof module.handler, "function");
  } finally {
    rmSync(file, { force: true });
  }
});
