// JPEG frames: what encodeJpeg writes decodeImage reads back, close to the original, smaller at lower quality;
// bad input is refused with a message.

import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeImage } from "./decode.ts";
import { encodeJpeg } from "./jpeg.ts";

/** A smooth gradient with a sharp square: compressible, with an edge JPEG has to spend bits on. */
function picture(width: number, height: number) {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const inSquare = x > width / 4 && x < width / 2 && y > height / 4 && y < height / 2;
      data[i] = inSquare ? 250 : Math.round((255 * x) / width);
      data[i + 1] = inSquare ? 20 : Math.round((255 * y) / height);
      data[i + 2] = 128;
    }
  }
  return { width, height, data };
}

test("a JPEG frame decodes back to the same size, close to the original", () => {
  const image = picture(96, 64);
  const bytes = encodeJpeg(image, 90);
  assert.deepEqual([...bytes.subarray(0, 3)], [0xff, 0xd8, 0xff]);
  const back = decodeImage(bytes, "frame.jpg");
  assert.equal(back.width, 96);
  assert.equal(back.height, 64);
  let error = 0;
  for (let i = 0; i < image.data.length; i++) error += Math.abs(back.data[i]! - image.data[i]!);
  const meanError = error / image.data.length;
  assert.ok(meanError < 4, `mean absolute error ${meanError.toFixed(2)} levels`);
  assert.ok(encodeJpeg(image, 30).length < bytes.length, "lower quality, fewer bytes");
  assert.ok(bytes.length < image.data.length / 4, `${bytes.length} bytes for ${image.data.length} raw`);
});

test("bad frames and qualities are refused", () => {
  assert.throws(() => encodeJpeg({ width: 2, height: 2, data: new Uint8Array(5) }), /needs 12/);
  assert.throws(() => encodeJpeg(picture(8, 8), 0), /quality must be an integer in \[1, 100\]/);
  assert.throws(() => encodeJpeg({ width: 0, height: 2, data: new Uint8Array(0) }), /positive integers/);
});
