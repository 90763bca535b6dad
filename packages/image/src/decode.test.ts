// PNG/JPEG decoding to RGB: every PNG colour type and bit depth, JPEG, format by content, clear errors, and the
// effdet fixture images against an independent decoder (ffmpeg).

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { crc32, deflateSync } from "node:zlib";
import jpeg from "jpeg-js";
import { decodeImage } from "./decode.ts";
import { encodePng } from "./encode.ts";
import { ImageDecodeError } from "./errors.ts";

const FIXTURES = join(import.meta.dirname, "..", "..", "..", "test", "fixtures", "effdet");

/** A PNG written chunk by chunk, for colour types and depths the pngjs encoder cannot produce. */
function pngFile(
  header: { width: number; height: number; bitDepth: number; colorType: number },
  rows: number[][],
  chunks: [string, Uint8Array][] = [],
): Uint8Array {
  const chunk = (type: string, data: Uint8Array) => {
    const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(header.width, 0);
  ihdr.writeUInt32BE(header.height, 4);
  ihdr[8] = header.bitDepth;
  ihdr[9] = header.colorType;
  const raw = Buffer.from(rows.flatMap((row) => [0, ...row])); // filter type 0 on every row
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    ...chunks.map(([type, data]) => chunk(type, data)),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", new Uint8Array(0)),
  ]);
}

const pixels = (image: { data: Uint8Array }) => [...image.data];

describe("PNG", () => {
  test("8-bit RGB", () => {
    const png = pngFile({ width: 2, height: 2, bitDepth: 8, colorType: 2 }, [
      [255, 0, 0, 0, 255, 0],
      [0, 0, 255, 10, 20, 30],
    ]);
    const image = decodeImage(png);
    assert.equal(image.width, 2);
    assert.equal(image.height, 2);
    assert.deepEqual(pixels(image), [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]);
  });

  test("RGBA: alpha dropped without compositing", () => {
    const png = pngFile({ width: 2, height: 1, bitDepth: 8, colorType: 6 }, [
      [10, 20, 30, 0, 40, 50, 60, 255],
    ]);
    assert.deepEqual(pixels(decodeImage(png)), [10, 20, 30, 40, 50, 60]);
  });

  test("grey and grey+alpha become equal R, G, B", () => {
    const grey = pngFile({ width: 3, height: 1, bitDepth: 8, colorType: 0 }, [[0, 128, 255]]);
    assert.deepEqual(pixels(decodeImage(grey)), [0, 0, 0, 128, 128, 128, 255, 255, 255]);
    const greyAlpha = pngFile({ width: 2, height: 1, bitDepth: 8, colorType: 4 }, [[7, 0, 200, 255]]);
    assert.deepEqual(pixels(decodeImage(greyAlpha)), [7, 7, 7, 200, 200, 200]);
  });

  test("1-bit grey", () => {
    const png = pngFile({ width: 3, height: 1, bitDepth: 1, colorType: 0 }, [[0b10100000]]);
    assert.deepEqual(pixels(decodeImage(png)), [255, 255, 255, 0, 0, 0, 255, 255, 255]);
  });

  test("palette, 8-bit and packed 2-bit, with transparency", () => {
    const palette = new Uint8Array([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 8, 7]);
    const trns = new Uint8Array([255, 0]); // entry 1 fully transparent: its colour is kept
    const png8 = pngFile(
      { width: 4, height: 1, bitDepth: 8, colorType: 3 },
      [[3, 2, 1, 0]],
      [
        ["PLTE", palette],
        ["tRNS", trns],
      ],
    );
    assert.deepEqual(pixels(decodeImage(png8)), [9, 8, 7, 0, 0, 255, 0, 255, 0, 255, 0, 0]);
    const png2 = pngFile(
      { width: 4, height: 1, bitDepth: 2, colorType: 3 },
      [[0b11100100]],
      [["PLTE", palette]],
    );
    assert.deepEqual(pixels(decodeImage(png2)), [9, 8, 7, 0, 0, 255, 0, 255, 0, 255, 0, 0]);
  });

  test("16-bit RGB scaled to 8 bits", () => {
    // big-endian samples: 0xffff, 0x0000, 0x8080 | 0x0101, 0xfefe, 0x00ff
    const png = pngFile({ width: 2, height: 1, bitDepth: 16, colorType: 2 }, [
      [0xff, 0xff, 0x00, 0x00, 0x80, 0x80, 0x01, 0x01, 0xfe, 0xfe, 0x00, 0xff],
    ]);
    assert.deepEqual(pixels(decodeImage(png)), [255, 0, 128, 1, 254, 1]);
  });

  test("encodePng round-trips RGB exactly and checks its input", () => {
    const width = 37;
    const height = 11;
    const data = new Uint8Array(width * height * 3).map((_, i) => (i * 7919) % 256);
    const image = decodeImage(encodePng({ width, height, data }));
    assert.deepEqual({ ...image, data: pixels(image) }, { width, height, data: [...data] });
    assert.throws(
      () => encodePng({ width: 2, height: 2, data: new Uint8Array(11) }),
      /11 bytes, 2×2 RGB needs 12/,
    );
    assert.throws(() => encodePng({ width: 0, height: 2, data: new Uint8Array(0) }), /positive integers/);
  });
});

describe("JPEG", () => {
  const width = 48;
  const height = 32;
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      rgba.set([x * 5, y * 7, 255 - x * 3, 255], (y * width + x) * 4);
    }
  }
  const file = new Uint8Array(jpeg.encode({ width, height, data: rgba }, 100).data);

  test("decodes to RGB close to the encoded image", () => {
    const image = decodeImage(file);
    assert.equal(image.width, width);
    assert.equal(image.height, height);
    assert.equal(image.data.length, width * height * 3);
    let sum = 0;
    let max = 0;
    for (let p = 0; p < width * height; p++) {
      for (let c = 0; c < 3; c++) {
        const diff = Math.abs(image.data[p * 3 + c] - rgba[p * 4 + c]);
        sum += diff;
        max = Math.max(max, diff);
      }
    }
    const mean = sum / (width * height * 3);
    assert.ok(mean < 1.5 && max <= 12, `mean abs diff ${mean}, max ${max}`);
  });

  test("the format comes from the bytes, not the name", () => {
    assert.equal(decodeImage(file, "frame.png").width, width);
    const png = encodePng({ width: 1, height: 1, data: new Uint8Array([1, 2, 3]) });
    assert.deepEqual(pixels(decodeImage(png, "frame.jpg")), [1, 2, 3]);
  });

  test("a truncated JPEG is reported as corrupt", () => {
    assert.throws(
      () => decodeImage(file.subarray(0, file.length >> 1), "half.jpg"),
      (error: Error) =>
        error instanceof ImageDecodeError &&
        error.kind === "corrupt" &&
        /^half\.jpg is a corrupt or truncated JPEG image \(.+\); re-export/.test(error.message),
    );
  });
});

describe("errors", () => {
  const notAnImage = (bytes: Uint8Array, name: string, message: RegExp) =>
    assert.throws(
      () => decodeImage(bytes, name),
      (error: Error) =>
        error instanceof ImageDecodeError && error.kind === "not-an-image" && message.test(error.message),
    );

  test("non-image bytes name the file and show what it starts with", () => {
    notAnImage(
      new TextEncoder().encode("hello, world"),
      "notes.png",
      /^notes\.png is not a PNG or JPEG image \(starts with 68 65 6c 6c 6f 2c 20 77 … "hello, w"\); convert it/,
    );
    notAnImage(
      new Uint8Array([0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 1, 0, 1, 0]),
      "anim.gif",
      /starts with 47 49 46 38 39 61 01 00 …, which looks like a GIF image/,
    );
    notAnImage(new Uint8Array(0), "empty.jpg", /^empty\.jpg is empty: not a PNG or JPEG image$/);
    notAnImage(
      new Uint8Array([0x89, 0x50, 0x4e]),
      "image",
      /^image is not a PNG or JPEG image \(starts with 89 50 4e\)/,
    );
  });

  test("a truncated or damaged PNG is reported as corrupt", () => {
    const png = encodePng({ width: 16, height: 16, data: new Uint8Array(16 * 16 * 3).fill(77) });
    const damaged = new Uint8Array(png);
    damaged[40] ^= 0xff; // inside the IDAT chunk: its CRC no longer matches
    for (const [bytes, name] of [
      [png.subarray(0, 30), "cut.png"],
      [png.subarray(0, png.length - 12), "no-end.png"],
      [damaged, "crc.png"],
    ] as const) {
      assert.throws(
        () => decodeImage(bytes, name),
        (error: Error) =>
          error instanceof ImageDecodeError &&
          error.kind === "corrupt" &&
          error.message.startsWith(`${name} is a corrupt or truncated PNG image (`),
      );
    }
  });
});

describe("effdet fixture images", () => {
  // SHA-256 of the RGB bytes as ffmpeg decodes them: `ffmpeg -i FILE -f rawvideo -pix_fmt rgb24 - | sha256sum`.
  const expected = [
    ["d0.image0.png", 512, 512, "5af1f0a644419f3e1ca02907a887be017431fe9639acead8562b1f99d2d0acc3"],
    ["d0.image1.png", 512, 512, "81201c80fbada8424fe642960da163e1b83b36d94cdc7d23d075b175c0138680"],
    ["d3-256.image0.png", 256, 256, "2dae4ef58c978f2f7aaecdffd99ba46183e8fea6beafb2479f9aa1d06f2aaa5c"],
  ] as const;
  for (const [name, width, height, sha256] of expected) {
    test(`${name} decodes to the same pixels as ffmpeg`, () => {
      const image = decodeImage(readFileSync(join(FIXTURES, name)), name);
      assert.equal(image.width, width);
      assert.equal(image.height, height);
      assert.equal(createHash("sha256").update(image.data).digest("hex"), sha256);
    });
  }
});
