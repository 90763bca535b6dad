// Frames travel as squares of the model resolution: the source scaled to fit (aspect kept, as the reference
// letterbox does) in the top-left corner, the rest the ImageNet-mean fill colour. Boxes map back by a scale.

import { FILL_COLOR } from "@vdet/effdet";
import type { Letterbox } from "@vdet/protocol";

/** Content size for a source of `width`×`height` in a `side`×`side` square, rounded down to even sizes. */
export function letterboxFor(width: number, height: number, side: number): Letterbox {
  const longest = Math.max(width, height);
  const even = (v: number) => Math.max(2, Math.floor(v / 2) * 2);
  return {
    sourceWidth: width,
    sourceHeight: height,
    contentWidth: even(Math.floor((width * side) / longest)),
    contentHeight: even(Math.floor((height * side) / longest)),
  };
}

/** Copies an RGB24 content image into a new side×side frame filled with the fill colour. */
export function padToSquare(content: Uint8Array, width: number, height: number, side: number): Uint8Array {
  const frame = new Uint8Array(side * side * 3);
  const row = new Uint8Array(side * 3);
  for (let x = 0; x < side; x++) row.set(FILL_COLOR, x * 3);
  for (let y = 0; y < side; y++) frame.set(row, y * side * 3);
  for (let y = 0; y < height; y++) {
    frame.set(content.subarray(y * width * 3, (y + 1) * width * 3), y * side * 3);
  }
  return frame;
}

/**
 * Maps boxes from frame pixels to source pixels in place and clips them to the source; returns the boxes.
 * Boxes are x1, y1, x2, y2 quadruples.
 */
export function boxesToSource(boxes: Float32Array | number[], lb: Letterbox): typeof boxes {
  const sx = lb.sourceWidth / lb.contentWidth;
  const sy = lb.sourceHeight / lb.contentHeight;
  for (let i = 0; i < boxes.length; i += 4) {
    boxes[i] = Math.min(Math.max(boxes[i] * sx, 0), lb.sourceWidth);
    boxes[i + 1] = Math.min(Math.max(boxes[i + 1] * sy, 0), lb.sourceHeight);
    boxes[i + 2] = Math.min(Math.max(boxes[i + 2] * sx, 0), lb.sourceWidth);
    boxes[i + 3] = Math.min(Math.max(boxes[i + 3] * sy, 0), lb.sourceHeight);
  }
  return boxes;
}
