// `vdet export`: a job's tracks (or a MOTChallenge result file) as CVAT for video 1.1, COCO, MOTChallenge or YOLO
// files for labelling and training tools (docs/exports.md).

import { mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { EXPORT_FORMATS, type ExportFormat, exportTracks } from "../exports.ts";
import { frameSize, positiveNumber } from "../options.ts";
import { loadTracks } from "../tracks-source.ts";

interface ExportCommandOptions {
  format: ExportFormat;
  out: string;
  name?: string;
  size?: { width: number; height: number };
  fps?: number;
  json?: boolean;
}

export function registerExportCommand(program: Command): void {
  program
    .command("export")
    .description("write a job's tracks as CVAT for video 1.1 XML, COCO JSON, MOTChallenge or YOLO files")
    .argument("<tracks>", "a job's output folder, its tracks.jsonl, or a MOTChallenge result file")
    .requiredOption("--format <format>", EXPORT_FORMATS.join(" | "), (v: string) => {
      if (!(EXPORT_FORMATS as readonly string[]).includes(v))
        throw new InvalidArgumentError(`--format must be one of ${EXPORT_FORMATS.join(", ")}`);
      return v;
    })
    .requiredOption("--out <dir>", "folder to write the export into")
    .option("--name <name>", "task / video name in CVAT and COCO files (default: the job folder's name)")
    .option(
      "--size <WxH>",
      "video size (default: the job's manifest.json or seqinfo.ini); YOLO needs it",
      frameSize,
    )
    .option(
      "--fps <n>",
      "MOT files: frame rate for timestamps (default: seqinfo.ini, else 25)",
      positiveNumber("--fps"),
    )
    .option("--json", "print the files written as JSON")
    .action((input: string, o: ExportCommandOptions) => {
      const source = loadTracks(input, { fps: o.fps });
      const name =
        o.name ??
        (basename(source.path) === "tracks.jsonl"
          ? basename(dirname(source.path))
          : basename(source.path).replace(/\.[^.]*$/, ""));
      const files = exportTracks(source, o.format, { name, frameSize: o.size ?? source.frameSize });
      for (const f of files) {
        const path = join(o.out, f.path);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, f.content);
      }
      const tracks = new Set(
        source.frames.flatMap((f) => f.detections.map((d) => d.trackId).filter((id) => id !== null)),
      );
      if (o.json) {
        process.stdout.write(
          `${JSON.stringify({ format: o.format, out: o.out, files: files.map((f) => f.path), tracks: tracks.size })}\n`,
        );
      } else {
        process.stdout.write(
          `${tracks.size} tracks over ${source.frames.length} frames → ${o.format} in ${o.out} (${files.length} file${files.length === 1 ? "" : "s"})\n`,
        );
      }
    });
}
