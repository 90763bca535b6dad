// The weights a run uses when none are named: the cached COCO model, pulled on first use from the catalog (here
// the local checkpoint server, never the internet); offline or when the pull fails, seeded weights with the reason
// and the one command that gives trained ones.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { largeFixture } from "../../../test/support/fixtures.ts";
import { useCheckpointServer } from "../testing/checkpoint-server.ts";
import { useTempDir } from "../testing/temp-dir.ts";
import { ModelCache } from "./cache.ts";
import { defaultWeights, offlineFromEnv, seededWeightsDescription } from "./default-weights.ts";

const root = useTempDir("vdet-default-weights-");
const server = useCheckpointServer();
const freshCache = () => new ModelCache(mkdtempSync(join(root, "cache-")));

test("offline and nothing cached: seeded, saying why and how to get trained weights", async () => {
  const cache = freshCache();
  const found = await defaultWeights(0, { offline: true, cache });
  assert.equal(found.kind, "seeded");
  assert.equal(found.name, "d0");
  assert.match(found.kind === "seeded" ? found.reason : "", /offline \(--offline or VDET_OFFLINE=1\)/);
  assert.match(found.kind === "seeded" ? found.hint : "", /vdet models pull d0/);
  assert.equal(seededWeightsDescription(3), "untrained (seeded, seed 3)");
  assert.equal(offlineFromEnv({ VDET_OFFLINE: "1" }), true);
  assert.equal(offlineFromEnv({}), false);
});

test("a pull that fails: seeded, naming the failure", async () => {
  const cache = freshCache();
  const found = await defaultWeights(0, {
    cache,
    offline: false, // the suite runs with VDET_OFFLINE=1; this pull goes to the local server only
    catalog: { overrides: { d0: { url: `${server.url}/missing/d0.pth`, sha256: "deadbeef" } } },
    stallTimeoutMs: 2000,
  });
  assert.equal(found.kind, "seeded");
  assert.match(found.kind === "seeded" ? found.reason : "", /^could not pull d0: /);
});

test("first use pulls the COCO model (verified) into the cache; the next use takes it from there, even offline", async (t) => {
  const file = largeFixture(t, "effdet/d0.weights.pth");
  if (!file) return;
  const body = new Uint8Array(readFileSync(file));
  server.serve("/v0.1/d0.pth", body);
  const cache = freshCache();
  const events: string[] = [];
  const first = await defaultWeights(0, {
    cache,
    offline: false,
    catalog: {
      overrides: {
        d0: {
          url: `${server.url}/v0.1/d0.pth`,
          sha256: createHash("sha256").update(body).digest("hex").slice(0, 8),
        },
      },
    },
    onEvent: (e) => {
      if (events.at(-1) !== e.type) events.push(e.type);
    },
  });
  assert.equal(first.kind, "trained");
  assert.equal(first.kind === "trained" && first.pulled, true);
  assert.equal(events[0], "download");
  assert.equal(events.at(-1), "stored");
  const again = await defaultWeights(0, { cache, offline: true });
  assert.equal(again.kind, "trained");
  assert.equal(again.kind === "trained" && again.pulled, false);
  assert.equal(again.kind === "trained" && again.model.manifest.phi, 0);
});
