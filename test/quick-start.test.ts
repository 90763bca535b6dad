// The README's quick start on a clean checkout (the tracked and untracked, not ignored, files of this tree in a
// fresh folder; node_modules linked, as `npm ci` gives them): `npm run demo`, then the single-machine distributed
// block copied from README.md by this test and run by bash as it is. Checks what each prints and writes.

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { deleteKeysWithPrefix, redisOptionsFromUrl } from "@vdet/transport";
import { Redis } from "ioredis";
import { TEST_REDIS_URL } from "./support/redis-url.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const checkout = mkdtempSync(join(tmpdir(), "vdet-quick-start-"));
const prefix = `vdet-qs-${randomUUID().slice(0, 8)}`;
after(async () => {
  rmSync(checkout, { recursive: true, force: true });
  const redis = new Redis(redisOptionsFromUrl(TEST_REDIS_URL));
  await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
});

before(() => {
  const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    cwd: root,
    encoding: "utf8",
  })
    .split("\0")
    .filter((f) => f !== "" && existsSync(join(root, f)));
  for (const file of files) {
    mkdirSync(dirname(join(checkout, file)), { recursive: true });
    cpSync(join(root, file), join(checkout, file));
  }
  for (const modules of ["node_modules", "packages/video/node_modules"])
    if (existsSync(join(root, modules))) symlinkSync(join(root, modules), join(checkout, modules), "dir");
});

/** A fresh user: an empty model cache, node (the one running the tests) first on PATH. */
const userEnv = (): NodeJS.ProcessEnv => ({
  ...process.env,
  PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ""}`,
  VDET_HOME: join(checkout, ".vdet-home"),
  VDET_OFFLINE: process.env.VDET_OFFLINE ?? "1",
});

function run(command: string, args: string[], env: NodeJS.ProcessEnv) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(command, args, { cwd: checkout, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

test("npm run demo: what the pipeline did, the files, and why there are no boxes", {
  timeout: 600_000,
}, async () => {
  const { code, stdout, stderr } = await run("npm", ["run", "--silent", "demo"], userEnv());
  assert.equal(code, 0, stderr);
  assert.match(stderr, /weights: untrained \(seeded\) for d0: offline/);
  assert.match(
    stdout,
    /^completed: 24 frames written, 0 failed, [\d.]+ s \([\d.]+ frames\/s\), φ 0, weights: untrained \(seeded\)$/m,
  );
  assert.match(stdout, /results in .*out\/demo:/);
  assert.match(stdout, /tracks\.jsonl .*: 24 frame lines, 0 detections/);
  assert.match(stdout, /summary\.json .*: 0 tracks/);
  assert.match(stdout, /preview\.mp4 .*: the processed part of the video/);
  assert.match(
    stdout,
    /no boxes: the weights were untrained \(seeded\)\. For real ones, run `vdet models pull d0`/,
  );
  for (const file of ["tracks.jsonl", "tracks.mot.txt", "summary.json", "manifest.json", "preview.mp4"])
    assert.ok(existsSync(join(checkout, "out/demo", file)), file);
  const manifest = JSON.parse(readFileSync(join(checkout, "out/demo/manifest.json"), "utf8"));
  assert.equal(manifest.models[0].weights, "untrained (seeded, seed 0)");
});

test("the README's single-machine distributed block, copied and run as it is", {
  timeout: 600_000,
}, async () => {
  const readme = readFileSync(join(checkout, "README.md"), "utf8");
  const block = /<!-- quick-start:distributed[^>]*-->\n```sh\n([\s\S]*?)```/.exec(readme);
  assert.ok(block, "README.md has the marked distributed block");
  const port = await freePort();
  const { code, stdout, stderr } = await run("bash", ["-c", block[1]], {
    ...userEnv(),
    // Where this test's Redis and api are (the block uses the defaults otherwise), a prefix of its own, and no
    // start-up profiling (an archive job does not use it).
    VDET_REDIS_URL: TEST_REDIS_URL,
    VDET_PREFIX: prefix,
    VDET_API_PORT: String(port),
    VDET_API_HOST: "127.0.0.1",
    VDET_API_URL: `http://127.0.0.1:${port}`,
    VDET_PROFILE: "off",
    VDET_LOG_LEVEL: "warn",
  });
  assert.equal(code, 0, `${stdout}\n${stderr}`);
  const out = join(checkout, "out/distributed");
  assert.match(stdout, /^j_\S+ submitted .*car-detection\.mp4$/m);
  assert.match(stdout, new RegExp(`^j_\\S+ completed: 8 frames written, results in ${out}$`, "m"));
  assert.match(
    `${stdout}${stderr}`,
    /weights for D0: untrained \(seeded\)/,
    "the worker says its weights are untrained",
  );
  const lines = readFileSync(join(out, "tracks.jsonl"), "utf8").trim().split("\n");
  assert.equal(lines.length, 8);
  const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
  assert.equal(manifest.models[0].weights, "untrained (seeded, seed 0)");
});
