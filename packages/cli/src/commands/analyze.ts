// `vdet analyze`: zone and line analytics offline, on a job's tracks.jsonl or a MOTChallenge result file — writes
// events.jsonl and analytics.json and prints counts, occupancy and dwell per zone / line and class.

import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  Analytics,
  type AnalyticsEvent,
  type AnalyticsSummary,
  analyticsFrame,
  resolveZones,
} from "@vdet/analytics";
import type { Command } from "commander";
import { frameSize, integer, positiveNumber } from "../options.ts";
import { loadTracks } from "../tracks-source.ts";
import { readZonesFile } from "../zones-file.ts";

interface AnalyzeOptions {
  tracks: string;
  zones: string;
  out?: string;
  size?: { width: number; height: number };
  fps?: number;
  motClass: number;
  json?: boolean;
}

export interface AnalyzeResult {
  events: AnalyticsEvent[];
  summary: AnalyticsSummary;
}

/** Runs the zones of `zonesPath` over the tracks at `tracksPath` (no files written). */
export function analyzeTracks(
  tracksPath: string,
  zonesPath: string,
  options: { size?: { width: number; height: number }; fps?: number; motClassId?: number } = {},
): AnalyzeResult & { source: ReturnType<typeof loadTracks> } {
  const zones = readZonesFile(zonesPath);
  const source = loadTracks(tracksPath, { fps: options.fps, motClassId: options.motClassId });
  const config = resolveZones(zones, options.size ?? source.frameSize);
  const analytics = new Analytics(config);
  const events = source.frames.flatMap((f) => analytics.update(analyticsFrame(f)));
  return { source, events, summary: analytics.summary() };
}

export function registerAnalyzeCommand(program: Command): void {
  program
    .command("analyze")
    .description(
      "count zone entries/exits and line crossings, occupancy, dwell and loitering in a job's tracks (offline)",
    )
    .requiredOption("--tracks <file>", "tracks.jsonl, a job's output folder, or a MOTChallenge result file")
    .requiredOption("--zones <file>", "zones.json: the zones and lines (see docs/analytics.md)")
    .option("--out <dir>", "where to write events.jsonl and analytics.json (default: beside the tracks)")
    .option(
      "--size <WxH>",
      "video size for normalized coordinates (default: the job's manifest.json)",
      frameSize,
    )
    .option(
      "--fps <n>",
      "MOT files: frame rate for timestamps (default: seqinfo.ini, else 25)",
      positiveNumber("--fps"),
    )
    .option(
      "--mot-class <id>",
      "MOT files: class id of every row (COCO ids; 1 = person)",
      integer("--mot-class", 1, 10_000),
      1,
    )
    .option("--json", "print analytics.json instead of the table")
    .action((o: AnalyzeOptions) => {
      const { source, events, summary } = analyzeTracks(o.tracks, o.zones, {
        size: o.size,
        fps: o.fps,
        motClassId: o.motClass,
      });
      const out = o.out ?? dirname(source.path);
      mkdirSync(out, { recursive: true });
      const eventsPath = join(out, "events.jsonl");
      const summaryPath = join(out, "analytics.json");
      writeFileSync(eventsPath, events.map((e) => `${JSON.stringify(e)}\n`).join(""));
      writeFileSync(summaryPath, `${JSON.stringify(summary, null, 2)}\n`);
      if (o.json) {
        process.stdout.write(`${JSON.stringify(summary)}\n`);
        return;
      }
      process.stdout.write(formatAnalyticsTable(summary));
      process.stdout.write(`${events.length} events → ${eventsPath}\nsummary → ${summaryPath}\n`);
    });
}

const seconds = (ms: number | null) => (ms === null ? "-" : (ms / 1000).toFixed(1));

/** Counts per zone / line and class as an aligned text table. */
export function formatAnalyticsTable(summary: AnalyticsSummary): string {
  const rows: string[][] = [];
  for (const z of summary.zones) {
    const entries = [["all", z.total] as const, ...Object.entries(z.classes)];
    for (const [label, c] of entries) {
      const occupancy = label === "all" ? z.occupancy : z.occupancy.byClass[label];
      const d = c.dwell;
      rows.push([
        `zone ${z.name}`,
        label,
        String(c.in),
        String(c.out),
        String(c.visits),
        String(occupancy?.current ?? 0),
        String(occupancy?.peak ?? 0),
        `${seconds(d.meanMs)} / ${seconds(d.p50Ms)} / ${seconds(d.p90Ms)} / ${seconds(d.maxMs)}`,
        String(c.loitering),
      ]);
    }
  }
  for (const l of summary.lines) {
    for (const [label, c] of [["all", l.total] as const, ...Object.entries(l.classes)])
      rows.push([`line ${l.name}`, label, String(c.in), String(c.out), "", "", "", "", ""]);
  }
  const header = [
    "zone / line",
    "class",
    "in",
    "out",
    "visits",
    "now",
    "peak",
    "dwell s mean/p50/p90/max",
    "loiter",
  ];
  const widths = header.map((h, k) => Math.max(h.length, ...rows.map((r) => r[k].length)));
  const line = (r: string[]) =>
    `${r
      .map((cell, k) => (k < 2 ? cell.padEnd(widths[k]) : cell.padStart(widths[k])))
      .join("  ")
      .trimEnd()}\n`;
  const span =
    summary.firstPtsMs === null
      ? "no frames"
      : `${summary.frames} frames, ${seconds(summary.firstPtsMs)}–${seconds(summary.lastPtsMs)} s`;
  return `${span}\n${line(header)}${rows.map(line).join("")}`;
}
