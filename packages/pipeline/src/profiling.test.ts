// Start-up profiling: every φ × batch size measured after warm-up, cached under a key of what changes timings,
// read back on the next start, measured again on request or when the key changes. The simulated runner sleeps
// for known times, so the measured table can be checked against them.

import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import type { ProfileTable } from "@vdet/scheduler";
import { createSimulatedModelProvider } from "./models.ts";
import { profileBatchSizes, profileModels } from "./profiling.ts";

const dir = mkdtempSync(join(tmpdir(), "vdet-profiling-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const sim = (scale: number): ProfileTable => ({
  version: 1,
  key: `sim-${scale}`,
  measuredAt: "2026-11-28T00:00:00Z",
  rows: ([0, 1] as const).flatMap((phi) =>
    [1, 2, 4].map((batch) => {
      const ms = scale * (phi + 1) * (1 + 0.5 * (batch - 1));
      return { phi, batch, p50Ms: ms, p90Ms: ms, samplesMs: [ms] };
    }),
  ),
});

test("profiled batch sizes: powers of two below the largest batch, and the largest", () => {
  assert.deepEqual(profileBatchSizes(1), [1]);
  assert.deepEqual(profileBatchSizes(4), [1, 2, 4]);
  assert.deepEqual(profileBatchSizes(6), [1, 2, 4, 6]);
});

test("measures each φ × batch size, caches it, and reads the cache on the next start", async () => {
  const models = createSimulatedModelProvider(sim(10));
  const options = { models, phis: [0, 1] as const, maxBatch: 4, executionProvider: "cpu", threads: 2 };
  const steps: string[] = [];
  const first = await profileModels({
    ...options,
    phis: [...options.phis],
    cacheDir: dir,
    warmup: 1,
    samples: 3,
    onProgress: (s) => steps.push(`${s.phi}x${s.batch}`),
  });
  assert.equal(first.cachedFrom, undefined);
  assert.ok(first.savedTo?.startsWith(dir));
  assert.equal(steps.length, 2 * 3 * 3);
  // D1 batch 4 sleeps 2 × 2.5 × 10 = 50 ms; the measurement is that or a little more (timers never fire early).
  const d1b4 = first.profile.predict(1, 4)!;
  assert.ok(d1b4 >= 49 && d1b4 < 120, `D1×4 measured ${d1b4} ms`);
  assert.deepEqual(
    first.table.rows.map((r) => `${r.phi}x${r.batch}`),
    ["0x1", "0x2", "0x4", "1x1", "1x2", "1x4"],
  );

  const second = await profileModels({
    ...options,
    phis: [0, 1],
    cacheDir: dir,
    onProgress: () => assert.fail(),
  });
  assert.equal(second.cachedFrom, dir);
  assert.deepEqual(second.table, first.table);

  const fresh = await profileModels({ ...options, phis: [0, 1], cacheDir: dir, refresh: true, samples: 1 });
  assert.equal(fresh.cachedFrom, undefined);
  assert.equal(fresh.table.key, first.table.key);
  assert.equal(fresh.table.rows[0].samplesMs.length, 1);
  await models.close();
});

test("other models, threads, spinning or batch sizes make another key", async () => {
  const base = { phis: [0], executionProvider: "cpu", cacheDir: dir, warmup: 0, samples: 1 } as const;
  const a = await profileModels({
    ...base,
    phis: [0],
    models: createSimulatedModelProvider(sim(1)),
    maxBatch: 2,
    threads: 2,
  });
  const keys = new Set([a.table.key]);
  for (const variant of [
    { models: createSimulatedModelProvider(sim(2)), maxBatch: 2, threads: 2 },
    { models: createSimulatedModelProvider(sim(1)), maxBatch: 4, threads: 2 },
    { models: createSimulatedModelProvider(sim(1)), maxBatch: 2, threads: 1 },
    { models: createSimulatedModelProvider(sim(1)), maxBatch: 2, threads: 2, intraOpSpinning: false },
  ]) {
    keys.add((await profileModels({ ...base, phis: [0], ...variant })).table.key);
  }
  assert.equal(keys.size, 5);
  assert.ok(readdirSync(dir).length >= 5);
  // Spinning on is onnxruntime's default: the same key as unset, so existing cached profiles stay valid.
  const on = await profileModels({
    ...base,
    models: createSimulatedModelProvider(sim(1)),
    maxBatch: 2,
    threads: 2,
    intraOpSpinning: true,
  });
  assert.equal(on.table.key, a.table.key);
  assert.equal(on.cachedFrom, dir);
});

test("a φ the models cannot run fails the profiling, naming it", async () => {
  await assert.rejects(
    profileModels({
      models: createSimulatedModelProvider(sim(1)),
      phis: [3],
      maxBatch: 1,
      executionProvider: "cpu",
      threads: 1,
      cacheDir: null,
    }),
    /no D3 rows/,
  );
});
