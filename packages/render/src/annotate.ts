// What one output frame shows: the boxes of the latest sampled frame at or before its pts (held until the next
// sampled frame), each in its track's colour with "label #id", and a short trail of the track's recent centres.

import {
  drawLine,
  drawText,
  fillRect,
  type Rgb,
  type RgbImage,
  strokeRect,
  textHeight,
  textWidth,
} from "./draw.ts";
import type { TrackFrame } from "./tracks.ts";

/** A stable, well-spread colour per track id (golden-ratio hues); untracked detections are grey. */
export function trackColor(trackId: number | null): Rgb {
  if (trackId === null) return [200, 200, 200];
  const hue = (trackId * 0.618033988749895) % 1;
  const [s, v] = [0.85, 1];
  const h6 = hue * 6;
  const c = v * s;
  const x = c * (1 - Math.abs((h6 % 2) - 1));
  const m = v - c;
  const [r, g, b] =
    h6 < 1
      ? [c, x, 0]
      : h6 < 2
        ? [x, c, 0]
        : h6 < 3
          ? [0, c, x]
          : h6 < 4
            ? [0, x, c]
            : h6 < 5
              ? [x, 0, c]
              : [c, 0, x];
  return [Math.round((r + m) * 255), Math.round((g + m) * 255), Math.round((b + m) * 255)];
}

/** Black or white, whichever reads better on `color`. */
const textOn = (color: Rgb): Rgb =>
  0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2] > 140 ? [0, 0, 0] : [255, 255, 255];

export function labelFor(d: { label: string; trackId: number | null }): string {
  return d.trackId === null ? d.label : `${d.label} #${d.trackId}`;
}

export interface AnnotatorOptions {
  /** Sampled frames a trail reaches back (0: no trails). */
  trailLength?: number;
  /** Only detections at or above this score are drawn. */
  minScore?: number;
}

/** Draws frames in pts order; keeps the trail state between calls. */
export class Annotator {
  private next = 0;
  private current: TrackFrame | null = null;
  private readonly trails = new Map<number, { points: [number, number][]; lastSeen: number }>();
  private readonly trailLength: number;
  private readonly minScore: number;

  constructor(
    private readonly frames: readonly TrackFrame[],
    options: AnnotatorOptions = {},
  ) {
    this.trailLength = options.trailLength ?? 12;
    this.minScore = options.minScore ?? 0;
  }

  /** The sampled frame shown at `ptsMs` (advances; pts must not go backwards). */
  private advance(ptsMs: number): TrackFrame | null {
    // Half a millisecond of slack: tracks.jsonl rounds pts to microseconds.
    while (this.next < this.frames.length && this.frames[this.next].ptsMs <= ptsMs + 0.5) {
      this.current = this.frames[this.next++];
      this.updateTrails(this.current);
    }
    return this.current;
  }

  private updateTrails(frame: TrackFrame): void {
    for (const d of frame.detections) {
      if (d.trackId === null || d.score < this.minScore) continue;
      const trail = this.trails.get(d.trackId) ?? { points: [], lastSeen: 0 };
      trail.points.push([(d.box[0] + d.box[2]) / 2, (d.box[1] + d.box[3]) / 2]);
      if (trail.points.length > this.trailLength) trail.points.shift();
      trail.lastSeen = frame.frame;
      this.trails.set(d.trackId, trail);
    }
    for (const [id, trail] of this.trails) {
      if (frame.frame - trail.lastSeen > this.trailLength) this.trails.delete(id);
    }
  }

  /** Draws the annotations for the frame at `ptsMs` into `image` (source pixel coordinates). */
  draw(image: RgbImage, ptsMs: number): void {
    const frame = this.advance(ptsMs);
    if (!frame) return;
    const side = Math.min(image.width, image.height);
    const thickness = Math.max(2, Math.round(side / 240));
    const scale = Math.max(1, Math.round(side / 240));
    if (this.trailLength > 0) {
      for (const [id, trail] of this.trails) {
        const color = trackColor(id);
        for (let i = 1; i < trail.points.length; i++) {
          const [x0, y0] = trail.points[i - 1];
          const [x1, y1] = trail.points[i];
          drawLine(image, x0, y0, x1, y1, color, Math.max(1, thickness - 1));
        }
      }
    }
    for (const d of frame.detections) {
      if (d.score < this.minScore) continue;
      const [x1, y1, x2, y2] = d.box;
      const color = trackColor(d.trackId);
      strokeRect(image, x1, y1, x2, y2, color, thickness);
      const text = labelFor(d);
      const pad = scale;
      const w = textWidth(text, scale) + 2 * pad;
      const h = textHeight(scale) + 2 * pad;
      // Above the box when there is room, else inside its top edge.
      const top = y1 - h >= 0 ? y1 - h : y1;
      fillRect(image, x1, top, x1 + w, top + h, color);
      drawText(image, text, x1 + pad, top + pad, textOn(color), scale);
    }
  }
}
