// The job's result files and record as the stages write them validate against the protocol's schemas (the ones
// the writers are typed with and the api documents), and the Redis job store's terminal states are the protocol's.

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { RedisJobStore } from "@vdet/jobs";
import {
  JOB_STATES,
  jobManifestSchema,
  jobRecordSchema,
  jobSummarySchema,
  parseJobSpec,
  TERMINAL_STATES,
  tracksLineSchema,
} from "@vdet/protocol";
import { redisOptionsFromUrl } from "@vdet/transport";
import { Redis } from "ioredis";
import { runTestClip } from "./support/local-run.ts";
import { REDIS_URL } from "./support/redis-pipeline.ts";

const dir = mkdtempSync(join(tmpdir(), "vdet-schemas-"));
const redis = new Redis(redisOptionsFromUrl(REDIS_URL));
const prefix = `vdet-test-schemas-${process.pid}-${Date.now()}`;
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

test("tracks.jsonl lines, summary.json, manifest.json and the job record match the protocol's schemas", async () => {
  const { out, result } = await runTestClip(
    dir,
    2,
    { sampling: { fps: 4 }, scoreThreshold: 0 },
    { maxBatch: 4 },
  );
  jobRecordSchema.parse(JSON.parse(JSON.stringify(result.job)));
  const lines = readFileSync(join(out, "tracks.jsonl"), "utf8").split("\n").filter(Boolean);
  assert.equal(lines.length, 8);
  for (const line of lines) tracksLineSchema.parse(JSON.parse(line));
  const summary = jobSummarySchema.parse(JSON.parse(readFileSync(join(out, "summary.json"), "utf8")));
  assert.equal(summary.tracks, summary.trackList.length);
  const manifest = jobManifestSchema.parse(JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")));
  assert.equal(manifest.state, "completed");
  assert.deepEqual(manifest.spec, result.job.spec);
  // The schemas are strict: a field the writer added without the schema would fail above, and so would this.
  assert.equal(jobSummarySchema.safeParse({ ...summary, extra: 1 }).success, false);
});

test("Redis job store: records match the schema; no state leaves a terminal one (TERMINAL_STATES in its Lua)", async () => {
  const store = new RedisJobStore(redis, prefix);
  for (const terminal of TERMINAL_STATES) {
    const { job } = await store.create(parseJobSpec({ input: "s3://in/a.mp4", output: "s3://out/a" }));
    jobRecordSchema.parse(job);
    assert.equal(await store.countActive(), 1);
    assert.equal(await store.setState(job.id, "running"), true);
    assert.equal(await store.setState(job.id, terminal), true);
    assert.equal(await store.countActive(), 0, `${terminal} is no longer active`);
    for (const state of JOB_STATES) assert.equal(await store.setState(job.id, state), false);
    assert.equal((await store.get(job.id))?.state, terminal);
    jobRecordSchema.parse(await store.get(job.id));
  }
});
