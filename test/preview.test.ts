// A job with preview: true writes preview.mp4 next to its results: the whole source, annotated, listed in the
// manifest.

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { probeVideo } from "@vdet/video";
import { runTestClip, testDir } from "./support/local-run.ts";

const dir = testDir("preview");

test("preview: true writes preview.mp4 with every source frame, listed in the manifest", async () => {
  const { out, result } = await runTestClip(dir, 2, {
    sampling: { fps: 2 },
    scoreThreshold: 0,
    preview: true,
  });
  assert.deepEqual(result.job.errors, []);
  const manifest = JSON.parse(await readFile(join(out, "manifest.json"), "utf8"));
  assert.ok(manifest.files.includes("preview.mp4"));
  const info = await probeVideo(join(out, "preview.mp4"));
  assert.equal(info.frameCount, 20);
  assert.equal(info.width, 320);
  assert.equal(info.height, 240);
});
