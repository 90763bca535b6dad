// The CPU features int8 inference depends on, read once from /proc/cpuinfo (Linux). onnxruntime's u8×s8 kernels
// use VNNI (vpdpbusd, 32-bit accumulation) or AMX where the CPU has them; without them x86 falls back to AVX2's
// vpmaddubsw, which adds pairs of u8×s8 products in saturating 16 bits, so full 8-bit weights can overflow.

import { readFileSync } from "node:fs";
import { arch } from "node:os";

export interface CpuFeatures {
  /** Where the flags came from ("/proc/cpuinfo", or why none were read). */
  source: string;
  /** CPU model name when known. */
  model?: string;
  avx2: boolean;
  avx512f: boolean;
  /** AVX-512 VNNI or AVX-VNNI (the VEX-encoded form on newer cores): u8×s8 dot products with 32-bit sums. */
  vnni: boolean;
  /** AMX int8 tiles. */
  amxInt8: boolean;
  /** The int8-relevant flags present, for reports. */
  flags: string[];
}

const REPORTED = ["avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8", "amx_tile"];

/** Parses the text of /proc/cpuinfo (the first processor's flags). */
export function parseCpuInfo(text: string, source = "/proc/cpuinfo"): CpuFeatures {
  const flags = new Set(
    text
      .match(/^flags\s*:(.*)$/m)?.[1]
      ?.trim()
      .split(/\s+/) ?? [],
  );
  const model = text.match(/^model name\s*:(.*)$/m)?.[1]?.trim();
  return {
    source,
    ...(model ? { model } : {}),
    avx2: flags.has("avx2"),
    avx512f: flags.has("avx512f"),
    vnni: flags.has("avx512_vnni") || flags.has("avx_vnni"),
    amxInt8: flags.has("amx_int8"),
    flags: REPORTED.filter((f) => flags.has(f)),
  };
}

let cached: CpuFeatures | undefined;

/** This machine's features (cached). Non-Linux or unreadable: every feature false, `source` says why. */
export function cpuFeatures(): CpuFeatures {
  if (cached) return cached;
  try {
    cached = parseCpuInfo(readFileSync("/proc/cpuinfo", "utf8"));
  } catch (error) {
    cached = {
      source: `unknown (${arch()}: /proc/cpuinfo unreadable: ${(error as Error).message})`,
      avx2: false,
      avx512f: false,
      vnni: false,
      amxInt8: false,
      flags: [],
    };
  }
  return cached;
}

/**
 * The int8 weight width that is exact on a CPU: 8 bits (−127…127) where onnxruntime's int8 kernels accumulate in
 * 32 bits (VNNI or AMX), 7 bits (−63…63, so 255·63·2 fits vpmaddubsw's 16-bit sum) otherwise.
 */
export function int8WeightBitsFor(features: CpuFeatures): 7 | 8 {
  return features.vnni || features.amxInt8 ? 8 : 7;
}
