// Execution provider parsing, option mapping and the "provider not installed" errors, checked against the
// real CPU-only onnxruntime-node build installed here.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { env, InferenceSession } from "onnxruntime-node";
import { addReluModel } from "../testing/tiny-models.ts";
import {
  ExecutionProviderUnavailableError,
  InvalidExecutionProviderError,
  InvalidRunnerOptionError,
} from "./errors.ts";
import {
  assertExecutionProviderInstalled,
  type ExecutionProvider,
  formatExecutionProvider,
  type OrtInstall,
  parseExecutionProvider,
  providerLibraries,
  sessionOptionsFor,
} from "./execution-provider.ts";
import { createOnnxRunner } from "./onnx-runner.ts";
import {
  describeOrtInstall,
  isProviderLoadFailure,
  libraryLoadError,
  providerLoadError,
} from "./ort-install.ts";

// The failing CUDA session below makes onnxruntime log the loader error on stderr; the test checks it instead.
env.logLevel = "fatal";

const CUDA: ExecutionProvider = { name: "cuda", deviceId: 0 };

describe("parseExecutionProvider", () => {
  test("accepts cpu, cuda[:id] and tensorrt[:id]", () => {
    assert.deepEqual(parseExecutionProvider("cpu"), { name: "cpu" });
    assert.deepEqual(parseExecutionProvider("cuda"), { name: "cuda", deviceId: 0 });
    assert.deepEqual(parseExecutionProvider("cuda:1"), { name: "cuda", deviceId: 1 });
    assert.deepEqual(parseExecutionProvider("tensorrt"), { name: "tensorrt", deviceId: 0 });
    assert.deepEqual(parseExecutionProvider("tensorrt:0"), { name: "tensorrt", deviceId: 0 });
    assert.deepEqual(parseExecutionProvider(" CUDA:3 "), { name: "cuda", deviceId: 3 });
  });

  test("formats back to the canonical string", () => {
    for (const spec of ["cpu", "cuda:0", "cuda:7", "tensorrt:2"]) {
      assert.equal(formatExecutionProvider(parseExecutionProvider(spec)), spec);
    }
  });

  test("rejects other strings with the list of valid forms", () => {
    for (const spec of [
      "",
      "gpu",
      "cuda:",
      "cuda:-1",
      "cuda:1.5",
      "cuda:a",
      "cpu:0",
      "trt",
      "cuda:0:1",
      "dml",
    ]) {
      assert.throws(
        () => parseExecutionProvider(spec),
        (error: Error) => {
          assert.ok(error instanceof InvalidExecutionProviderError, `${spec}: ${error}`);
          assert.match(error.message, new RegExp(`"${spec}"`));
          assert.match(error.message, /cpu, cuda, cuda:<device>, tensorrt, tensorrt:<device>/);
          return true;
        },
      );
    }
    assert.match(
      (() => {
        try {
          parseExecutionProvider("cpu:1");
        } catch (error) {
          return (error as Error).message;
        }
        return "";
      })(),
      /cpu takes no device index/,
    );
  });
});

describe("sessionOptionsFor", () => {
  test("cpu with thread counts and optimisation level", () => {
    assert.deepEqual(
      sessionOptionsFor(
        { name: "cpu" },
        { intraOpThreads: 4, interOpThreads: 2, graphOptimization: "extended" },
      ),
      {
        executionProviders: ["cpu"],
        graphOptimizationLevel: "extended",
        intraOpNumThreads: 4,
        interOpNumThreads: 2,
        executionMode: "parallel",
      },
    );
  });

  test("defaults: all optimisations, one intra-op thread per available core, sequential execution", () => {
    assert.deepEqual(sessionOptionsFor({ name: "cpu" }), {
      executionProviders: ["cpu"],
      graphOptimizationLevel: "all",
      intraOpNumThreads: availableParallelism(),
    });
    assert.equal(sessionOptionsFor({ name: "cpu" }, { interOpThreads: 1 }).executionMode, undefined);
  });

  test("intra-op spinning off is passed as onnxruntime's session config entry; on is its default", () => {
    assert.deepEqual(sessionOptionsFor({ name: "cpu" }, { intraOpSpinning: false }).extra, {
      session: { intra_op: { allow_spinning: "0" } },
    });
    assert.equal(sessionOptionsFor({ name: "cpu" }, { intraOpSpinning: true }).extra, undefined);
  });

  test("cuda carries its device id", () => {
    assert.deepEqual(sessionOptionsFor(parseExecutionProvider("cuda:1")).executionProviders, [
      { name: "cuda", deviceId: 1 },
    ]);
  });

  test("tensorrt falls back to cuda on the same device", () => {
    assert.deepEqual(sessionOptionsFor(parseExecutionProvider("tensorrt:2"), { intraOpThreads: 1 }), {
      executionProviders: [
        { name: "tensorrt", deviceId: 2 },
        { name: "cuda", deviceId: 2 },
      ],
      graphOptimizationLevel: "all",
      intraOpNumThreads: 1,
    });
  });

  test("rejects bad thread counts and optimisation levels", () => {
    for (const intraOpThreads of [0, -1, 1.5, Number.NaN, 5000]) {
      assert.throws(() => sessionOptionsFor(CUDA, { intraOpThreads }), InvalidRunnerOptionError);
    }
    assert.throws(() => sessionOptionsFor(CUDA, { interOpThreads: 0 }), /interOpThreads must be an integer/);
    assert.throws(
      () => sessionOptionsFor(CUDA, { graphOptimization: "max" as "all" }),
      /graph optimisation "max" is not one of all, extended, basic, disabled/,
    );
  });
});

describe("provider install checks", () => {
  const fakeInstall = (present: string[], backends = ["cpu", "cuda", "tensorrt"]): OrtInstall => ({
    platform: "linux",
    bindingDir: "/opt/ort/bin",
    backends: backends.map((name) => ({ name, bundled: name === "cpu" })),
    exists: (path) => present.some((name) => path === `/opt/ort/bin/${name}`),
  });

  test("names the provider libraries per platform", () => {
    assert.deepEqual(providerLibraries({ name: "cpu" }, "linux"), []);
    assert.deepEqual(providerLibraries(CUDA, "linux"), [
      "libonnxruntime_providers_shared.so",
      "libonnxruntime_providers_cuda.so",
    ]);
    assert.deepEqual(providerLibraries({ name: "tensorrt", deviceId: 0 }, "win32"), [
      "onnxruntime_providers_shared.dll",
      "onnxruntime_providers_tensorrt.dll",
      "onnxruntime_providers_cuda.dll",
    ]);
  });

  test("passes when the libraries are present, names only the missing ones otherwise", () => {
    const all = providerLibraries({ name: "tensorrt", deviceId: 0 }, "linux");
    assertExecutionProviderInstalled({ name: "tensorrt", deviceId: 0 }, fakeInstall(all));
    assertExecutionProviderInstalled(CUDA, fakeInstall(all.filter((l) => !l.includes("tensorrt"))));
    assert.throws(
      () => assertExecutionProviderInstalled({ name: "tensorrt", deviceId: 1 }, fakeInstall(all.slice(0, 1))),
      (error: Error) => {
        assert.ok(error instanceof ExecutionProviderUnavailableError);
        assert.deepEqual(error.libraries, [
          "libonnxruntime_providers_tensorrt.so",
          "libonnxruntime_providers_cuda.so",
        ]);
        assert.equal(error.provider, "tensorrt:1");
        assert.doesNotMatch(error.message, /providers_shared/);
        return true;
      },
    );
  });

  test("a binding without the provider (e.g. macOS) says so", () => {
    assert.throws(
      () => assertExecutionProviderInstalled(CUDA, fakeInstall([], ["cpu", "webgpu"])),
      /"cuda:0" is not supported by onnxruntime-node on linux\/.*offers cpu, webgpu/,
    );
  });

  test("this CPU build: cuda and tensorrt fail naming the missing library and the install flag", async () => {
    const install = await describeOrtInstall();
    assert.ok(install.exists(join(install.bindingDir, "onnxruntime_binding.node")));
    assert.ok(install.backends.some((b) => b.name === "cpu"));
    assertExecutionProviderInstalled({ name: "cpu" }, install);
    for (const spec of ["cuda", "cuda:1", "tensorrt"]) {
      assert.throws(
        () => assertExecutionProviderInstalled(parseExecutionProvider(spec), install),
        (error: Error) => {
          assert.ok(error instanceof ExecutionProviderUnavailableError);
          assert.ok(error.libraries.includes("libonnxruntime_providers_cuda.so"));
          assert.match(error.message, /libonnxruntime_providers_cuda\.so/);
          assert.match(error.message, /ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci/);
          assert.match(error.message, /CUDA 12 and cuDNN 9/);
          return true;
        },
      );
    }
  });

  test("createOnnxRunner with cuda rejects with that error before loading anything", async () => {
    await assert.rejects(
      createOnnxRunner(addReluModel(), { executionProvider: "cuda:0" }),
      (error: Error) =>
        error instanceof ExecutionProviderUnavailableError &&
        /libonnxruntime_providers_cuda\.so/.test(error.message) &&
        /ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci/.test(error.message),
    );
  });

  test("onnxruntime's own failure to load a provider is recognised and explained", async () => {
    // A real session with the CUDA provider on this CPU build: onnxruntime's message does not name the library.
    const ortMessage = await InferenceSession.create(addReluModel(), sessionOptionsFor(CUDA)).then(
      () => assert.fail("a CUDA session should not open on the CPU build"),
      (error: Error) => error.message,
    );
    assert.ok(isProviderLoadFailure(ortMessage), ortMessage);
    assert.ok(!isProviderLoadFailure("Got invalid dimensions for input: a"));

    // Provider files that exist but cannot be loaded: the real dynamic loader says why.
    const dir = mkdtempSync(join(tmpdir(), "vdet-ort-"));
    try {
      for (const name of providerLibraries(CUDA, "linux")) writeFileSync(join(dir, name), "not a library");
      const install: OrtInstall = { ...(await describeOrtInstall()), platform: "linux", bindingDir: dir };
      assertExecutionProviderInstalled(CUDA, install); // the files are there …
      const error = providerLoadError(CUDA, install, ortMessage); // … but do not load
      assert.deepEqual(error.libraries, providerLibraries(CUDA, "linux"));
      assert.match(error.message, /libonnxruntime_providers_cuda\.so: .*(invalid ELF header|too short)/);
      assert.match(error.message, /Failed to load shared library/);
      assert.match(error.message, /LD_LIBRARY_PATH/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("libraryLoadError reports the loader's reason, and nothing for a library that loads", async () => {
    assert.match(libraryLoadError("/nonexistent/libfoo.so") ?? "", /cannot open shared object file/);
    const { bindingDir } = await describeOrtInstall();
    assert.equal(libraryLoadError(join(bindingDir, "libonnxruntime.so.1")), undefined);
  });
});
