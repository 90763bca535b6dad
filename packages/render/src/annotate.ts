// What one output frame shows: the boxes of the latest sampled frame at or before its pts (held until the next
// sampled frame), each in its track's colour with "label #id", and a short trail of the track's recent centres;
// with zones, each zone and line with its counts up to that frame (zones.ts).

import { Analytics, type AnalyticsSummary, analyticsFrame, type ResolvedZones } from "@vdet/analytics";
import { type Detections, detectionCount, detectionsFromRows, NO_TRACK, type RgbImage } from "@vdet/protocol";
import { drawLine, drawText, fillRect, type Rgb, strokeRect, textHeight, textWidth } from "./draw.ts";
import type { TrackFrame } from "./tracks.ts";
import { drawZones } from "./zones.ts";

/** A stable, well-spread colour per track id (golden-ratio hues); untracked detections are grey. */
export function trackColor(trackId: number | null): Rgb {
  if (trackId === null || trackId === NO_TRACK) return [200, 200, 200];
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

/** "label #id" for a tracked detection, the label alone for an untracked one. */
export function labelFor(label: string, trackId: number): string {
  return trackId === NO_TRACK ? label : `${label} #${trackId}`;
}

/** Line and text sizes for an image: readable at any resolution. */
function strokeFor(image: RgbImage): { thickness: number; scale: number } {
  const side = Math.min(image.width, image.height);
  return { thickness: Math.max(2, Math.round(side / 240)), scale: Math.max(1, Math.round(side / 240)) };
}

/**
 * Draws each detection scoring at least `minScore` into `image` (source pixel coordinates): its box in its track's
 * colour and a tag with `labels[i]` and the track id (supervision's box and label annotators in one).
 */
export function drawDetections(
  image: RgbImage,
  detections: Detections,
  labels: readonly string[],
  minScore = 0,
): void {
  const { thickness, scale } = strokeFor(image);
  const { xyxy, scores, trackIds } = detections;
  for (let i = 0; i < detectionCount(detections); i++) {
    if (scores[i] < minScore) continue;
    const [x1, y1, x2, y2] = [xyxy[i * 4], xyxy[i * 4 + 1], xyxy[i * 4 + 2], xyxy[i * 4 + 3]];
    const trackId = trackIds?.[i] ?? NO_TRACK;
    const color = trackColor(trackId);
    strokeRect(image, x1, y1, x2, y2, color, thickness);
    const text = labelFor(labels[i], trackId);
    const pad = scale;
    const w = textWidth(text, scale) + 2 * pad;
    const h = textHeight(scale) + 2 * pad;
    // Above the box when there is room, else inside its top edge.
    const top = y1 - h >= 0 ? y1 - h : y1;
    fillRect(image, x1, top, x1 + w, top + h, color);
    drawText(image, text, x1 + pad, top + pad, textOn(color), scale);
  }
}

export interface AnnotatorOptions {
  /** Sampled frames a trail reaches back (0: no trails). */
  trailLength?: number;
  /** Only detections at or above this score are drawn. */
  minScore?: number;
  /** Zones and lines (source pixels) to draw with their live counts. */
  zones?: ResolvedZones;
}

/** A sampled frame as drawn: its detections (with track ids) and their labels. */
interface ShownFrame {
  ptsMs: number;
  frame: number;
  detections: Detections;
  labels: string[];
}

/** The usual gap between sampled frames (the median), ms; one second when fewer than two frames. */
export function samplingIntervalMs(frames: readonly TrackFrame[]): number {
  const gaps: number[] = [];
  for (let i = 1; i < frames.length; i++) gaps.push(frames[i].ptsMs - frames[i - 1].ptsMs);
  const positive = gaps.filter((g) => g > 0).sort((a, b) => a - b);
  return positive.length === 0 ? 1000 : positive[Math.floor(positive.length / 2)];
}

/** Draws frames in pts order; keeps the trail state between calls. */
export class Annotator {
  private next = 0;
  private current: ShownFrame | null = null;
  private readonly trails = new Map<number, { points: [number, number][]; lastSeen: number }>();
  private readonly trailLength: number;
  private readonly minScore: number;
  private readonly analytics: Analytics | null;
  /** With zones: their counts up to the sampled frame shown last (analytics.json as of then). */
  counts: AnalyticsSummary | null = null;
  /** How long a sampled frame's boxes stay on screen when no later sampled frame replaces them, ms. */
  readonly holdMs: number;

  constructor(
    private readonly frames: readonly TrackFrame[],
    options: AnnotatorOptions = {},
  ) {
    this.trailLength = options.trailLength ?? 12;
    this.minScore = options.minScore ?? 0;
    this.holdMs = samplingIntervalMs(frames);
    this.analytics = options.zones ? new Analytics(options.zones) : null;
    if (this.analytics) this.counts = this.analytics.summary();
  }

  /** The end of the processed time range: the last sampled frame plus one sampling interval (ms). */
  get processedEndMs(): number {
    const last = this.frames.at(-1);
    return last === undefined ? 0 : last.ptsMs + this.holdMs;
  }

  /** The sampled frame shown at `ptsMs` (advances; pts must not go backwards). */
  private advance(ptsMs: number): ShownFrame | null {
    // Half a millisecond of slack: tracks.jsonl rounds pts to microseconds.
    while (this.next < this.frames.length && this.frames[this.next].ptsMs <= ptsMs + 0.5) {
      const line = this.frames[this.next++];
      this.current = {
        ptsMs: line.ptsMs,
        frame: line.frame,
        detections: detectionsFromRows(line.detections),
        labels: line.detections.map((d) => d.label),
      };
      this.updateTrails(this.current);
      if (this.analytics && line.error === undefined) {
        this.analytics.update(analyticsFrame(line));
        this.counts = this.analytics.summary();
      }
    }
    // Boxes are current until the next sampled frame; after the last one, for one sampling interval, then gone.
    if (this.current && ptsMs > this.current.ptsMs + this.holdMs + 0.5) return null;
    return this.current;
  }

  private updateTrails({ frame, detections }: ShownFrame): void {
    const { xyxy, scores, trackIds } = detections;
    for (let i = 0; i < detectionCount(detections); i++) {
      const trackId = trackIds?.[i] ?? NO_TRACK;
      if (trackId === NO_TRACK || scores[i] < this.minScore) continue;
      const trail = this.trails.get(trackId) ?? { points: [], lastSeen: 0 };
      trail.points.push([(xyxy[i * 4] + xyxy[i * 4 + 2]) / 2, (xyxy[i * 4 + 1] + xyxy[i * 4 + 3]) / 2]);
      if (trail.points.length > this.trailLength) trail.points.shift();
      trail.lastSeen = frame;
      this.trails.set(trackId, trail);
    }
    for (const [id, trail] of this.trails) {
      if (frame - trail.lastSeen > this.trailLength) this.trails.delete(id);
    }
  }

  /** Draws the annotations for the frame at `ptsMs` into `image` (source pixel coordinates). */
  draw(image: RgbImage, ptsMs: number): void {
    const shown = this.advance(ptsMs);
    if (shown) this.drawShown(image, shown);
    // Zones last: their counts stay readable over the boxes.
    if (this.analytics) drawZones(image, this.analytics.config, this.counts);
  }

  private drawShown(image: RgbImage, shown: ShownFrame): void {
    if (this.trailLength > 0) {
      const { thickness } = strokeFor(image);
      for (const [id, trail] of this.trails) {
        const color = trackColor(id);
        for (let i = 1; i < trail.points.length; i++) {
          const [x0, y0] = trail.points[i - 1];
          const [x1, y1] = trail.points[i];
          drawLine(image, x0, y0, x1, y1, color, Math.max(1, thickness - 1));
        }
      }
    }
    drawDetections(image, shown.detections, shown.labels, this.minScore);
  }
}
