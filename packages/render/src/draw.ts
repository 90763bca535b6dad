// Drawing on RGB24 frames in place: filled and outlined rectangles, thick lines, and text in the bitmap font.
// Everything is clipped to the frame; coordinates are pixels (fractions are rounded).

import type { RgbImage } from "@vdet/protocol";
import { GLYPH_HEIGHT, GLYPH_WIDTH, glyph } from "./font.ts";

export type Rgb = readonly [number, number, number];

/** Fills [x1, x2) × [y1, y2) (clipped), optionally blended with what is there (alpha 0…1). */
export function fillRect(
  image: RgbImage,
  x1: number,
  y1: number,
  x2: number,
  y2: number,
  color: Rgb,
  alpha = 1,
) {
  const left = Math.max(0, Math.round(x1));
  const right = Math.min(image.width, Math.round(x2));
  const top = Math.max(0, Math.round(y1));
  const bottom = Math.min(image.height, Math.round(y2));
  const { data, width } = image;
  for (let y = top; y < bottom; y++) {
    let i = (y * width + left) * 3;
    for (let x = left; x < right; x++, i += 3) {
      if (alpha >= 1) {
        data[i] = color[0];
        data[i + 1] = color[1];
        data[i + 2] = color[2];
      } else {
        data[i] += (color[0] - data[i]) * alpha;
        data[i + 1] += (color[1] - data[i + 1]) * alpha;
        data[i + 2] += (color[2] - data[i + 2]) * alpha;
      }
    }
  }
}

/** The outline of the box x1,y1,x2,y2, `thickness` pixels drawn inwards from its edges. */
export function strokeRect(
  image: RgbImage,
  x1: number,
  y1: number,
  x2: number,
  y2: number,
  color: Rgb,
  thickness = 2,
) {
  const t = Math.max(1, thickness);
  fillRect(image, x1, y1, x2, y1 + t, color);
  fillRect(image, x1, y2 - t, x2, y2, color);
  fillRect(image, x1, y1, x1 + t, y2, color);
  fillRect(image, x2 - t, y1, x2, y2, color);
}

/** A line from (x0, y0) to (x1, y1), `thickness` pixels wide (square pen stepped along the longer axis). */
export function drawLine(
  image: RgbImage,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  color: Rgb,
  thickness = 2,
) {
  const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
  const half = thickness / 2;
  for (let s = 0; s <= steps; s++) {
    const x = x0 + ((x1 - x0) * s) / steps;
    const y = y0 + ((y1 - y0) * s) / steps;
    fillRect(image, x - half, y - half, x + half, y + half, color);
  }
}

/** Width in pixels of `text` at `scale` (one blank column between glyphs). */
export function textWidth(text: string, scale = 1): number {
  return text.length === 0 ? 0 : ([...text].length * (GLYPH_WIDTH + 1) - 1) * scale;
}

export const textHeight = (scale = 1) => GLYPH_HEIGHT * scale;

/** Draws `text` with its top-left corner at (x, y), each font cell a scale×scale square. */
export function drawText(image: RgbImage, text: string, x: number, y: number, color: Rgb, scale = 1) {
  let left = Math.round(x);
  const top = Math.round(y);
  for (const char of text) {
    const rows = glyph(char);
    for (let row = 0; row < GLYPH_HEIGHT; row++) {
      for (let col = 0; col < GLYPH_WIDTH; col++) {
        if (rows[row] & (1 << (GLYPH_WIDTH - 1 - col))) {
          fillRect(
            image,
            left + col * scale,
            top + row * scale,
            left + (col + 1) * scale,
            top + (row + 1) * scale,
            color,
          );
        }
      }
    }
    left += (GLYPH_WIDTH + 1) * scale;
  }
}
