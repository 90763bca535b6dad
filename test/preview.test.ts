// A job with preview: true writes preview.mp4 next to its results: the whole source, annotated, listed in the
// manifest.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { runLocal } from "@vdet/pipeline";
import { probeVideo } from "@vdet/video";
import { makeTestClip } from "@vdet/video/testing";

const dir = mkdtempSync(join(tmpdir(), "vdet-preview-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("preview: true writes preview.mp4 with every source frame, listed in the manifest", async () => {
  const clip = await makeTestClip(join(dir, "clip.mp4"), 2, 10);
  const out = join(dir, "out");
  const result = await runLocal({
    spec: { input: clip, output: out, sampling: { fps: 2 }, scoreThreshold: 0, preview: true },
    seed: 0,
  });
  assert.equal(result.job.state, "completed");
  assert.deepEqual(result.job.errors, []);
  const manifest = JSON.parse(await readFile(join(out, "manifest.json"), "utf8"));
  assert.ok(manifest.files.includes("preview.mp4"));
  const info = await probeVideo(join(out, "preview.mp4"));
  assert.equal(info.frameCount, 20);
  assert.equal(info.width, 320);
  assert.equal(info.height, 240);
});
