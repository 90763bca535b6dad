// The reliability-doc generator: renders recorded outcomes as a table, and refuses loudly (non-zero exit, a
// message naming the file) when there is nothing to render, rather than writing an empty table.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";

const script = fileURLToPath(new URL("../scripts/reliability-doc.mjs", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "vdet-reldoc-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const generate = (from: string, out: string) =>
  spawnSync(process.execPath, [script, "--from", from, "--out", out], { encoding: "utf8" });

test("a missing outcome file fails loudly and writes nothing", () => {
  const out = join(dir, "missing.md");
  const run = generate(join(dir, "nope.jsonl"), out);
  assert.equal(run.status, 1);
  assert.match(run.stderr, /nope\.jsonl does not exist/);
  assert.equal(existsSync(out), false);
});

test("an empty outcome file fails loudly and writes nothing", () => {
  const file = join(dir, "empty.jsonl");
  writeFileSync(file, "\n");
  const out = join(dir, "empty.md");
  const run = generate(file, out);
  assert.equal(run.status, 1);
  assert.match(run.stderr, /empty\.jsonl is empty/);
  assert.equal(existsSync(out), false);
});

test("a malformed line is named, not skipped", () => {
  const file = join(dir, "bad.jsonl");
  writeFileSync(file, `${JSON.stringify({ suite: "s", category: "c", case: "x", observed: "o" })}\n{oops\n`);
  const run = generate(file, join(dir, "bad.md"));
  assert.equal(run.status, 1);
  assert.match(run.stderr, /line 2 is not JSON/);
});

test("outcomes render as one table per suite, with pipes escaped", () => {
  const file = join(dir, "ok.jsonl");
  const rows = [
    { suite: "s3-faults", category: "s3", case: "503 SlowDown", observed: "job completed | identical" },
    { suite: "bad-input", category: "video", case: "truncated mp4", observed: "job failed: moov atom" },
  ];
  writeFileSync(file, rows.map((r) => `${JSON.stringify(r)}\n`).join(""));
  const out = join(dir, "ok.md");
  const run = generate(file, out);
  assert.equal(run.status, 0, run.stderr);
  const doc = readFileSync(out, "utf8");
  assert.match(doc, /## bad-input\n\n\| fault or bad input tried \| category \| observed outcome \| test \|/);
  assert.ok(doc.includes("| 503 SlowDown | s3 | job completed \\| identical | s3-faults |"), doc);
  assert.ok(doc.indexOf("## bad-input") < doc.indexOf("## s3-faults"));
});
