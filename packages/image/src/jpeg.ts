// Compressed frames for the low-latency path (frames sent through Redis when a live budget is shorter than a
// recorded segment): RGB frames to baseline JPEG at a stated quality, through jpeg-js (pure JavaScript, already
// our JPEG decoder). Decoding the bytes back is decodeImage. Costs measured by `npm run bench -- segments`.

import type { RgbImage } from "@vdet/protocol";
import jpeg from "jpeg-js";
import { checkEncodable } from "./encode.ts";

/** JPEG quality (1–100) of compressed frames unless a caller states another. */
export const DEFAULT_JPEG_QUALITY = 85;

/** Encodes an RGB frame as baseline JPEG (4:2:0) at `quality` (1–100). */
export function encodeJpeg(image: RgbImage, quality: number = DEFAULT_JPEG_QUALITY): Uint8Array {
  checkEncodable(image);
  const { width, height, data } = image;
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
    throw new RangeError(`JPEG quality must be an integer in [1, 100], got ${quality}`);
  }
  // jpeg-js reads RGBA; the alpha byte is ignored.
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0, j = 0; i < data.length; i += 3, j += 4) {
    rgba[j] = data[i]!;
    rgba[j + 1] = data[i + 1]!;
    rgba[j + 2] = data[i + 2]!;
  }
  const encoded = jpeg.encode({ width, height, data: rgba }, quality).data;
  return new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.byteLength);
}
