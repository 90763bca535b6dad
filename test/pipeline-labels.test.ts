// A model imported with its own labels (`vdet models import --classes`) names its classes everywhere: local runs,
// the job's `classes` filter, the api's check, and the distributed path, where a `vdet worker` publishes what it
// runs to Redis and the producer and aggregator read it there.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type RoleProcess, startRole } from "@vdet/cli/testing";
import { build, constructGraph, SeededWeights } from "@vdet/effdet";
import { DeploymentKeys, MemoryJobStore, MemoryModelRegistry, RedisModelRegistry } from "@vdet/jobs";
import { importModel, ModelCache } from "@vdet/models";
import { deploymentModels, runLocal } from "@vdet/pipeline";
import { parseJobSpec } from "@vdet/protocol";
import type { StateDict } from "@vdet/tensorio";
import { createMemoryTransport, redisOptionsFromUrl } from "@vdet/transport";
import { makeTestClip } from "@vdet/video/testing";
import { Redis } from "ioredis";
import { buildLocalApi } from "./support/local-api.ts";
import { REDIS_URL, startRedisPipeline } from "./support/redis-pipeline.ts";
import { parseTracks } from "./support/tracks.ts";

const LABELS = ["parcel", "envelope", "pallet"];
const dir = mkdtempSync(join(tmpdir(), "vdet-labels-"));
// The model cache the pipeline resolves names in (this test file runs in its own process).
process.env.VDET_HOME = join(dir, "home");
let clip = "";

before(async () => {
  clip = await makeTestClip(join(dir, "clip.mp4"), 2, 10);
  // A small 3-class D0 (seeded, 128 px input: fast) imported like a user's fine-tuned model. Its class bias is
  // raised so that it is confident (scores ≈ 0.8): the tracker starts tracks only above 0.7.
  const graph = constructGraph({ phi: 0, seed: 3, variant: "raw", numClasses: 3, imageSize: 128 });
  const seeded = new SeededWeights(3);
  const weights: StateDict = new Map();
  for (const [key, shape] of graph.stateDictShapes) {
    const data = seeded.tensor(key, shape).materialize();
    if (key === "class_net.predict.conv_pw.bias") for (let i = 0; i < data.length; i++) data[i] += 6;
    weights.set(key, { dtype: "F32", shape: [...shape], data });
  }
  const onnx = join(dir, "parcels.onnx");
  writeFileSync(onnx, build({ phi: 0, weights, imageSize: 128, numClasses: 3 }));
  const labels = join(dir, "labels.txt");
  writeFileSync(labels, `${LABELS.join("\n")}\n`);
  await importModel(onnx, { phi: 0, classesFile: labels, name: "parcels", cache: new ModelCache() });
});
after(() => rmSync(dir, { recursive: true, force: true }));

interface Outputs {
  lines: ReturnType<typeof parseTracks>;
  summary: {
    tracksPerClass: Record<string, number>;
    trackList: { class: number; label: string }[];
  };
  manifest: { models: { weights: string; labels: string }[]; labels: Record<string, string[]> };
}

function readOutputs(out: string): Outputs {
  return {
    lines: parseTracks(readFileSync(join(out, "tracks.jsonl"), "utf8")),
    summary: JSON.parse(readFileSync(join(out, "summary.json"), "utf8")),
    manifest: JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")),
  };
}

/** Every detection and track is named by the model's labels, never by COCO's. */
function assertNamedByModel({ lines, summary, manifest }: Outputs): void {
  const detections = lines.flatMap((l) => l.detections);
  assert.ok(detections.length > 0, "the model finds something at score threshold 0");
  for (const d of detections) {
    assert.ok(d.class >= 1 && d.class <= 3, `class ${d.class}`);
    assert.equal(d.label, LABELS[d.class - 1]);
  }
  assert.ok(summary.trackList.length > 0, "some tracks");
  for (const t of summary.trackList) assert.equal(t.label, LABELS[t.class - 1]);
  for (const label of Object.keys(summary.tracksPerClass)) assert.ok(LABELS.includes(label), label);
  assert.deepEqual(
    manifest.models.map((m) => [m.weights, m.labels]),
    [["parcels", "parcels"]],
  );
  assert.deepEqual(manifest.labels, { parcels: LABELS });
}

test("local run: the imported model's labels name detections, tracks and summary; the filter takes them", async () => {
  const out = join(dir, "all");
  const all = await runLocal({
    spec: { input: clip, output: out, sampling: { fps: 4 }, scoreThreshold: 0 },
    weights: { "0": "parcels" },
  });
  assert.equal(all.job.state, "completed");
  const outputs = readOutputs(out);
  assertNamedByModel(outputs);
  assert.ok(
    outputs.lines.some((l) => l.detections.some((d) => d.class === 2)),
    "class 2 is found unfiltered",
  );

  const filtered = join(dir, "envelopes");
  const only = await runLocal({
    spec: { input: clip, output: filtered, sampling: { fps: 4 }, scoreThreshold: 0, classes: ["Envelope"] },
    weights: { "0": "parcels" },
  });
  assert.equal(only.job.state, "completed");
  const kept = readOutputs(filtered).lines.flatMap((l) => l.detections);
  assert.ok(kept.length > 0);
  assert.ok(kept.every((d) => d.class === 2 && d.label === "envelope"));
});

test("local run: a class the model does not have fails the job, listing the model's labels", async () => {
  const result = await runLocal({
    spec: { input: clip, output: join(dir, "dog"), classes: ["parcel", "dog"] },
    weights: { "0": "parcels" },
  });
  assert.equal(result.job.state, "failed");
  assert.match(
    result.job.errors[0].message,
    /unknown class "dog": the model parcels names its classes parcel, envelope, pallet/,
  );
  // Without the model, COCO names apply, and "parcel" is not one of them.
  const coco = await runLocal({ spec: { input: clip, output: join(dir, "coco"), classes: ["parcel"] } });
  assert.equal(coco.job.state, "failed");
  assert.match(
    coco.job.errors[0].message,
    /unknown COCO class "parcel"; the COCO classes are person, bicycle/,
  );
});

test("api: job classes are checked against the published labels of the job's φ range", async () => {
  const models = new MemoryModelRegistry();
  await models.publish(deploymentModels({ weights: { "0": "parcels" } }));
  const token = "labels-test-token-0123456789";
  const app = await buildLocalApi({
    transport: createMemoryTransport(),
    jobStore: new MemoryJobStore(),
    models,
    token,
  });
  try {
    const post = (payload: object) =>
      app.inject({
        method: "POST",
        url: "/jobs",
        headers: { authorization: `Bearer ${token}` },
        payload: { input: clip, output: join(dir, "api"), ...payload },
      });
    const unknown = await post({ classes: ["car"] });
    assert.equal(unknown.statusCode, 400);
    assert.match(
      unknown.json().error,
      /classes: unknown class "car": the model parcels names its classes parcel/,
    );
    // D0 runs the imported model, D1 seeded COCO weights: names would mean different ids, so they are refused.
    const mixed = await post({ classes: ["parcel"], phi: { min: 0, max: 1 } });
    assert.equal(mixed.statusCode, 400);
    assert.match(mixed.json().error, /D0 runs the model parcels and D1 runs a COCO model/);
    assert.equal((await post({ classes: ["2"], phi: { min: 0, max: 1 } })).statusCode, 201);
    assert.equal((await post({ classes: ["pallet"] })).statusCode, 201);
  } finally {
    await app.close();
  }
});

test("distributed: a vdet worker publishes its models; producer and aggregator name classes by them", async () => {
  const prefix = `vdet-labels-${randomUUID().slice(0, 8)}`;
  const redis = new Redis(redisOptionsFromUrl(REDIS_URL));
  const models = new RedisModelRegistry(redis, prefix);
  const finished = new Map<string, (state: string) => void>();
  const pipeline = startRedisPipeline({
    prefix,
    redis,
    models,
    onJobFinished: (id, state) => finished.get(id)?.(state),
  });
  const { transport, jobStore } = pipeline;
  let worker: RoleProcess | undefined;
  try {
    worker = startRole("worker", {
      args: ["--prefix", prefix],
      env: {
        VDET_REDIS_URL: REDIS_URL,
        VDET_WEIGHTS: "0=parcels",
        VDET_PROFILE: "off",
        VDET_LOG_LEVEL: "warn",
        VDET_ALLOW_FILE_INPUTS: "1",
      },
      echo: "[worker] ",
    });
    const deadline = Date.now() + 60_000;
    while ((await models.read())["0"]?.source !== "parcels") {
      assert.ok(Date.now() < deadline, "the worker published its models within a minute");
      assert.ok(worker.running(), "the worker is running");
      await new Promise((r) => setTimeout(r, 100));
    }
    const published = await models.read();
    assert.deepEqual(published["0"], { weights: "parcels", source: "parcels", labels: LABELS });
    assert.equal(published["1"].source, "COCO");

    const out = join(dir, "distributed");
    const spec = parseJobSpec({ input: clip, output: out, sampling: { fps: 4 }, scoreThreshold: 0 });
    const { job } = await jobStore.create(spec);
    const state = new Promise<string>((resolve) => finished.set(job.id, resolve));
    await transport.jobs.add({ jobId: job.id }, { id: job.id });
    assert.equal(await state, "completed");
    assertNamedByModel(readOutputs(out));

    const bad = await jobStore.create(
      parseJobSpec({ input: clip, output: join(dir, "bad"), classes: ["dog"] }),
    );
    const badState = new Promise<string>((resolve) => finished.set(bad.job.id, resolve));
    await transport.jobs.add({ jobId: bad.job.id }, { id: bad.job.id });
    assert.equal(await badState, "failed");
    const errors = (await jobStore.get(bad.job.id))!.errors;
    assert.match(errors[0].message, /unknown class "dog": the model parcels names its classes/);
  } finally {
    await worker?.stop();
    await pipeline.close();
  }
});

test("a damaged registry entry is an error that says how to repair it", async () => {
  const prefix = `vdet-labels-${randomUUID().slice(0, 8)}`;
  const redis = new Redis(redisOptionsFromUrl(REDIS_URL));
  try {
    await redis.hset(new DeploymentKeys(prefix).models, "0", "{not json");
    await assert.rejects(
      new RedisModelRegistry(redis, prefix).read(),
      /model entry of φ 0 in Redis \(vdet-labels-\w+:models\) is not valid.*restart a worker/,
    );
  } finally {
    await redis.del(new DeploymentKeys(prefix).models);
    await redis.quit();
  }
});
