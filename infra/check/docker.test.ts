// Offline checks of the container build files (Docker cannot run here): the Dockerfile lint rules, the ignore
// file, and the entrypoint + health check scripts run for real against a role on the local Redis.

import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { deleteKeysWithPrefix, redisOptionsFromUrl } from "@vdet/transport";
import { Redis } from "ioredis";
import { type LintProblem, lintDockerfile, lintFfmpeg } from "./dockerfile-lint.ts";

const dockerDir = fileURLToPath(new URL("../docker/", import.meta.url));
const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const dockerfile = readFileSync(`${dockerDir}Dockerfile`, "utf8");

// Each linter: the real Dockerfile passes it, and a bad one written for the purpose gets each expected problem.
const linters = [
  {
    lint: lintDockerfile,
    passes: "the Dockerfile passes the lint rules for all three images",
    catches: "the lint rules catch root users, unpinned bases, missing health checks and shell-form CMD",
    bad: [
      "FROM node AS app",
      "RUN apt-get install -y ffmpeg",
      "CMD node main.js",
      "FROM node:latest AS two",
      "USER node",
    ],
    badStages: ["app", "two"],
    show: (p: LintProblem) => p.rule,
    expected: [
      "apt-recommends",
      "exec-form",
      "healthcheck",
      "healthcheck",
      "non-root",
      "pinned-base",
      "pinned-base",
    ],
  },
  {
    lint: lintFfmpeg,
    passes: "every image runs the distribution's ffmpeg, none the npm installers' 2018 builds",
    catches:
      "the ffmpeg rules catch a missing apt ffmpeg, a missing VDET_FFMPEG and a kept npm-installer build",
    bad: [
      "FROM node:24.22.3-bookworm-slim AS deps",
      "RUN npm ci --omit=dev",
      "FROM node:24.22.3-bookworm-slim AS app",
      "ENV VDET_FFPROBE=/usr/bin/ffprobe",
      "RUN apt-get install -y --no-install-recommends ffmpegthumbnailer",
      "FROM app AS worker",
      "RUN apt-get install -y --no-install-recommends ffmpeg && rm -rf node_modules/@ffmpeg-installer/*-*",
      "ENV VDET_FFMPEG=/usr/bin/ffmpeg",
    ],
    badStages: ["app", "worker"],
    show: (p: LintProblem) => `${p.rule}@${p.line}`,
    expected: ["distro-ffmpeg@3", "ffmpeg-env@3", "npm-ffmpeg@1", "npm-ffmpeg@1"],
  },
];
for (const { lint, passes, catches, bad, badStages, show, expected } of linters) {
  test(passes, () => {
    assert.deepEqual(lint(dockerfile, ["app", "worker-cpu", "worker-cuda"]), []);
  });
  test(catches, () => {
    assert.deepEqual(lint(bad.join("\n"), badStages).map(show).sort(), expected);
  });
}

test("the CUDA image installs onnxruntime-node's CUDA 12 build of the locked version", () => {
  assert.match(dockerfile, /ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci /);
  assert.match(dockerfile, /ARG CUDA_IMAGE=nvidia\/cuda:12\.[0-9.]+-cudnn-runtime/);
  const lock = JSON.parse(readFileSync(`${repoRoot}package-lock.json`, "utf8"));
  assert.match(lock.packages["node_modules/onnxruntime-node"].version, /^\d+\.\d+\.\d+$/, "lockfile pins it");
});

test("the ignore file keeps sources the image needs and drops the rest", () => {
  const ignore = readFileSync(`${dockerDir}Dockerfile.dockerignore`, "utf8").split("\n");
  for (const pattern of [
    "**/node_modules",
    ".git",
    "test/**",
    "!test/package.json",
    "!infra/docker/vdet-entrypoint.sh",
  ]) {
    assert.ok(ignore.includes(pattern), pattern);
  }
  for (const copied of dockerfile.matchAll(/^COPY (?:--chown=\S+ )?(?!--from)(\S+)/gm)) {
    assert.ok(!ignore.includes(copied[1].replace(/\/$/, "")), `${copied[1]} is copied but ignored`);
  }
});

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

test("entrypoint builds VDET_REDIS_URL from parts, the role becomes ready, the health check says so", async () => {
  const redisUrl = new URL(process.env.VDET_REDIS_URL ?? "redis://127.0.0.1:6379");
  const prefix = `vdet-test-entry-${process.pid}`;
  const port = await freePort();
  const env = {
    PATH: process.env.PATH,
    VDET_APP_DIR: repoRoot,
    VDET_REDIS_HOST: redisUrl.hostname,
    VDET_REDIS_PORT: redisUrl.port || "6379",
    VDET_PREFIX: prefix,
    VDET_HEALTH_PORT: String(port),
  };
  const role = spawn(`${dockerDir}vdet-entrypoint.sh`, ["aggregator"], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  role.stdout.on("data", (d) => {
    log += d;
  });
  role.stderr.on("data", (d) => {
    log += d;
  });
  const exited = new Promise<number | null>((resolve) => role.on("exit", (code) => resolve(code)));
  try {
    let healthy = false;
    // Start-up compiles the role's sources through tsx: allow a minute on a loaded 2-core machine.
    for (const deadline = Date.now() + 60_000; Date.now() < deadline && !healthy; ) {
      await new Promise((r) => setTimeout(r, 200));
      const check = spawnSync(process.execPath, [`${dockerDir}healthcheck.mjs`], {
        env: { ...env, VDET_ROLE: "aggregator" },
      });
      healthy = check.status === 0;
    }
    assert.ok(healthy, `the health check passed; role log:\n${log}`);
  } finally {
    role.kill("SIGTERM");
  }
  assert.equal(await exited, 0, `drained and exited cleanly on SIGTERM:\n${log}`);
  // Read after exit: spawnSync above blocks the event loop, so output may arrive late.
  assert.match(log, new RegExp(`"redisUrl":"redis://${redisUrl.hostname}:${env.VDET_REDIS_PORT}"`));
  const redis = new Redis(redisOptionsFromUrl(redisUrl.href));
  await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
});

test("entrypoint refuses an unknown role and a password that cannot go into a URL", () => {
  const run = (args: string[], env: Record<string, string>) =>
    spawnSync(`${dockerDir}vdet-entrypoint.sh`, args, {
      env: { PATH: process.env.PATH, ...env },
      encoding: "utf8",
    });
  const unknown = run(["scheduler"], {});
  assert.equal(unknown.status, 64);
  assert.match(unknown.stderr, /api, producer, worker or aggregator/);
  const bad = run(["worker"], { VDET_REDIS_HOST: "r", VDET_REDIS_PASSWORD: "a/b@c" });
  assert.equal(bad.status, 64);
  assert.match(bad.stderr, /openssl rand -hex/);
  const ready = spawnSync(process.execPath, [`${dockerDir}healthcheck.mjs`], {
    env: { PATH: process.env.PATH, VDET_ROLE: "worker", VDET_HEALTH_PORT: "9" },
  });
  assert.equal(ready.status, 1, "the health check fails when nothing answers");
});
