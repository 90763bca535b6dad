// Local runs of a generated clip, as the end-to-end tests make them: a test clip of the given length (10 fps)
// written as DIR/clip.mp4, run by `runLocal` with seeded weights (seed 0) into DIR/out, and expected to complete.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { type LocalRunOptions, runLocal } from "@vdet/pipeline";
import type { JobSpecInput } from "@vdet/protocol";
import { makeTestClip } from "@vdet/video/testing";

/** A fresh temporary folder named after `label`, removed when the test file ends. */
export function testDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `vdet-${label}-`));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs a `seconds`-long test clip locally with `spec` and checks that the job completed. */
export async function runTestClip(
  dir: string,
  seconds: number,
  spec: Omit<JobSpecInput, "input" | "output">,
  options: Omit<LocalRunOptions, "spec" | "seed"> = {},
) {
  const clip = await makeTestClip(join(dir, "clip.mp4"), seconds, 10);
  const out = join(dir, "out");
  const result = await runLocal({ spec: { input: clip, output: out, ...spec }, seed: 0, ...options });
  assert.equal(result.job.state, "completed", JSON.stringify(result.job.errors));
  return { clip, out, result };
}
