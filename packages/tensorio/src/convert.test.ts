import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { bfloat16ToFloat32, float16Bits, float16ToFloat32, float32ToFloat16, toFloat32 } from "./convert.ts";

const half = (...bits: number[]): number[] => Array.from(float16ToFloat32(Uint16Array.from(bits)));

describe("float16", () => {
  test("special values and the ends of each range decode exactly", () => {
    assert.deepEqual(half(0x0000, 0x8000, 0x3c00, 0xc000, 0x3555), [0, -0, 1, -2, 0.333251953125]);
    assert.ok(Object.is(half(0x8000)[0], -0));
    // Smallest and largest subnormal, smallest normal, largest finite.
    assert.deepEqual(half(0x0001, 0x03ff, 0x0400, 0x7bff), [2 ** -24, 1023 * 2 ** -24, 2 ** -14, 65504]);
    assert.deepEqual(half(0x8001, 0xfbff), [-(2 ** -24), -65504]);
    assert.deepEqual(half(0x7c00, 0xfc00), [Infinity, -Infinity]);
    for (const nan of [0x7e00, 0x7c01, 0xfe00, 0x7fff])
      assert.ok(Number.isNaN(half(nan)[0]), nan.toString(16));
  });

  test("every non-NaN bit pattern survives decode then float16Bits", () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const decoded = float16ToFloat32(all);
    const encoded = float32ToFloat16(decoded);
    for (let h = 0; h < 65536; h++) {
      const nanPattern = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (nanPattern) assert.ok((encoded[h] & 0x7c00) === 0x7c00 && (encoded[h] & 0x3ff) !== 0, `NaN ${h}`);
      else assert.equal(encoded[h], h, `pattern 0x${h.toString(16)}`);
    }
  });

  test("float16Bits rounds to nearest, ties to even, in normal and subnormal ranges", () => {
    assert.equal(float16Bits(1 + 2 ** -11), 0x3c00); // halfway between 1 and the next: stays even
    assert.equal(float16Bits(1 + 3 * 2 ** -11), 0x3c02); // halfway between odd and even: up to even
    assert.equal(float16Bits(1 + 2 ** -11 + 2 ** -20), 0x3c01); // just above halfway
    assert.equal(float16Bits(65519), 0x7bff);
    assert.equal(float16Bits(65520), 0x7c00); // rounds up past the largest finite
    assert.equal(float16Bits(-1e6), 0xfc00);
    assert.equal(float16Bits(2 ** -25), 0x0000); // half the smallest subnormal: tie to even (zero)
    assert.equal(float16Bits(2 ** -25 * 1.01), 0x0001);
    assert.equal(float16Bits(3 * 2 ** -25), 0x0002); // 1.5 units: tie to even
    assert.equal(float16Bits(1023.5 * 2 ** -24), 0x0400); // top of the subnormals rounds into the normals
    assert.equal(float16Bits(1e-10), 0x0000);
    assert.equal(float16Bits(-1e-10), 0x8000);
    assert.equal(float16Bits(Number.NaN) & 0x7e00, 0x7e00);
    assert.equal(float16Bits(Infinity), 0x7c00);
  });
});

describe("bfloat16", () => {
  test("is the upper half of a float32", () => {
    const values = Array.from(
      bfloat16ToFloat32(Uint16Array.from([0x3f80, 0xc040, 0x0001, 0x8000, 0x7f80, 0xff80])),
    );
    assert.deepEqual(values, [1, -3, 2 ** -133, -0, Infinity, -Infinity]);
    assert.ok(Number.isNaN(bfloat16ToFloat32(Uint16Array.of(0x7fc0))[0]));
  });
});

describe("toFloat32", () => {
  test("F32 returns the tensor's own array", () => {
    const data = Float32Array.of(1, 2);
    assert.equal(toFloat32({ dtype: "F32", shape: [2], data }), data);
  });

  test("F16 and BF16 tensors", () => {
    assert.deepEqual(
      Array.from(toFloat32({ dtype: "F16", shape: [2], data: Uint16Array.of(0x3c00, 0x0001) })),
      [1, 2 ** -24],
    );
    assert.deepEqual(
      Array.from(toFloat32({ dtype: "BF16", shape: [1], data: Uint16Array.of(0x4049) })),
      [3.140625],
    );
  });

  test("F64 and integers round to nearest float32", () => {
    const f64 = toFloat32({ dtype: "F64", shape: [3], data: Float64Array.of(0.1, 1 + 2 ** -24, 1e39) });
    assert.deepEqual(Array.from(f64), [Math.fround(0.1), 1, Infinity]);
    const i32 = toFloat32({ dtype: "I32", shape: [3], data: Int32Array.of(-7, 2 ** 24 + 1, 2 ** 24 + 3) });
    assert.deepEqual(Array.from(i32), [-7, 2 ** 24, 2 ** 24 + 4]);
    assert.deepEqual(
      Array.from(toFloat32({ dtype: "I8", shape: [2], data: Int8Array.of(-128, 127) })),
      [-128, 127],
    );
    assert.deepEqual(Array.from(toFloat32({ dtype: "U8", shape: [1], data: Uint8Array.of(255) })), [255]);
    assert.deepEqual(
      Array.from(toFloat32({ dtype: "I16", shape: [1], data: Int16Array.of(-32768) })),
      [-32768],
    );
    assert.deepEqual(Array.from(toFloat32({ dtype: "BOOL", shape: [2], data: Uint8Array.of(1, 0) })), [1, 0]);
  });

  test("I64 above 2^53 is rounded once (Number() then fround would round twice)", () => {
    // 2^60 + 2^36 + 1 is just above the midpoint between two float32 neighbours (ulp 2^37): it must round up.
    // Number() first gives 2^60 + 2^36, an exact midpoint, which fround would round down to 2^60.
    const tricky = 2n ** 60n + 2n ** 36n + 1n;
    const data = BigInt64Array.of(tricky, -tricky, 3n, -(2n ** 63n), 2n ** 53n + 1n);
    const values = Array.from(toFloat32({ dtype: "I64", shape: [5], data }));
    assert.deepEqual(values, [2 ** 60 + 2 ** 37, -(2 ** 60 + 2 ** 37), 3, -(2 ** 63), 2 ** 53]);
  });
});
