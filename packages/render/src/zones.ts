// Zones and directed lines drawn into a frame with their counts so far (supervision's PolygonZoneAnnotator and
// LineZoneAnnotator in one): each zone's outline with "name in N out M now K", each line with an arrow towards its
// "in" side and "name in N out M". The counts come from @vdet/analytics run over the tracks as they are drawn.

import type { AnalyticsSummary, Point, ResolvedZones } from "@vdet/analytics";
import type { RgbImage } from "@vdet/protocol";
import { drawLine, drawText, fillRect, type Rgb, textHeight, textWidth } from "./draw.ts";

export const ZONE_COLOR: Rgb = [255, 196, 0];
export const LINE_COLOR: Rgb = [0, 224, 255];

/** Line and text sizes for an image: readable at any resolution. */
function strokeFor(image: RgbImage): { thickness: number; scale: number } {
  const side = Math.min(image.width, image.height);
  return { thickness: Math.max(2, Math.round(side / 240)), scale: Math.max(1, Math.round(side / 240)) };
}

/** A dark tag with `text` whose top-left corner is near (x, y), kept inside the image. */
function tag(image: RgbImage, text: string, x: number, y: number, color: Rgb, scale: number): void {
  const pad = scale * 2;
  const w = textWidth(text, scale) + 2 * pad;
  const h = textHeight(scale) + 2 * pad;
  const left = Math.max(0, Math.min(image.width - w, x));
  const top = Math.max(0, Math.min(image.height - h, y));
  fillRect(image, left, top, left + w, top + h, [0, 0, 0]);
  drawText(image, text, left + pad, top + pad, color, scale);
}

/** The label of zone `i`: its name and counts (counts only with a summary). */
export function zoneLabel(name: string, summary: AnalyticsSummary | null, i: number): string {
  const z = summary?.zones[i];
  return z ? `${name} in ${z.total.in} out ${z.total.out} now ${z.occupancy.current}` : name;
}

/** The label of line `i`: its name and crossings (counts only with a summary). */
export function lineLabel(name: string, summary: AnalyticsSummary | null, i: number): string {
  const l = summary?.lines[i];
  return l ? `${name} in ${l.total.in} out ${l.total.out}` : name;
}

/** Draws every zone and line of `zones` (source pixels) into `image`, labelled with `summary`'s counts. */
export function drawZones(image: RgbImage, zones: ResolvedZones, summary: AnalyticsSummary | null): void {
  const { thickness, scale } = strokeFor(image);
  zones.zones.forEach((zone, i) => {
    const p = zone.polygon;
    for (let k = 0; k < p.length; k++) {
      const [a, b] = [p[k], p[(k + 1) % p.length]];
      drawLine(image, a[0], a[1], b[0], b[1], ZONE_COLOR, thickness);
    }
    // The label sits inside the zone's top-left corner.
    const x = Math.min(...p.map((q) => q[0]));
    const y = Math.min(...p.map((q) => q[1]));
    tag(image, zoneLabel(zone.name, summary, i), x + thickness, y + thickness, ZONE_COLOR, scale);
  });
  zones.lines.forEach((line, i) => {
    const [from, to] = [line.from, line.to];
    drawLine(image, from[0], from[1], to[0], to[1], LINE_COLOR, thickness);
    // An arrow from the middle towards the side a track crosses to when it counts as "in" (right of from → to).
    const [dx, dy] = [to[0] - from[0], to[1] - from[1]];
    const length = Math.hypot(dx, dy);
    const arrow = Math.max(8, Math.min(image.width, image.height) / 16);
    const [nx, ny] = [(-dy / length) * arrow, (dx / length) * arrow];
    const mid: Point = [(from[0] + to[0]) / 2, (from[1] + to[1]) / 2];
    const tip: Point = [mid[0] + nx, mid[1] + ny];
    drawLine(image, mid[0], mid[1], tip[0], tip[1], LINE_COLOR, thickness);
    for (const turn of [0.5, -0.5]) {
      const [bx, by] = [-nx / 3, -ny / 3];
      const [rx, ry] = [bx + turn * (-by + 0), by + turn * bx];
      drawLine(image, tip[0], tip[1], tip[0] + rx, tip[1] + ry, LINE_COLOR, thickness);
    }
    tag(image, lineLabel(line.name, summary, i), tip[0] + thickness, tip[1], LINE_COLOR, scale);
  });
}
