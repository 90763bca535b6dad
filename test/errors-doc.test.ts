// docs/errors.md is generated from the error-code registry; this fails when a code was added or changed
// without regenerating it (npm run errors-doc).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { renderErrorsDoc } from "../scripts/errors-doc.ts";

test("docs/errors.md lists every registered error code as the registry has it", async () => {
  const expected = await renderErrorsDoc();
  const current = readFileSync(new URL("../docs/errors.md", import.meta.url), "utf8");
  assert.equal(current, expected, "docs/errors.md is stale: run npm run errors-doc");
  for (const code of ["INVALID_JOB_SPEC", "OBJECT_NOT_FOUND", "NOT_A_VIDEO", "INVALID_CONFIG"]) {
    assert.match(current, new RegExp(`\`${code}\``));
  }
});
