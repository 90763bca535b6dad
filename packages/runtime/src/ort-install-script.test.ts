// What onnxruntime-node's own install script (run by `npm ci` as its postinstall) downloads for each way of
// asking: the real script runs with npm's environment for a dependency install and a preload that stops it at
// its first HTTPS request, so nothing is fetched. The CPU default (`ONNXRUNTIME_NODE_INSTALL=skip`) and the GPU
// install line in the README (`ONNXRUNTIME_NODE_INSTALL=cuda12`) depend on these answers.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { providerLibraries } from "./execution-provider.ts";

const packageDir = dirname(createRequire(import.meta.url).resolve("onnxruntime-node/package.json"));
const projectRoot = resolve(packageDir, "..", "..");
const offlineHttps = fileURLToPath(new URL("../test/offline-https.cjs", import.meta.url));
const bindingDir = join(packageDir, "bin", "napi-v6", "linux", "x64");
const cudaInstalled = providerLibraries({ name: "cuda", deviceId: 0 }, "linux").every((lib) =>
  existsSync(join(bindingDir, lib)),
);
const NUGET_INDEX = "https://api.nuget.org/v3/index.json";

/** Runs the install script as `npm ci` runs a dependency's postinstall; returns what it tried to download. */
function runInstallScript(
  env: Record<string, string>,
  args: string[] = [],
): { status: number | null; download?: string } {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(npm_|ONNXRUNTIME_NODE_INSTALL)/i.test(k)),
  );
  const result = spawnSync(
    process.execPath,
    ["--require", offlineHttps, join(packageDir, "script", "install.js"), ...args],
    {
      cwd: packageDir,
      encoding: "utf8",
      env: {
        ...inherited,
        // npm's lifecycle environment for a dependency: the project is the local prefix, the package.json is the dependency's.
        npm_config_local_prefix: projectRoot,
        npm_package_json: join(packageDir, "package.json"),
        // Should anything get past the preload, it goes to a closed loopback port, not the internet.
        GLOBAL_AGENT_HTTP_PROXY: "http://127.0.0.1:9",
        ...env,
      },
    },
  );
  const line = result.stdout.split("\n").find((l) => l.startsWith("{"));
  return {
    status: result.status,
    download: line ? (JSON.parse(line) as { download: string }).download : undefined,
  };
}

/** One test per [name, env]: the install script run with env ends as `expected`. */
function expectInstall(
  expected: ReturnType<typeof runInstallScript>,
  cases: [string, Record<string, string>][],
) {
  for (const [name, env] of cases) {
    test(name, () => {
      assert.deepEqual(runInstallScript(env), expected);
    });
  }
}

const linuxX64 = process.platform === "linux" && process.arch === "x64";

describe("onnxruntime-node install script (no network)", {
  skip: !linuxX64 && "the CUDA download exists on linux/x64 only",
}, () => {
  expectInstall({ status: 0, download: undefined }, [
    [
      "ONNXRUNTIME_NODE_INSTALL=skip downloads nothing: the CPU build shipped in the package is used",
      { ONNXRUNTIME_NODE_INSTALL: "skip" },
    ],
    [
      "the .npmrc/CLI spelling (npm_config_onnxruntime_node_install=skip) is read the same way",
      { npm_config_onnxruntime_node_install: "skip" },
    ],
  ]);

  describe("asking for CUDA fetches the provider libraries from NuGet", {
    skip: cudaInstalled && "CUDA provider already installed",
  }, () => {
    expectInstall({ status: 42, download: NUGET_INDEX }, [
      [
        "ONNXRUNTIME_NODE_INSTALL=cuda12 (the README's GPU line, npm 10 and 11)",
        { ONNXRUNTIME_NODE_INSTALL: "cuda12" },
      ],
      [
        "npm ci --onnxruntime-node-install=cuda12 (npm passes the flag as npm_config_…)",
        { npm_config_onnxruntime_node_install: "cuda12" },
      ],
      ["no setting at all on linux/x64: the script's own default is to download CUDA 12 libraries", {}],
    ]);
  });

  // onnxruntime-node 1.30's parseInstallFlag returns nothing for a string value it does not know, so the value is
  // never validated: a typo behaves like no setting. Only `skip` turns the download off.
  test("any other value (a typo such as cuda13) behaves like no setting", {
    skip: cudaInstalled && "CUDA provider already installed",
  }, () => {
    assert.deepEqual(runInstallScript({ ONNXRUNTIME_NODE_INSTALL: "cuda13" }), {
      status: 42,
      download: NUGET_INDEX,
    });
  });
});
