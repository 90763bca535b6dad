// Anchor boxes (spec section 6), as (y_center, x_center, height, width) rows in the flattened head order:
// level (P3 first), row, column, then anchor index a = octave·3 + aspect.

import { ASPECT_RATIOS, type EffDetConfig, levelSizes, NUM_SCALES } from "./config.ts";

export function anchorCount(config: EffDetConfig, imageSize = config.imageSize): number {
  return levelSizes(config, imageSize).reduce((sum, s) => sum + s * s, 0) * NUM_SCALES * ASPECT_RATIOS.length;
}

/** Anchors as float32 [count, 4] = (yc, xc, h, w), computed in float64 like the reference. */
export function generateAnchors(config: EffDetConfig, imageSize = config.imageSize): Float32Array {
  const out = new Float32Array(anchorCount(config, imageSize) * 4);
  let k = 0;
  for (const size of levelSizes(config, imageSize)) {
    const stride = imageSize / size;
    for (let i = 0; i < size; i++) {
      const cy = stride / 2 + i * stride;
      for (let j = 0; j < size; j++) {
        const cx = stride / 2 + j * stride;
        for (let octave = 0; octave < NUM_SCALES; octave++) {
          const base = config.anchorScale * stride * 2 ** (octave / NUM_SCALES);
          for (const [ax, ay] of ASPECT_RATIOS) {
            const halfW = (base * ax) / 2;
            const halfH = (base * ay) / 2;
            // Corners first (as the reference stores them), then back to center/size in float32.
            const y1 = Math.fround(cy - halfH);
            const x1 = Math.fround(cx - halfW);
            const y2 = Math.fround(cy + halfH);
            const x2 = Math.fround(cx + halfW);
            out[k++] = (y1 + y2) / 2;
            out[k++] = (x1 + x2) / 2;
            out[k++] = y2 - y1;
            out[k++] = x2 - x1;
          }
        }
      }
    }
  }
  return out;
}
