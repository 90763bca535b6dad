#!/usr/bin/env node
// Runs every *.test.ts under packages/, services/ and test/ with node's test runner (through tsx).
// Arguments filter the files by substring: `npm test -- effdet tracker`.
// Sets up what the selected tests need first (test/support/test-services.ts): Redis at the test address, or a
// throwaway redis-server on a port of its own for this run (stopped after); ffmpeg, Chromium and the Perl RTSP
// server checked. A missing tool stops the run at once with one line on how to install it. Tests run offline (VDET_OFFLINE=1 unless set):
// nothing pulls models from the internet; the pull tests use a local checkpoint server.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { tsImport } from "tsx/esm/api";

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

// What the selected tests use, from their text: Redis, ffmpeg (video clips), Chromium (browser tests), the Perl
// RTSP server (RTSP tests).
const texts = files.map((f) => readFileSync(join(root, f), "utf8"));
const uses = (pattern) => texts.some((t) => pattern.test(t));
const needsRedis = uses(/redis|startRole|support\/roles|scale-to-zero/i);
const needsFfmpeg = uses(/ffmpeg|makeTestClip|makeLavfiClip|\.mp4|decodeFrames|probeVideo/);
const needsChromium = uses(/playwright-core/);
const needsRtspServer = uses(/support\/rtsp-server/);

const services = await tsImport("../test/support/test-services.ts", import.meta.url);
const problems = [
  needsFfmpeg ? services.checkFfmpeg() : undefined,
  needsChromium ? services.checkChromium() : undefined,
  needsRtspServer ? services.checkRtspServer() : undefined,
].filter(Boolean);
let redis;
if (needsRedis) {
  try {
    redis = await services.ensureTestRedis();
  } catch (error) {
    problems.unshift(error.message);
  }
}
if (problems.length > 0) {
  for (const line of problems) console.error(`npm test: ${line}`);
  await redis?.stop();
  process.exit(1);
}
if (redis?.server) console.error(`npm test: started a throwaway redis-server at ${redis.url} for this run`);

const env = {
  ...process.env,
  VDET_OFFLINE: process.env.VDET_OFFLINE ?? "1",
  ...(redis ? { VDET_REDIS_URL: redis.url } : {}),
};
const concurrency = process.env.VDET_TEST_CONCURRENCY ?? "2";
const child = spawn(
  process.execPath,
  ["--import", "tsx", "--test", `--test-concurrency=${concurrency}`, ...passThrough, ...files],
  { cwd: root, stdio: "inherit", env },
);
const stopChild = (signal) => child.kill(signal);
process.on("SIGINT", stopChild);
process.on("SIGTERM", stopChild);
const status = await new Promise((resolve) =>
  child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 1))),
);
await redis?.stop();
process.exit(status);
