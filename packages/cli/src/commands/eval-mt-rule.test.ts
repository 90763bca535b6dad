// `vdet eval --mt-rule`: a trajectory tracked in exactly 80 % of its frames is partially tracked by default
// (TrackEval, MOTChallenge devkit) and mostly tracked with --mt-rule py-motmetrics.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { execVdet } from "../../testing/vdet.ts";

const dir = mkdtempSync(join(tmpdir(), "vdet-cli-mt-rule-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("--mt-rule trackeval (default) vs py-motmetrics at a tracked ratio of exactly 0.8", async () => {
  const gt = join(dir, "gt.txt");
  const res = join(dir, "res.txt");
  const row = (f: number) => `${f},1,100,100,50,120`;
  writeFileSync(gt, [1, 2, 3, 4, 5].map((f) => `${row(f)},1,-1,-1,-1\n`).join(""));
  writeFileSync(res, [1, 2, 3, 4].map((f) => `${row(f)},1,-1,-1,-1\n`).join(""));
  const counts = async (...extra: string[]) => {
    const { stdout } = await execVdet(["eval", "--gt", gt, "--res", res, "--json", ...extra]);
    const s = JSON.parse(stdout).sequences[0];
    return [s.mt, s.pt, s.ml];
  };
  assert.deepEqual(await counts(), [0, 1, 0]);
  assert.deepEqual(await counts("--mt-rule", "trackeval"), [0, 1, 0]);
  assert.deepEqual(await counts("--mt-rule", "py-motmetrics"), [1, 0, 0]);
  await assert.rejects(counts("--mt-rule", "devkit"), /Allowed choices are trackeval, py-motmetrics/);
});
