#!/usr/bin/env node
// Runs every *.test.ts under packages/, services/ and test/ with node's test runner (through tsx).
// Arguments filter the files by substring: `npm test -- effdet tracker`.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const filters = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const passThrough = process.argv.slice(2).filter((a) => a.startsWith("-"));

const files = [];
for (const top of ["packages", "services", "test"]) {
  let entries;
  try {
    entries = readdirSync(join(root, top), { recursive: true, withFileTypes: true });
  } catch {
    continue; // folder not there yet
  }
  for (const entry of entries) {
    if (!entry.isFile() || !entry.name.endsWith(".test.ts")) continue;
    const path = relative(root, join(entry.parentPath ?? entry.path, entry.name));
    if (path.includes("node_modules")) continue;
    if (filters.length === 0 || filters.some((f) => path.includes(f))) files.push(path);
  }
}
files.sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(", ") || "(all)"}`);
  process.exit(1);
}
const concurrency = process.env.VDET_TEST_CONCURRENCY ?? "2";
const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", `--test-concurrency=${concurrency}`, ...passThrough, ...files],
  { cwd: root, stdio: "inherit" },
);
process.exit(result.status ?? 1);
