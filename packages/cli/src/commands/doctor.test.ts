// `vdet doctor` as a user runs it (the real CLI in a child process): a healthy machine, then a missing ffmpeg, an
// unreachable Redis (a closed loopback port) and CUDA asked of a CPU-only onnxruntime, then the old npm fallback.

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { describeOrtInstall, providerLibraries } from "@vdet/runtime";
import { runVdet } from "../../testing/vdet.ts";
import { cpuFeatures, type DoctorCheck } from "./doctor.ts";

const repoRoot = fileURLToPath(new URL("../../../..", import.meta.url));
const home = mkdtempSync(join(tmpdir(), "vdet-doctor-"));
after(() => rmSync(home, { recursive: true, force: true }));

function doctor(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return runVdet(["doctor", ...args], {
    cwd: repoRoot,
    env: { VDET_HOME: home, VDET_S3_ENDPOINT: "", ...env },
  });
}

function checksOf(stdout: string): Map<string, DoctorCheck> {
  const report = JSON.parse(stdout) as { ok: boolean; checks: DoctorCheck[] };
  return new Map(report.checks.map((c) => [c.name, c]));
}

/** A loopback port nothing listens on: bound, then closed again. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test("a working machine: every check answers, Redis with its version, the CPU provider usable", async () => {
  const result = await doctor([
    "--json",
    "--redis-url",
    process.env.VDET_REDIS_URL ?? "redis://127.0.0.1:6379",
  ]);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const checks = checksOf(result.stdout);
  assert.deepEqual([...checks.keys()], ["node", "onnxruntime", "ffmpeg", "redis", "s3", "models", "cpu"]);
  assert.equal(checks.get("node")?.details?.node, process.versions.node);
  assert.equal(checks.get("onnxruntime")?.status, "ok");
  assert.match(checks.get("onnxruntime")?.summary ?? "", /^onnxruntime-node \d+\.\d+\.\d+; cpu yes; cuda /);
  assert.equal(checks.get("redis")?.status, "ok");
  assert.match(String(checks.get("redis")?.details?.serverVersion), /^\d+\.\d+/);
  assert.equal(checks.get("s3")?.status, "skip");
  assert.equal(checks.get("models")?.status, "warn", "an empty cache says how to fill it");
  assert.match(checks.get("models")?.advice ?? "", /vdet models pull d0/);
  assert.equal(checks.get("cpu")?.details?.threads, (await import("node:os")).availableParallelism());
});

test("a missing ffmpeg, an unreachable Redis and CUDA on a CPU-only onnxruntime each fail with what to do", async (t) => {
  const install = await describeOrtInstall();
  const cudaInstalled = providerLibraries({ name: "cuda", deviceId: 0 }, install.platform).every((lib) =>
    existsSync(join(install.bindingDir, lib)),
  );
  const port = await closedPort();
  const result = await doctor(
    ["--ep", "cuda", "--redis-url", `redis://127.0.0.1:${port}`, "--timeout", "2"],
    {
      VDET_FFMPEG: join(home, "no-such-ffmpeg"),
    },
  );
  assert.equal(result.code, 1, "a failed check fails the command");
  const lines = result.stdout.split("\n");
  const block = (name: string) => {
    const at = lines.findIndex((l) => new RegExp(`^\\w+\\s+${name}\\s`).test(l));
    assert.ok(at >= 0, `no ${name} line in:\n${result.stdout}`);
    return `${lines[at]}\n${lines[at + 1] ?? ""}`;
  };
  assert.match(
    block("ffmpeg"),
    /^fail\s+ffmpeg\s+no usable ffmpeg\n\s+→ VDET_FFMPEG=.*no-such-ffmpeg is not an executable file/,
  );
  assert.match(
    block("redis"),
    new RegExp(
      `^fail\\s+redis\\s+not reachable at redis://127\\.0\\.0\\.1:${port}\\n\\s+→ nothing accepts connections`,
    ),
  );
  if (cudaInstalled) {
    t.diagnostic("this install has the CUDA provider libraries; the CPU-only case cannot be shown here");
  } else {
    assert.match(block("onnxruntime"), /^fail\s+onnxruntime\s+.*cuda no \(not installed\)/);
    assert.match(
      block("onnxruntime"),
      /libonnxruntime_providers_cuda\.so.*ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci/,
    );
  }
  assert.match(result.stdout, /\n3 check\(s\) failed\n$/);
});

test("with no system ffmpeg, the npm installers' old builds are reported as the fallback, with their dates", async () => {
  const result = await doctor(
    ["--json", "--redis-url", `redis://127.0.0.1:${await closedPort()}`, "--timeout", "1"],
    {
      PATH: "",
      VDET_FFMPEG: "",
      VDET_FFPROBE: "",
    },
  );
  const ffmpeg = checksOf(result.stdout).get("ffmpeg");
  assert.equal(ffmpeg?.status, "warn");
  assert.equal(ffmpeg?.details?.oldFallback, true);
  assert.equal(ffmpeg?.details?.ffmpegSource, "bundled");
  assert.match(ffmpeg?.advice ?? "", /ffmpeg 2018\d{4}-g[0-9a-f]+.*apt-get install ffmpeg/);
});

test("cpuFeatures reads AVX-512, VNNI and AMX from /proc/cpuinfo flags", () => {
  assert.deepEqual(cpuFeatures("processor : 0\nflags : fpu avx2 avx512f avx512_vnni amx_tile amx_int8\n"), {
    avx2: true,
    avx512: true,
    vnni: true,
    amx: true,
  });
  assert.deepEqual(cpuFeatures("flags\t\t: fpu sse4_2 avx2 avx_vnni\n"), {
    avx2: true,
    avx512: false,
    vnni: true,
    amx: false,
  });
  assert.equal(cpuFeatures(undefined), undefined);
});
