// RGB frames to PNG, for tests and debug output.

import type { RgbImage } from "@vdet/protocol";
import pngjs from "pngjs";

const RGB = 2; // PNG colour type

/** Throws a RangeError unless `image` is a well-formed RGB24 image (positive integer size, 3 bytes a pixel). */
export function checkEncodable(image: RgbImage): void {
  const { width, height, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(
      `cannot encode a ${width}×${height} image: width and height must be positive integers`,
    );
  }
  if (data.length !== width * height * 3) {
    throw new RangeError(
      `image data has ${data.length} bytes, ${width}×${height} RGB needs ${width * height * 3}`,
    );
  }
}

export function encodePng(image: RgbImage): Uint8Array {
  checkEncodable(image);
  const { width, height, data } = image;
  const png = new pngjs.PNG(); // no size given: it allocates no RGBA buffer we would throw away
  png.width = width;
  png.height = height;
  png.data = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(
    pngjs.PNG.sync.write(png, { colorType: RGB, inputColorType: RGB, inputHasAlpha: false }),
  );
}
