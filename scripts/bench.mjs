#!/usr/bin/env node
// `npm run bench -- <name> [args]` runs bench/<name>.bench.ts; its last stdout line is one JSON object.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const [name, ...args] = process.argv.slice(2);
const available = readdirSync(join(root, "bench"))
  .filter((f) => f.endsWith(".bench.ts"))
  .map((f) => f.replace(/\.bench\.ts$/, ""));
if (!name || !existsSync(join(root, "bench", `${name}.bench.ts`))) {
  console.error(`usage: npm run bench -- <name>   (available: ${available.join(", ") || "none"})`);
  process.exit(2);
}
const result = spawnSync(
  process.execPath,
  ["--import", "tsx", join(root, "bench", `${name}.bench.ts`), ...args],
  {
    cwd: root,
    stdio: "inherit",
    // Benchmarks measure the seeded models they always have (comparable runs, nothing downloaded mid-run).
    env: { ...process.env, VDET_OFFLINE: process.env.VDET_OFFLINE ?? "1" },
  },
);
process.exit(result.status ?? 1);
