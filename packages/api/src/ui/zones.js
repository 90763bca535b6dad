// Zones and lines on the job page: their shapes in video pixels, their counts at a playback time (from
// events.jsonl), the counts table and the per-minute series (from analytics.json). The colours are those of
// `vdet render` (packages/render/src/zones.ts).
import { el } from "./api.js";

export const ZONE_COLOR = "rgb(255,196,0)";
export const LINE_COLOR = "rgb(0,224,255)";

/** The job spec's zones and lines in source pixels (normalized coordinates scaled by the video's size). */
export function resolveShapes(zones, width, height) {
  const scale = (shape, [x, y]) =>
    (shape.coordinates ?? zones.coordinates ?? "pixels") === "normalized" ? [x * width, y * height] : [x, y];
  return {
    zones: (zones.zones ?? []).map((z) => ({ name: z.name, polygon: z.polygon.map((p) => scale(z, p)) })),
    lines: (zones.lines ?? []).map((l) => ({ name: l.name, from: scale(l, l.from), to: scale(l, l.to) })),
  };
}

/** Counts as of `ms` from events: zones in/out (distinct tracks) and now; lines in/out. */
export function countsAt(events, ms) {
  const zones = new Map();
  const lines = new Map();
  const zone = (name) => {
    if (!zones.has(name)) zones.set(name, { in: new Set(), out: new Set(), now: 0 });
    return zones.get(name);
  };
  const line = (name) => {
    if (!lines.has(name)) lines.set(name, { in: 0, out: 0 });
    return lines.get(name);
  };
  for (const e of events) {
    if (e.ptsMs > ms + 0.5) continue;
    if (e.type === "enter") {
      zone(e.zone).in.add(e.trackId);
      zone(e.zone).now++;
    } else if (e.type === "exit") {
      zone(e.zone).out.add(e.trackId);
      zone(e.zone).now--;
    } else if (e.type === "cross-in") line(e.line).in++;
    else if (e.type === "cross-out") line(e.line).out++;
  }
  return {
    zone: (name) => {
      const z = zones.get(name);
      return z ? { in: z.in.size, out: z.out.size, now: z.now } : { in: 0, out: 0, now: 0 };
    },
    line: (name) => lines.get(name) ?? { in: 0, out: 0 },
  };
}

/** Draws the shapes with their labels; `x`, `y` map source pixels to the canvas. Returns the labels drawn. */
export function drawShapes(ctx, shapes, counts, x, y) {
  const labels = [];
  const tag = (text, px, py, color) => {
    const w = ctx.measureText(text).width + 6;
    ctx.fillStyle = "rgba(0,0,0,0.75)";
    ctx.fillRect(px, py, w, 16);
    ctx.fillStyle = color;
    ctx.fillText(text, px + 3, py + 2);
    labels.push(text);
  };
  ctx.lineWidth = 2;
  for (const z of shapes.zones) {
    ctx.strokeStyle = ZONE_COLOR;
    ctx.beginPath();
    z.polygon.forEach(([px, py], i) => {
      if (i === 0) ctx.moveTo(x(px), y(py));
      else ctx.lineTo(x(px), y(py));
    });
    ctx.closePath();
    ctx.stroke();
    const c = counts.zone(z.name);
    const left = Math.min(...z.polygon.map((p) => x(p[0])));
    const top = Math.min(...z.polygon.map((p) => y(p[1])));
    tag(`${z.name} in ${c.in} out ${c.out} now ${c.now}`, left + 3, top + 3, ZONE_COLOR);
  }
  for (const l of shapes.lines) {
    const [x0, y0, x1, y1] = [x(l.from[0]), y(l.from[1]), x(l.to[0]), y(l.to[1])];
    ctx.strokeStyle = LINE_COLOR;
    ctx.beginPath();
    ctx.moveTo(x0, y0);
    ctx.lineTo(x1, y1);
    // An arrow from the middle towards the "in" side (right of from → to, as on screen).
    const length = Math.hypot(x1 - x0, y1 - y0) || 1;
    const [nx, ny] = [(-(y1 - y0) / length) * 18, ((x1 - x0) / length) * 18];
    const [mx, my] = [(x0 + x1) / 2, (y0 + y1) / 2];
    ctx.moveTo(mx, my);
    ctx.lineTo(mx + nx, my + ny);
    ctx.stroke();
    const c = counts.line(l.name);
    tag(`${l.name} in ${c.in} out ${c.out}`, mx + nx + 3, my + ny, LINE_COLOR);
  }
  return labels;
}

/** The counts table: one row per zone / line and class (and "all"), from analytics.json. */
export function countRows(analytics) {
  const rows = [];
  for (const z of analytics.zones) {
    for (const [label, c] of [["all", z.total], ...Object.entries(z.classes)]) {
      const occupancy = label === "all" ? z.occupancy : z.occupancy.byClass[label];
      const dwell = c.dwell.meanMs === null ? "–" : `${(c.dwell.meanMs / 1000).toFixed(1)} s`;
      rows.push([`zone ${z.name}`, label, c.in, c.out, occupancy?.current ?? 0, occupancy?.peak ?? 0, dwell]);
    }
  }
  for (const l of analytics.lines)
    for (const [label, c] of [["all", l.total], ...Object.entries(l.classes)])
      rows.push([`line ${l.name}`, label, c.in, c.out, "", "", ""]);
  return rows.map((cells) =>
    el("tr", {}, ...cells.map((cell, i) => el("td", i >= 2 ? { class: "num" } : {}, cell))),
  );
}

const SERIES_COLORS = ["#2563eb", "#d97706", "#059669", "#db2777", "#7c3aed", "#0891b2"];

/** Per-minute in and out counts of every zone and line as grouped bars (in solid, out pale). */
export function drawSeries(canvas, analytics) {
  const ctx = canvas.getContext("2d");
  const { width, height } = canvas;
  ctx.clearRect(0, 0, width, height);
  const shapes = [
    ...analytics.zones.map((z) => ({ name: `zone ${z.name}`, series: z.series })),
    ...analytics.lines.map((l) => ({ name: `line ${l.name}`, series: l.series })),
  ];
  const minutes = [...new Set(shapes.flatMap((s) => s.series.map((p) => p.minute)))].sort((a, b) => a - b);
  const max = Math.max(1, ...shapes.flatMap((s) => s.series.flatMap((p) => [p.in, p.out])));
  const [left, bottom, top] = [30, height - 18, 8];
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "#6b7280";
  ctx.fillText(String(max), 4, top + 8);
  ctx.fillText("0", 4, bottom);
  const slot = (width - left - 8) / Math.max(1, minutes.length);
  const bar = Math.max(2, Math.min(18, slot / (shapes.length * 2 + 1)));
  minutes.forEach((minute, m) => {
    const x0 = left + m * slot;
    ctx.fillStyle = "#6b7280";
    ctx.fillText(`min ${minute}`, x0 + 2, height - 4);
    shapes.forEach((shape, s) => {
      const point = shape.series.find((p) => p.minute === minute);
      const color = SERIES_COLORS[s % SERIES_COLORS.length];
      [point?.in ?? 0, point?.out ?? 0].forEach((n, k) => {
        const h = (n / max) * (bottom - top);
        ctx.globalAlpha = k === 0 ? 1 : 0.45;
        ctx.fillStyle = color;
        ctx.fillRect(x0 + 4 + (s * 2 + k) * bar, bottom - h, bar - 1, h);
      });
      ctx.globalAlpha = 1;
    });
  });
  return shapes.map((s, i) => ({ name: s.name, color: SERIES_COLORS[i % SERIES_COLORS.length] }));
}
