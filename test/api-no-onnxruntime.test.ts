// The api process never loads onnxruntime: it stores and lists jobs (@vdet/jobs) and never runs a model, so
// neither onnxruntime-node's JavaScript nor its native library may come in through an import, direct or not.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { startRole } from "@vdet/cli/testing";
import { deleteKeysWithPrefix, redisOptionsFromUrl } from "@vdet/transport";
import { Redis } from "ioredis";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const REDIS_URL = process.env.VDET_REDIS_URL ?? "redis://127.0.0.1:6379";
const dir = mkdtempSync(join(tmpdir(), "vdet-api-ort-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Packages the api must not import: onnxruntime itself, and the ones that lead to it. */
const FORBIDDEN = [/\/node_modules\/onnxruntime-node\//, /\/packages\/(pipeline|effdet|runtime)\//];

test("the api entry's module graph holds no onnxruntime-node (nor pipeline, effdet, runtime)", () => {
  // A resolve hook records every module the import of @vdet/api resolves, in the order they come.
  const log = join(dir, "resolved.txt");
  const hooks = `
    import { appendFileSync } from "node:fs";
    let file;
    export function initialize(data) { file = data.file; }
    export async function resolve(specifier, context, next) {
      const result = await next(specifier, context);
      appendFileSync(file, result.url + "\\n");
      return result;
    }`;
  const script = `
    import { register } from "node:module";
    register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)}, { data: { file: ${JSON.stringify(log)} } });
    await import("@vdet/api");`;
  execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    cwd: repoRoot,
    stdio: ["ignore", "ignore", "pipe"],
  });
  const resolved = readFileSync(log, "utf8").split("\n").filter(Boolean);
  // The hook saw the api's own graph (a check that cannot pass for want of looking).
  assert.ok(resolved.some((url) => url.endsWith("/packages/api/src/server.ts")));
  assert.ok(resolved.some((url) => url.endsWith("/packages/jobs/src/job-store.ts")));
  const offending = resolved.filter((url) => FORBIDDEN.some((pattern) => pattern.test(url)));
  assert.deepEqual(offending, [], "modules the api must not load");
});

test("a running api process has no onnxruntime library mapped", async () => {
  const prefix = `vdet-api-ort-${randomUUID().slice(0, 8)}`;
  const api = startRole("api", {
    env: {
      VDET_REDIS_URL: REDIS_URL,
      VDET_PREFIX: prefix,
      VDET_API_HOST: "127.0.0.1",
      VDET_API_PORT: "0",
      VDET_API_NO_AUTH: "1",
      VDET_LOG_LEVEL: "info",
    },
  });
  const { child, output } = api;
  const redis = new Redis(redisOptionsFromUrl(REDIS_URL));
  try {
    const started = Date.now();
    let url: string | undefined;
    while (url === undefined) {
      if (!api.running()) assert.fail(`the api exited: ${output()}`);
      if (Date.now() - started > 60_000) assert.fail(`the api did not start: ${output()}`);
      url = /"url":"(http:\/\/[^"]+)"/.exec(output())?.[1];
      await new Promise((r) => setTimeout(r, 50));
    }
    // It answers HTTP, so it has loaded everything it serves with; then its memory map is what it is.
    const health = await fetch(`${url}/healthz`);
    assert.equal(health.status, 200);
    const jobs = await fetch(`${url}/jobs`);
    assert.equal(jobs.status, 200);
    const maps = readFileSync(`/proc/${child.pid}/maps`, "utf8");
    assert.match(maps, /libc[.-]/, "the map lists the process's libraries");
    const onnx = maps.split("\n").filter((line) => /onnxruntime/i.test(line));
    assert.deepEqual(onnx, [], "onnxruntime is mapped into the api process");
    // And the other way round: the check sees onnxruntime where a session is opened.
    const worker = execFileSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "--input-type=module",
        "-e",
        `const { describeOrtInstall } = await import("@vdet/runtime"); await describeOrtInstall();
         const { readFileSync } = await import("node:fs");
         process.stdout.write(String(/libonnxruntime/.test(readFileSync("/proc/self/maps", "utf8"))));`,
      ],
      { cwd: repoRoot, encoding: "utf8" },
    );
    assert.equal(worker, "true", "a process that asks onnxruntime maps its library");
  } finally {
    await api.stop();
    await deleteKeysWithPrefix(redis, prefix);
    redis.disconnect();
  }
});
