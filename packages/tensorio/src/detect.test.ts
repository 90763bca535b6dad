import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { largeFixture, projectFixture } from "../../../test/support/fixtures.ts";
import { f32Bytes, orderedDictOps, pickle, tensorOps, torchLegacy, torchZip } from "../testing/pickles.ts";
import { detectTensorFormat, readTensorFile } from "./detect.ts";
import { writeSafetensors } from "./safetensors.ts";

const sd = (legacy: boolean) =>
  pickle(orderedDictOps([["w", tensorOps({ key: "0", storageNumel: 2, shape: [2], legacy })]]));
const small = {
  "torch-zip": torchZip(sd(false), { "0": f32Bytes([1, 2]) }),
  "torch-legacy": torchLegacy(sd(true), [["0", 2, f32Bytes([1, 2])]]),
  safetensors: writeSafetensors(new Map([["w", { dtype: "F32", shape: [2], data: Float32Array.of(1, 2) }]])),
} as const;

describe("format detection", () => {
  test("each format is recognised from its content, whatever the file is called", () => {
    const dir = mkdtempSync(join(tmpdir(), "tensorio-detect-"));
    try {
      // Every file gets the name of another format.
      const misnamed: [keyof typeof small, string][] = [
        ["torch-zip", "weights.safetensors"],
        ["torch-legacy", "weights.zip"],
        ["safetensors", "weights.pth"],
      ];
      for (const [format, name] of misnamed) {
        writeFileSync(join(dir, name), small[format]);
        const bytes = readFileSync(join(dir, name));
        assert.equal(detectTensorFormat(bytes), format, name);
        assert.deepEqual(Array.from(readTensorFile(bytes).get("w")!.data as Float32Array), [1, 2], name);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the fixtures: D3 safetensors (committed), D0 .pth files (large)", (t) => {
    const d3 = readFileSync(projectFixture("effdet/d3-256.small-tensors.safetensors"));
    assert.equal(detectTensorFormat(d3), "safetensors");
    assert.equal(readTensorFile(d3).size, 1019);
    const expected = {
      "d0.weights.pth": "torch-zip",
      "d0.weights.fp16-wrapped.pth": "torch-zip",
      "d0.weights.legacy.pth": "torch-legacy",
      "d0.weights.safetensors": "safetensors",
    };
    for (const [file, format] of Object.entries(expected)) {
      const path = largeFixture(t, `effdet/${file}`);
      if (!path) return;
      const bytes = readFileSync(path);
      assert.equal(detectTensorFormat(bytes), format, file);
      assert.equal(readTensorFile(bytes).size, 784, file);
    }
  });

  test("damaged files of a known format reach that format's reader and its error", () => {
    assert.throws(() => readTensorFile(small.safetensors.subarray(0, 30)), /runs past the end of the file/);
    assert.throws(
      () => readTensorFile(small["torch-zip"].subarray(0, 60)),
      /zip archive is damaged or truncated/,
    );
    const legacy = small["torch-legacy"];
    assert.throws(
      () => readTensorFile(legacy.subarray(0, legacy.length - 3)),
      /legacy checkpoint is truncated/,
    );
    assert.throws(() => readTensorFile(legacy.subarray(0, 40)), /pickle at byte \d+: unexpected end of data/);
  });

  const notWeights: [string, Uint8Array, RegExp][] = [
    ["an empty file", new Uint8Array(0), /\(empty file\)/],
    ["random bytes", Uint8Array.from([7, 1, 2, 3, 4, 5, 6, 7, 8, 9]), /first bytes: 07 01 02 03/],
    ["gzip", gzipSync(small.safetensors), /gzip-compressed: decompress it first/],
    ["HDF5 (Keras)", Uint8Array.from(Buffer.from("\x89HDF\r\n\x1a\n........", "latin1")), /HDF5 file/],
    ["numpy .npy", Uint8Array.from(Buffer.from("\x93NUMPY\x01\x00v\x00{'descr'", "latin1")), /numpy \.npy/],
    [
      "ONNX model",
      Uint8Array.from(Buffer.from("\x08\x08\x12\x07pytorch\x1a\x04onnx....", "latin1")),
      /ONNX model/,
    ],
    ["a plain pickle", pickle([0x7d]), /pickle, but not a torch\.save checkpoint/],
    ["an HTML error page", new TextEncoder().encode("<html><body>404</body></html>"), /text file/],
  ];
  for (const [name, bytes, hint] of notWeights) {
    test(`${name} is refused with a clear message`, () => {
      assert.equal(detectTensorFormat(bytes), undefined);
      assert.throws(
        () => readTensorFile(bytes),
        /not a safetensors, PyTorch \(zip or legacy\) checkpoint file/,
      );
      assert.throws(() => readTensorFile(bytes), hint);
    });
  }
});
