// `vdet render`: the source video with a job's tracks drawn on it (boxes, class, track id, trails, and with --zones
// the zones and lines with their counts so far), as MP4, or one frame as a PNG (--out x.png --at seconds).

import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { parseTracksJsonl, renderAnnotatedVideo, type VideoCodec } from "@vdet/render";
import { type Command, InvalidArgumentError, Option } from "commander";
import { integer, probability } from "../options.ts";
import { createProgress } from "../progress.ts";
import { readZonesFile } from "../zones-file.ts";

interface RenderOptions {
  tracks: string;
  video: string;
  out: string;
  trail: number;
  scoreThreshold: number;
  minScore?: number;
  codec?: string;
  json?: boolean;
  wholeVideo?: boolean;
  zones?: string;
  at?: number;
}

export function registerRenderCommand(program: Command): void {
  program
    .command("render")
    .description("draw a job's tracks on its video: boxes, class names, track ids and trails, as an MP4")
    .requiredOption("--tracks <file>", "tracks.jsonl (or the job's results directory)")
    .requiredOption("--video <input>", "the job's source video (file or URL)")
    .requiredOption("--out <file>", "annotated video to write (.mp4), or one frame (.png, with --at)")
    .option(
      "--trail <frames>",
      "sampled frames a track's trail reaches back (0: none)",
      integer("--trail", 0, 1000),
      12,
    )
    .option("--score-threshold <p>", "draw only detections at or above this score", probability, 0)
    .addOption(new Option("--min-score <p>").hideHelp().argParser(probability))
    .option("--whole-video", "render the whole video, not only the processed time range")
    .option("--zones <file>", "zones.json: draw its zones and lines with their counts so far")
    .option(
      "--at <seconds>",
      "with --out x.png: the time of the frame to write (counts and trails as of then; default 0)",
      nonNegative,
    )
    .option("--codec <name>", "libx264 or mpeg4 (default: libx264 when ffmpeg has it)")
    .option("--json", "print the result as JSON")
    .action(async (o: RenderOptions) => {
      if (o.codec !== undefined && o.codec !== "libx264" && o.codec !== "mpeg4")
        throw new InvalidArgumentError("--codec must be libx264 or mpeg4");
      const still = o.out.toLowerCase().endsWith(".png");
      if (o.at !== undefined && !still)
        throw new InvalidArgumentError("--at writes one frame: give --out x.png");
      const zones = o.zones !== undefined ? readZonesFile(o.zones) : undefined;
      const path = (await stat(o.tracks)).isDirectory() ? join(o.tracks, "tracks.jsonl") : o.tracks;
      const tracks = parseTracksJsonl(await readFile(path, "utf8"));
      const progress = createProgress("frames");
      const started = performance.now();
      const result = await renderAnnotatedVideo({
        tracks,
        input: o.video,
        output: o.out,
        trailLength: o.trail,
        minScore: o.minScore ?? o.scoreThreshold,
        range: o.wholeVideo ? "video" : "processed",
        codec: o.codec as VideoCodec | undefined,
        zones,
        stillAtMs: still ? (o.at ?? 0) * 1000 : undefined,
        onProgress: (done, total) => progress.update(done, total, "rendering"),
      });
      progress.stop();
      const seconds = (performance.now() - started) / 1000;
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ ...result, output: o.out, seconds })}\n`);
      } else {
        process.stdout.write(
          `${result.frames} frames (${result.width}×${result.height}, ${result.codec}) in ${seconds.toFixed(1)} s → ${o.out}\n`,
        );
      }
    });
}

function nonNegative(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < 0)
    throw new InvalidArgumentError(`--at must be a number of seconds ≥ 0, got "${value}"`);
  return n;
}
