// docs/cli.md is what the CLI definitions give (so it cannot drift), lists no hidden alias as an option, and the
// hidden aliases of the old spellings still parse.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { cliReference } from "./cli-doc.ts";
import { buildProgram } from "./program.ts";

const doc = fileURLToPath(new URL("../../../docs/cli.md", import.meta.url));

test("docs/cli.md is generated from the CLI definitions (npm run cli-doc)", () => {
  assert.equal(readFileSync(doc, "utf8"), cliReference(buildProgram()));
});

test("one vocabulary: --ep and --score-threshold everywhere, old spellings hidden", () => {
  const text = cliReference(buildProgram());
  assert.doesNotMatch(text, /\| `--execution-provider/);
  assert.doesNotMatch(text, /\| `--min-score/);
  const find = (path: string[]) => {
    let command = buildProgram();
    for (const name of path) command = command.commands.find((c) => c.name() === name)!;
    return command;
  };
  for (const path of [["run"], ["worker"], ["detect"]])
    assert.ok(
      find(path).options.some((o) => o.long === "--ep" && !o.hidden),
      `${path} --ep`,
    );
  for (const path of [["run"], ["render"], ["detect"], ["submit"]])
    assert.ok(
      find(path).options.some((o) => o.long === "--score-threshold"),
      `${path} --score-threshold`,
    );
  assert.ok(find(["worker"]).options.some((o) => o.long === "--execution-provider" && o.hidden));
  assert.ok(find(["render"]).options.some((o) => o.long === "--min-score" && o.hidden));
  assert.match(text, /### `vdet models remove <names\.\.\.>`/);
});
