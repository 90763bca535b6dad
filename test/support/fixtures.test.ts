import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { fixturesDir, largeFixture, loadD0StateDict, loadD3StateDict, projectFixture } from "./fixtures.ts";

/** Runs `body` with environment variables set (undefined: unset), restoring them afterwards. */
function withEnv(vars: Record<string, string | undefined>, body: () => void): void {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  apply(vars);
  try {
    body();
  } finally {
    apply(saved);
  }
}

describe("fixture paths", () => {
  test("fixturesDir: VDET_FIXTURES_DIR, else ../shared/fixtures beside the repository", () => {
    withEnv({ VDET_FIXTURES_DIR: "/somewhere/else" }, () => assert.equal(fixturesDir(), "/somewhere/else"));
    withEnv({ VDET_FIXTURES_DIR: undefined }, () => {
      const repo = join(import.meta.dirname, "..", "..");
      assert.equal(fixturesDir(), join(repo, "..", "shared", "fixtures"));
    });
  });

  test("projectFixture points into test/fixtures and throws for a missing file", () => {
    assert.ok(readFileSync(projectFixture("effdet/README.md"), "utf8").includes("D3 generated conv weights"));
    assert.throws(() => projectFixture("effdet/nope.bin"), /project fixture effdet\/nope\.bin is missing/);
  });

  test("largeFixture skips with a message when the file is absent, and throws when fixtures are required", () => {
    const skips: string[] = [];
    const fakeContext = { skip: (message: string) => skips.push(message) } as unknown as TestContext;
    withEnv({ VDET_FIXTURES_DIR: "/nonexistent-fixtures", VDET_REQUIRE_FIXTURES: undefined }, () => {
      assert.equal(largeFixture(fakeContext, "effdet/d0.weights.pth"), undefined);
      assert.equal(loadD0StateDict(fakeContext), undefined);
    });
    assert.deepEqual(skips, [
      "large fixture effdet/d0.weights.pth not found under /nonexistent-fixtures (set VDET_FIXTURES_DIR)",
      "large fixture effdet/d0.weights.safetensors not found under /nonexistent-fixtures (set VDET_FIXTURES_DIR)",
    ]);
    withEnv({ VDET_FIXTURES_DIR: "/nonexistent-fixtures", VDET_REQUIRE_FIXTURES: "1" }, () => {
      assert.throws(
        () => largeFixture(fakeContext, "effdet/d0.weights.pth"),
        /large fixture effdet\/d0\.weights\.pth not found under \/nonexistent-fixtures \(VDET_REQUIRE_FIXTURES=1\)/,
      );
    });
    assert.equal(skips.length, 2);
  });

  test("largeFixture returns the path of a present fixture; loadD0StateDict reads it", (t) => {
    const path = largeFixture(t, "effdet/d0.weights.safetensors");
    if (!path) return;
    assert.equal(path, join(fixturesDir(), "effdet/d0.weights.safetensors"));
    const d0 = loadD0StateDict(t)!;
    assert.equal(d0.size, 784);
    assert.deepEqual(d0.get("backbone.conv_stem.weight")!.shape, [32, 3, 3, 3]);
  });
});

describe("loadD3StateDict", () => {
  test("regenerates the README's self-test values for backbone.conv_stem.weight", () => {
    const stem = loadD3StateDict().get("backbone.conv_stem.weight")!;
    assert.equal(stem.dtype, "F32");
    assert.deepEqual(stem.shape, [40, 3, 3, 3]);
    assert.deepEqual(
      Array.from((stem.data as Float32Array).subarray(0, 4)),
      [0.32090601325035095, 0.26929768919944763, 0.2896864414215088, -0.243374302983284],
    );
  });

  test("has the manifest's 1270 tensors in manifest order, 251 of them generated 4-D conv weights", () => {
    const manifest = JSON.parse(readFileSync(projectFixture("effdet/d3-256.weights-manifest.json"), "utf8"));
    const dict = loadD3StateDict();
    assert.deepEqual(
      [...dict.keys()],
      manifest.tensors.map((e: { name: string }) => e.name),
    );
    const generated = manifest.tensors.filter((e: { source: string }) => e.source === "generated");
    assert.equal(generated.length, 251);
    for (const entry of generated) {
      const tensor = dict.get(entry.name)!;
      assert.equal(tensor.shape.length, 4, entry.name);
      assert.deepEqual(Array.from((tensor.data as Float32Array).subarray(0, 4)), entry.first4, entry.name);
    }
    const predict = dict.get("class_net.predict.conv_pw.weight")!.data as Float32Array;
    const bound = 3 * Math.sqrt(3 / 160);
    assert.ok(predict.every((v) => Math.abs(v) <= bound) && predict.some((v) => Math.abs(v) > bound / 3));
  });

  test("returns a fresh Map each call over the same tensors", () => {
    const a = loadD3StateDict();
    const b = loadD3StateDict();
    assert.notEqual(a, b);
    a.delete("backbone.conv_stem.weight");
    assert.ok(b.has("backbone.conv_stem.weight"));
    assert.equal(a.get("backbone.bn1.weight"), b.get("backbone.bn1.weight"));
  });
});
