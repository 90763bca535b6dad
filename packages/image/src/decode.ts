// PNG and JPEG files to RGB frames (HWC, 3 bytes per pixel). Alpha is dropped without compositing, as PIL's
// `Image.convert("RGB")` does in the reference implementation; 16-bit samples are scaled to 8 bits. JPEG goes
// through jpeg-js, whose chroma upsampling differs from libjpeg's by a few levels (≤ 3 against ffmpeg on the
// D0 fixture image saved at quality 85).

import type { RgbImage } from "@vdet/protocol";
import jpeg from "jpeg-js";
import pngjs from "pngjs";
import { ImageDecodeError } from "./errors.ts";
import { describeLeadingBytes, detectImageFormat } from "./format.ts";

/** Decodes PNG or JPEG bytes, recognised by their signature; `name` (a file name) appears in errors. */
export function decodeImage(bytes: Uint8Array, name = "image"): RgbImage {
  if (bytes.length === 0)
    throw new ImageDecodeError("not-an-image", `${name} is empty: not a PNG or JPEG image`);
  const format = detectImageFormat(bytes);
  if (format === undefined) {
    throw new ImageDecodeError(
      "not-an-image",
      `${name} is not a PNG or JPEG image (starts with ${describeLeadingBytes(bytes)}); convert it to PNG or JPEG`,
    );
  }
  try {
    return format === "png" ? decodePng(bytes) : decodeJpeg(bytes);
  } catch (error) {
    throw new ImageDecodeError(
      "corrupt",
      `${name} is a corrupt or truncated ${format.toUpperCase()} image (${(error as Error).message}); ` +
        "re-export or re-download it",
    );
  }
}

function decodePng(bytes: Uint8Array): RgbImage {
  // pngjs expands palette, grey, grey+alpha and low bit depths to 8-bit RGBA, and scales 16-bit samples down.
  const png = pngjs.PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const { width, height } = png;
  const rgba = png.data;
  if (rgba.length !== width * height * 4)
    throw new ImageDecodeError("corrupt", `decoded ${rgba.length} bytes for ${width}×${height}`);
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; j < rgb.length; i += 4, j += 3) {
    rgb[j] = rgba[i];
    rgb[j + 1] = rgba[i + 1];
    rgb[j + 2] = rgba[i + 2];
  }
  return { width, height, data: rgb };
}

function decodeJpeg(bytes: Uint8Array): RgbImage {
  // tolerantDecoding off: damaged data is an error rather than silently skipped.
  const image = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, tolerantDecoding: false });
  const { width, height, data } = image;
  if (width <= 0 || height <= 0 || data.length !== width * height * 3) {
    throw new ImageDecodeError("corrupt", `decoded ${data.length} bytes for ${width}×${height}`);
  }
  return { width, height, data };
}
