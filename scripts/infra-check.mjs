#!/usr/bin/env node
// Every offline infrastructure check (infra/**/*.test.ts): Dockerfile lint and entrypoint, compose wiring,
// Kubernetes/KEDA manifests against their schemas and the real backlog, the CDK stack's assertions and the
// upload Lambda. Exits non-zero on any failure. Needs Redis on 127.0.0.1:6379 (or VDET_REDIS_URL).
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { checkImagesHoldNoTestCode } from "./image-test-code.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
if (!checkImagesHoldNoTestCode(root)) process.exit(1);
const files = readdirSync(join(root, "infra"), { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile() && e.name.endsWith(".test.ts"))
  .map((e) => relative(root, join(e.parentPath ?? e.path, e.name)))
  .filter((p) => !p.includes("node_modules") && !p.includes("cdk.out"))
  .sort();
const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=2", ...process.argv.slice(2), ...files],
  { cwd: root, stdio: "inherit" },
);
process.exit(result.status ?? 1);
