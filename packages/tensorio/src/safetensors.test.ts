import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { readSafetensors, readSafetensorsMetadata, writeSafetensors } from "./safetensors.ts";
import type { StateDict } from "./tensor.ts";

function sample(): StateDict {
  return new Map([
    ["conv.weight", { dtype: "F32", shape: [2, 1, 2], data: Float32Array.of(1, -2.5, 3e-8, Infinity) }],
    ["half", { dtype: "F16", shape: [3], data: Uint16Array.of(0x3c00, 0x0001, 0x7c00) }],
    ["brain", { dtype: "BF16", shape: [1], data: Uint16Array.of(0x3f80) }],
    ["double", { dtype: "F64", shape: [], data: Float64Array.of(Math.PI) }],
    ["bn.num_batches_tracked", { dtype: "I64", shape: [1], data: BigInt64Array.of(-(2n ** 62n)) }],
    ["i32", { dtype: "I32", shape: [2], data: Int32Array.of(-1, 2 ** 31 - 1) }],
    ["i16", { dtype: "I16", shape: [1], data: Int16Array.of(-300) }],
    ["i8", { dtype: "I8", shape: [3], data: Int8Array.of(-1, 0, 1) }],
    ["u8", { dtype: "U8", shape: [1, 1], data: Uint8Array.of(200) }],
    ["mask", { dtype: "BOOL", shape: [2], data: Uint8Array.of(1, 0) }],
    ["empty", { dtype: "F32", shape: [0, 4], data: new Float32Array(0) }],
  ]);
}

/** Builds a file from a raw header object and data block, padding the header like a writer would. */
function rawFile(header: unknown, data: Uint8Array, headerText?: string): Uint8Array {
  const json = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function withByte(bytes: Uint8Array, at: number, value: number): Uint8Array {
  bytes[at] = value;
  return bytes;
}

describe("safetensors", () => {
  test("round trip of every dtype keeps names, order, shapes, values and metadata", () => {
    const dict = sample();
    const file = writeSafetensors(dict, { model: "unit", seed: "1" });
    const back = readSafetensors(file);
    assert.deepEqual([...back.keys()], [...dict.keys()]);
    for (const [name, tensor] of dict) assert.deepEqual(back.get(name), tensor, name);
    assert.deepEqual(readSafetensorsMetadata(file), { model: "unit", seed: "1" });
    assert.deepEqual(readSafetensorsMetadata(writeSafetensors(new Map())), {});
  });

  test("header is padded to 8 bytes and every tensor is aligned to its element size", () => {
    const file = writeSafetensors(sample());
    const headerLength = Number(new DataView(file.buffer).getBigUint64(0, true));
    assert.equal(headerLength % 8, 0);
    const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + headerLength)));
    const sizes: Record<string, number> = { F64: 8, I64: 8, F32: 4, I32: 4, F16: 2, BF16: 2, I16: 2 };
    for (const [name, info] of Object.entries<{ dtype: string; data_offsets: number[] }>(header)) {
      assert.equal(info.data_offsets[0] % (sizes[info.dtype] ?? 1), 0, name);
    }
    // Aligned file on an aligned buffer: tensors are views, not copies.
    const back = readSafetensors(file);
    assert.equal(back.get("conv.weight")!.data.buffer, file.buffer);
  });

  test("a file on a misaligned buffer is read through copies with the same values", () => {
    const file = writeSafetensors(sample());
    // A Node Buffer too: its slice() is a view, so copying must not go through it.
    for (const shifted of [
      new Uint8Array(file.length + 1).subarray(1),
      Buffer.alloc(file.length + 3).subarray(3),
    ]) {
      shifted.set(file);
      const back = readSafetensors(shifted);
      for (const [name, tensor] of sample()) assert.deepEqual(back.get(name), tensor, name);
    }
  });

  test("reads the committed D3 small-tensors fixture (1019 tensors, aligned, header order)", async () => {
    const { readFileSync } = await import("node:fs");
    const bytes = readFileSync(
      new URL("../../../test/fixtures/effdet/d3-256.small-tensors.safetensors", import.meta.url),
    );
    const dict = readSafetensors(bytes);
    assert.equal(dict.size, 1019);
    assert.equal([...dict.keys()][0], "backbone.bn1.num_batches_tracked");
    const bn = dict.get("backbone.bn1.running_var")!;
    assert.equal(bn.dtype, "F32");
    assert.deepEqual(bn.shape, [40]);
    assert.ok((bn.data as Float32Array).every((v) => v > 0));
    assert.equal(readSafetensorsMetadata(bytes).model, "tf_efficientdet_d3");
  });

  test("writer refuses inconsistent tensors", () => {
    const wrongType = new Map([
      ["x", { dtype: "F32", shape: [1], data: Float64Array.of(1) }],
    ]) as unknown as StateDict;
    assert.throws(() => writeSafetensors(wrongType), /F32 data must be a F32 typed array/);
    const wrongShape: StateDict = new Map([["x", { dtype: "F32", shape: [3], data: Float32Array.of(1) }]]);
    assert.throws(() => writeSafetensors(wrongShape), /shape \[3\] does not match 1 values/);
    assert.throws(
      () => writeSafetensors(new Map([["__metadata__", sample().get("u8")!]])),
      /cannot be a tensor name/,
    );
  });
});

describe("safetensors: corrupt files", () => {
  const f32 = (offsets: [number, number], shape = [2]) => ({ dtype: "F32", shape, data_offsets: offsets });
  const data8 = new Uint8Array(8);
  const cases: [string, Uint8Array, RegExp][] = [
    ["empty file", new Uint8Array(0), /shorter than the 8-byte header length/],
    ["header length past the end", rawFile({ a: f32([0, 8]) }, data8).subarray(0, 20), /runs past the end/],
    [
      "absurd header length",
      Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 1, 0x7b, 0x7d]),
      /exceeds the 100 MB limit/,
    ],
    ["header not JSON", rawFile(null, data8, "{not json"), /not valid UTF-8 JSON/],
    ["header an array", rawFile(null, data8, "[1, 2, 3]    "), /does not start with '\{'/],
    ["header not UTF-8", withByte(rawFile(null, data8, '{"?": 1}'), 10, 0xff), /not valid UTF-8 JSON/],
    [
      "unknown dtype",
      rawFile({ a: { ...f32([0, 8]), dtype: "F8_E4M3" } }, data8),
      /dtype F8_E4M3.*not support/,
    ],
    ["missing offsets", rawFile({ a: { dtype: "F32", shape: [2] } }, data8), /needs dtype.*data_offsets/],
    ["negative shape", rawFile({ a: f32([0, 8], [-2]) }, data8), /needs dtype/],
    ["size does not match shape", rawFile({ a: f32([0, 4]) }, data8.subarray(0, 4)), /needs 8 bytes.*hold 4/],
    [
      "data cut off",
      rawFile({ a: f32([0, 8]) }, data8.subarray(0, 5)),
      /has only 5 bytes: the file is truncated/,
    ],
    ["overlap", rawFile({ a: f32([0, 8]), b: f32([4, 12]) }, new Uint8Array(12)), /tensors overlap/],
    ["gap", rawFile({ a: f32([0, 8]), b: f32([12, 20]) }, new Uint8Array(20)), /gap in the data block/],
    ["trailing bytes", rawFile({ a: f32([0, 8]) }, new Uint8Array(12)), /trailing bytes/],
    [
      "metadata not strings",
      rawFile({ __metadata__: { n: 1 } }, new Uint8Array(0)),
      /__metadata__\.n is not a string/,
    ],
  ];
  for (const [name, bytes, error] of cases) {
    test(name, () => assert.throws(() => readSafetensors(bytes), error));
  }

  test("a well-formed hand-made file with the same layout passes (the cases above differ only in the defect)", () => {
    const dict = readSafetensors(rawFile({ a: f32([0, 8]), b: f32([8, 16]) }, new Uint8Array(16)));
    assert.deepEqual([...dict.keys()], ["a", "b"]);
  });
});
