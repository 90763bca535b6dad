// CPU feature detection for int8: VNNI (AVX-512 or AVX-VNNI) or AMX → 8-bit weights; AVX2 only → 7-bit.

import assert from "node:assert/strict";
import { test } from "node:test";
import { cpuFeatures, int8WeightBitsFor, parseCpuInfo } from "./cpu-features.ts";

const cpuinfo = (flags: string) => `processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu sse2 ${flags}\n\n`;

test("8-bit int8 weights where the CPU has VNNI or AMX, 7-bit otherwise", () => {
  const amd = parseCpuInfo(cpuinfo("avx2 avx512f avx512_vnni avx512_bf16"));
  assert.equal(amd.model, "Test CPU");
  assert.deepEqual(amd.flags, ["avx2", "avx512f", "avx512_vnni", "avx512_bf16"]);
  assert.equal(int8WeightBitsFor(amd), 8);
  assert.equal(int8WeightBitsFor(parseCpuInfo(cpuinfo("avx2 avx_vnni"))), 8);
  assert.equal(int8WeightBitsFor(parseCpuInfo(cpuinfo("avx2 avx512f amx_tile amx_int8"))), 8);
  assert.equal(int8WeightBitsFor(parseCpuInfo(cpuinfo("avx2 avx512f"))), 7);
  assert.equal(int8WeightBitsFor(parseCpuInfo("")), 7);
  // This machine: whatever it has, the answer follows its flags.
  const here = cpuFeatures();
  assert.equal(int8WeightBitsFor(here), here.vnni || here.amxInt8 ? 8 : 7);
});
