// Conversions between tensor dtypes and float32, exact wherever float32 can hold the value and correctly rounded
// (to nearest, ties to even) where it cannot. Half precision goes through a 64K-entry table built on first use.

import type { Tensor } from "./tensor.ts";

let halfTable: Float32Array | undefined;

/** float32 value of every float16 bit pattern (subnormals, ±inf, NaN payloads kept). */
function float16Table(): Float32Array {
  if (halfTable) return halfTable;
  const bits = new Uint32Array(65536);
  const asFloat = new Float32Array(bits.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exponent = (h >>> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0x1f) {
      bits[h] = (sign | 0x7f800000 | (mantissa << 13)) >>> 0;
    } else {
      // Normal: (1 + m/1024) * 2^(e-15); subnormal: m * 2^-24. Both are exact in float32.
      const magnitude = exponent === 0 ? mantissa * 2 ** -24 : (1024 + mantissa) * 2 ** (exponent - 25);
      asFloat[h] = magnitude;
      bits[h] = (bits[h] | sign) >>> 0;
    }
  }
  halfTable = asFloat;
  return asFloat;
}

/** Widens float16 bit patterns to float32 (exact). */
export function float16ToFloat32(half: Uint16Array): Float32Array {
  const table = float16Table();
  const out = new Float32Array(half.length);
  for (let i = 0; i < half.length; i++) out[i] = table[half[i]];
  return out;
}

/** Widens bfloat16 bit patterns to float32 (exact: bfloat16 is the top half of a float32). */
export function bfloat16ToFloat32(bf16: Uint16Array): Float32Array {
  const bits = new Uint32Array(bf16.length);
  for (let i = 0; i < bf16.length; i++) bits[i] = bf16[i] << 16;
  return new Float32Array(bits.buffer);
}

const scratchFloat = new Float32Array(1);
const scratchBits = new Uint32Array(scratchFloat.buffer);

/** The float16 bit pattern nearest to `value` (rounded to float32 first), ties to even; overflow gives ±inf. */
export function float16Bits(value: number): number {
  scratchFloat[0] = value;
  const f = scratchBits[0];
  const sign = (f >>> 16) & 0x8000;
  const exponent = (f >>> 23) & 0xff;
  const mantissa = f & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa === 0 ? 0 : 0x200 | (mantissa >>> 13));
  if (exponent >= 143) return sign | 0x7c00; // 2^16 and above overflow (65520 rounds to inf below)
  if (exponent >= 113) {
    // Normal float16: keep 10 mantissa bits, round on the 13 dropped ones; a carry may step into inf.
    let half = ((exponent - 112) << 10) | (mantissa >>> 13);
    const dropped = mantissa & 0x1fff;
    if (dropped > 0x1000 || (dropped === 0x1000 && (half & 1) === 1)) half++;
    return sign | half;
  }
  // Subnormal float16 (or zero): count of 2^-24 units, rounded.
  const shift = 126 - exponent;
  if (shift > 24) return sign;
  const full = mantissa | 0x800000;
  let units = full >>> shift;
  const dropped = full & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  if (dropped > halfway || (dropped === halfway && (units & 1) === 1)) units++;
  return sign | units;
}

/** Rounds float32 values to float16 bit patterns (see `float16Bits`). */
export function float32ToFloat16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = float16Bits(values[i]);
  return out;
}

/** float32 nearest to an int64 (correct rounding; `Number()` alone would round twice above 2^53). */
function int64ToFloat32(value: bigint): number {
  const negative = value < 0n;
  let magnitude = negative ? -value : value;
  let scale = 1;
  const bits = magnitude.toString(2).length;
  if (bits > 53) {
    // Keep 53 bits and fold the rest into a sticky bit (round to odd), so the final rounding to 24 bits is exact.
    const shift = BigInt(bits - 53);
    const kept = magnitude >> shift;
    magnitude = (magnitude & ((1n << shift) - 1n)) === 0n ? kept : kept | 1n;
    scale = 2 ** (bits - 53);
  }
  const rounded = Math.fround(Number(magnitude) * scale);
  return negative ? -rounded : rounded;
}

/**
 * The tensor's values as float32 in C order. F32 tensors return their own `data` (no copy: do not mutate it);
 * every other dtype gives a new array. Integers beyond 2^24 and float64 values are rounded to nearest float32.
 */
export function toFloat32(tensor: Tensor): Float32Array {
  switch (tensor.dtype) {
    case "F32":
      return tensor.data;
    case "F16":
      return float16ToFloat32(tensor.data);
    case "BF16":
      return bfloat16ToFloat32(tensor.data);
    case "I64": {
      const out = new Float32Array(tensor.data.length);
      for (let i = 0; i < out.length; i++) {
        const v = tensor.data[i];
        out[i] = v <= 9007199254740992n && v >= -9007199254740992n ? Number(v) : int64ToFloat32(v);
      }
      return out;
    }
    default:
      // F64, I32, I16, I8, U8, BOOL: the typed-array constructor converts each element with float32 rounding.
      return new Float32Array(tensor.data);
  }
}
