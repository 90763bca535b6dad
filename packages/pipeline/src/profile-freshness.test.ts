// Latency profiles carry the load they were measured under, are measured again when the cached one is older than
// the age limit, and a drift of live batch times from the cached profile beyond the threshold is detected (the
// worker then replaces the cache with its live measurements).

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  LatencyProfile,
  type ProfileTable,
  profileDrift,
  profileStaleReason,
  readProfileFile,
} from "@vdet/scheduler";
import { createSimulatedModelProvider } from "./models.ts";
import { profileModels } from "./profiling.ts";

const dir = mkdtempSync(join(tmpdir(), "vdet-profile-fresh-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const table = (ms: number, measuredAt = new Date().toISOString()): ProfileTable => ({
  version: 1,
  key: "sim",
  measuredAt,
  rows: [{ phi: 0, batch: 1, p50Ms: ms, p90Ms: ms, samplesMs: [ms] }],
});

test("a measured profile records the load it was measured under", async () => {
  const result = await profileModels({
    models: createSimulatedModelProvider(table(5)),
    phis: [0],
    maxBatch: 1,
    executionProvider: "cpu",
    threads: 1,
    cacheDir: dir,
    warmup: 0,
    samples: 2,
  });
  assert.equal(result.table.load?.cpus, availableParallelism());
  assert.ok((result.table.load?.loadAverage1m ?? -1) >= 0);
  const saved = await readProfileFile(result.savedTo!);
  assert.deepEqual(saved.load, result.table.load);
});

test("a cached profile older than the age limit is measured again", async () => {
  const options = {
    models: createSimulatedModelProvider(table(5)),
    phis: [0] as (0 | 1)[],
    maxBatch: 1,
    executionProvider: "cpu",
    threads: 1,
    cacheDir: join(dir, "age"),
    warmup: 0,
    samples: 2,
  };
  const first = await profileModels(options);
  // Age the cached file by ten days.
  const old = JSON.parse(readFileSync(first.savedTo!, "utf8")) as ProfileTable;
  old.measuredAt = new Date(Date.now() - 10 * 86_400_000).toISOString();
  writeFileSync(first.savedTo!, JSON.stringify(old));
  const kept = await profileModels({ ...options, maxAgeMs: 30 * 86_400_000 });
  assert.equal(kept.cachedFrom, join(dir, "age"), "within a 30-day limit the cache is used");
  const again = await profileModels({ ...options, maxAgeMs: 7 * 86_400_000 });
  assert.equal(again.cachedFrom, undefined);
  assert.match(again.staleReason ?? "", /measured 240 h ago, over the 168 h limit/);
  assert.ok(Date.parse(again.table.measuredAt) > Date.now() - 60_000);
  assert.equal(profileStaleReason(again.table, { maxAgeMs: 3_600_000 }), undefined);
});

test("drift: live batch times beyond the threshold either way, not within it", () => {
  // Cached while the machine was busy: 252 ms; live: 51 ms (the numbers).
  const cached = table(252);
  const live = LatencyProfile.fromTable(cached, { window: 8 });
  for (let i = 0; i < 8; i++) live.observe(0, 1, 51);
  const drift = profileDrift(cached, live, 1.5);
  assert.ok(drift);
  assert.equal(drift.cachedMs, 252);
  assert.equal(drift.liveMs, 51);
  const steady = LatencyProfile.fromTable(cached, { window: 8 });
  for (let i = 0; i < 8; i++) steady.observe(0, 1, 260);
  assert.equal(profileDrift(cached, steady, 1.5), undefined);
  const slower = LatencyProfile.fromTable(table(50), { window: 4 });
  for (let i = 0; i < 4; i++) slower.observe(0, 1, 120);
  assert.ok((profileDrift(table(50), slower, 1.5)?.ratio ?? 0) > 2);
});
