// Where tests find their fixtures, shared by every package's tests:
//   projectFixture("effdet/x")  small files committed under test/fixtures/ (always present)
//   largeFixture(t, "effdet/x") big files under $VDET_FIXTURES_DIR (default ../shared/fixtures): skips the test
//                               when absent, fails instead when VDET_REQUIRE_FIXTURES=1 (CI)
//   loadD3StateDict()           the D3 parity weights, conv weights regenerated as the fixture README specifies
//   loadD0StateDict(t)          the D0 parity weights (large fixture)

import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { fillUniform, fnv1a32 } from "@vdet/effdet";
import { numel, readSafetensors, type StateDict, type Tensor } from "@vdet/tensorio";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/** Folder of the large shared fixtures: `$VDET_FIXTURES_DIR`, default `<repo>/../shared/fixtures`. */
export function fixturesDir(): string {
  return process.env.VDET_FIXTURES_DIR ?? join(repoRoot, "..", "shared", "fixtures");
}

/** Path of a small fixture committed under `<repo>/test/fixtures/`; throws when it is missing. */
export function projectFixture(relativePath: string): string {
  const path = join(repoRoot, "test", "fixtures", relativePath);
  if (!existsSync(path)) throw new Error(`project fixture ${relativePath} is missing: expected ${path}`);
  return path;
}

/**
 * Path of a large fixture under `fixturesDir()`. When it is absent the test is skipped (`t.skip`) and undefined
 * is returned, so the caller returns early; with `VDET_REQUIRE_FIXTURES=1` an absent fixture throws instead.
 */
export function largeFixture(t: TestContext, relativePath: string): string | undefined {
  const dir = fixturesDir();
  const path = join(dir, relativePath);
  if (existsSync(path)) return path;
  const message = `large fixture ${relativePath} not found under ${dir}`;
  if (process.env.VDET_REQUIRE_FIXTURES === "1") throw new Error(`${message} (VDET_REQUIRE_FIXTURES=1)`);
  t.skip(`${message} (set VDET_FIXTURES_DIR)`);
  return undefined;
}

/** The D0 parity weights (`effdet/d0.weights.safetensors`), or undefined after skipping the test. */
export function loadD0StateDict(t: TestContext): StateDict | undefined {
  const path = largeFixture(t, "effdet/d0.weights.safetensors");
  return path === undefined ? undefined : readSafetensors(readFileSync(path));
}

interface ManifestEntry {
  name: string;
  shape: number[];
  dtype: "float32" | "int64";
  source: "generated" | "file";
  bound_f64?: number;
  sha256?: string;
}

const D3_SEED = 0x0effd3d3;
const MANIFEST_DTYPES = { float32: "F32", int64: "I64" } as const;

/**
 * The fixture README's generated conv weight: mulberry32 seeded by fnv1a32(name) ^ 0x0EFFD3D3, scaled to ±bound.
 * It is the generator effdet's seeded weights use, so the sha256 checks below also pin that generator.
 */
function generatedWeight(name: string, count: number, bound: number): Float32Array {
  return fillUniform(new Float32Array(count), (fnv1a32(name) ^ D3_SEED) >>> 0, bound);
}

let d3Cache: StateDict | undefined;

/**
 * The full D3 state dict (1270 tensors in the reference's order): the 251 generated conv weights, each checked
 * against its manifest sha256 (and all of them against `generated_sha256_all`), merged with the stored tensors of
 * `d3-256.small-tensors.safetensors`. Built once per process; the Map is a fresh copy, the tensors are shared.
 */
export function loadD3StateDict(): StateDict {
  if (!d3Cache) d3Cache = buildD3StateDict();
  return new Map(d3Cache);
}

function buildD3StateDict(): StateDict {
  const manifest = JSON.parse(
    readFileSync(projectFixture("effdet/d3-256.weights-manifest.json"), "utf8"),
  ) as {
    generated_sha256_all: string;
    tensors: ManifestEntry[];
  };
  const stored = readSafetensors(readFileSync(projectFixture("effdet/d3-256.small-tensors.safetensors")));
  const all = createHash("sha256");
  const dict: StateDict = new Map();
  for (const entry of manifest.tensors) {
    let tensor: Tensor | undefined;
    if (entry.source === "generated") {
      const data = generatedWeight(entry.name, numel(entry.shape), entry.bound_f64!);
      const bytes = new Uint8Array(data.buffer);
      const digest = createHash("sha256").update(bytes).digest("hex");
      if (digest !== entry.sha256) {
        throw new Error(
          `regenerated D3 weight ${entry.name} has sha256 ${digest}, the manifest says ${entry.sha256}`,
        );
      }
      all.update(bytes);
      tensor = { dtype: "F32", shape: entry.shape, data };
    } else {
      tensor = stored.get(entry.name);
      if (!tensor) throw new Error(`d3-256.small-tensors.safetensors lacks ${entry.name}`);
      if (tensor.dtype !== MANIFEST_DTYPES[entry.dtype] || tensor.data.length !== numel(entry.shape)) {
        throw new Error(
          `${entry.name}: file has ${tensor.dtype} [${tensor.shape}], manifest ${entry.dtype} [${entry.shape}]`,
        );
      }
    }
    dict.set(entry.name, tensor);
  }
  const digest = all.digest("hex");
  if (digest !== manifest.generated_sha256_all) {
    throw new Error(
      `regenerated D3 weights hash to ${digest}, the manifest says ${manifest.generated_sha256_all}`,
    );
  }
  const extra = [...stored.keys()].filter((name) => !dict.has(name));
  if (extra.length > 0)
    throw new Error(`d3-256.small-tensors.safetensors has tensors the manifest lacks: ${extra}`);
  return dict;
}
