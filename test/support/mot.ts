// The shared MOTChallenge data (never copied into the repository: CC BY-NC-SA): where it is, and a visible skip
// when it is absent (a failure instead when VDET_REQUIRE_FIXTURES=1, as in CI).

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { TestContext } from "node:test";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/** `$VDET_DATA_DIR/mot`, default `<repo>/../shared/data/mot`. */
export const motDir = resolve(process.env.VDET_DATA_DIR ?? join(repoRoot, "..", "shared", "data"), "mot");

/** True when every sequence has det.txt and gt.txt; otherwise skips `t` (or fails in CI) and returns false. */
export function haveMotData(t: TestContext, sequences: readonly string[]): boolean {
  const missing = sequences
    .flatMap((s) => [join(s, "det", "det.txt"), join(s, "gt", "gt.txt")])
    .filter((p) => !existsSync(join(motDir, p)));
  if (missing.length === 0) return true;
  const message = `MOT fixtures missing under ${motDir}: ${missing.join(", ")} (set VDET_DATA_DIR)`;
  if (process.env.VDET_REQUIRE_FIXTURES === "1") assert.fail(message);
  t.skip(message);
  return false;
}
