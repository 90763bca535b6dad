// vdet render: the source video with the tracks drawn on it, encoded as MP4: by default only the processed time
// range (up to one sampling interval after the last sampled frame), the whole video on request. Every source frame is
// decoded (packages/video), annotated in place (annotate.ts) and piped as raw RGB into a second ffmpeg that
// encodes it with libx264 when this ffmpeg has it, else MPEG-4 part 2. With `stillAtMs`, one annotated frame as a
// PNG instead (the frames before it are drawn too, so trails and zone counts are those of that moment).

import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { PassThrough } from "node:stream";
import { promisify } from "node:util";
import { resolveZones, type ZonesFileInput, zonesFileSchema } from "@vdet/analytics";
import { encodePng } from "@vdet/image";
import type { RgbImage } from "@vdet/protocol";
import { decodeFrames, ffmpegBinaries, probeVideo, type VideoInput } from "@vdet/video";
import ffmpeg from "fluent-ffmpeg";
import { Annotator, type AnnotatorOptions } from "./annotate.ts";
import type { TrackFrame } from "./tracks.ts";

export type VideoCodec = "libx264" | "mpeg4";
export type RenderRange = "processed" | "video";

export interface RenderOptions extends Omit<AnnotatorOptions, "zones"> {
  /** Zones and lines (a zones.json; normalized coordinates are scaled by the video's size) drawn with live counts. */
  zones?: ZonesFileInput;
  /** Write only the frame shown at this time (ms; the first frame at or after it) as a PNG to `output`. */
  stillAtMs?: number;
  tracks: readonly TrackFrame[];
  /** The source video (a path, URL or stream, as packages/video takes it), or a function opening it afresh
   * (it is read twice: probed, then decoded — a stream must be opened once per read). */
  input: VideoInput | (() => Promise<VideoInput>);
  /** Output file (.mp4, or .png with `stillAtMs`). */
  output: string;
  /** Default: libx264 when available, else mpeg4. */
  codec?: VideoCodec;
  /** "processed" (default): stop one sampling interval after the last sampled frame; "video": the whole source. */
  range?: RenderRange;
  /** Called after each frame with frames done and the expected total (null when unknown). */
  onProgress?: (done: number, total: number | null) => void;
  signal?: AbortSignal;
}

export interface RenderResult {
  frames: number;
  width: number;
  height: number;
  fps: number;
  codec: VideoCodec | "png";
}

let encoders: Promise<string> | undefined;

/** libx264 when this ffmpeg build has it, else mpeg4 (in every build). */
export async function defaultCodec(): Promise<VideoCodec> {
  encoders ??= promisify(execFile)(ffmpegBinaries().ffmpegPath, ["-hide_banner", "-encoders"]).then(
    (r) => r.stdout,
  );
  return / libx264 /.test(await encoders) ? "libx264" : "mpeg4";
}

const CODEC_OPTIONS: Record<VideoCodec, string[]> = {
  libx264: ["-preset", "veryfast", "-crf", "20"],
  mpeg4: ["-q:v", "3"],
};

export async function renderAnnotatedVideo(options: RenderOptions): Promise<RenderResult> {
  const open = async () => (typeof options.input === "function" ? options.input() : options.input);
  const info = await probeVideo(await open(), { signal: options.signal });
  const fps = info.fps && Number.isFinite(info.fps) && info.fps > 0 ? info.fps : 25;
  const zones = options.zones
    ? resolveZones(zonesFileSchema.parse(options.zones), { width: info.width, height: info.height })
    : undefined;
  const annotator = new Annotator(options.tracks, { ...options, zones });
  if (options.stillAtMs !== undefined) return renderStill(options, open, annotator, info, fps);
  const codec = options.codec ?? (await defaultCodec());
  const wholeTotal =
    info.frameCount ?? (info.durationSeconds === undefined ? null : Math.round(info.durationSeconds * fps));
  const endMs = (options.range ?? "processed") === "processed" ? annotator.processedEndMs : Infinity;
  const rangeTotal = Number.isFinite(endMs) ? Math.max(1, Math.ceil((endMs * fps) / 1000)) : null;
  const total =
    rangeTotal === null ? wholeTotal : wholeTotal === null ? rangeTotal : Math.min(wholeTotal, rangeTotal);
  const raw = new PassThrough({ highWaterMark: info.width * info.height * 3 * 2 });
  ffmpeg.setFfmpegPath(ffmpegBinaries().ffmpegPath);
  const encoded = new Promise<void>((resolve, reject) => {
    ffmpeg()
      .input(raw)
      .inputFormat("rawvideo")
      .inputOptions(["-pix_fmt", "rgb24", "-s", `${info.width}x${info.height}`, "-framerate", String(fps)])
      .videoCodec(codec)
      // yuv420p needs even sizes: pad by a pixel rather than scale, so box pixels stay where the tracks say.
      .outputOptions([
        ...CODEC_OPTIONS[codec],
        "-vf",
        "pad=ceil(iw/2)*2:ceil(ih/2)*2",
        "-pix_fmt",
        "yuv420p",
        "-movflags",
        "+faststart",
        "-an",
      ])
      .output(options.output)
      .on("end", () => resolve())
      .on("error", (error: Error) => reject(new Error(`encoding ${options.output} failed: ${error.message}`)))
      .run();
  });
  encoded.catch(() => undefined); // observed below; an early failure must not go unhandled meanwhile
  let frames = 0;
  try {
    for await (const frame of decodeFrames(await open(), {
      sampling: { everyNth: 1 },
      signal: options.signal,
    })) {
      const ptsMs = Number.isFinite(frame.ptsSeconds) ? frame.ptsSeconds * 1000 : (frames * 1000) / fps;
      if (ptsMs >= endMs && frames > 0) break; // past the processed range: stop decoding
      annotator.draw(frame, ptsMs);
      if (!raw.write(frame.data)) {
        await new Promise<void>((resolve, reject) => {
          raw.once("drain", resolve);
          encoded.catch(reject);
        });
      }
      frames++;
      options.onProgress?.(frames, total);
    }
  } finally {
    raw.end();
  }
  await encoded;
  return { frames, width: info.width, height: info.height, fps, codec };
}

/** One annotated frame, the first at or after `stillAtMs` (the last one when the video ends before), as a PNG. */
async function renderStill(
  options: RenderOptions,
  open: () => Promise<VideoInput>,
  annotator: Annotator,
  info: { width: number; height: number },
  fps: number,
): Promise<RenderResult> {
  const atMs = options.stillAtMs ?? 0;
  let frames = 0;
  let last: RgbImage | null = null;
  for await (const frame of decodeFrames(await open(), {
    sampling: { everyNth: 1 },
    signal: options.signal,
  })) {
    const ptsMs = Number.isFinite(frame.ptsSeconds) ? frame.ptsSeconds * 1000 : (frames * 1000) / fps;
    annotator.draw(frame, ptsMs);
    frames++;
    last = frame;
    options.onProgress?.(frames, null);
    if (ptsMs >= atMs) break;
  }
  if (!last) throw new Error(`${options.output}: the video has no frames`);
  await writeFile(options.output, encodePng(last));
  return { frames: 1, width: info.width, height: info.height, fps, codec: "png" };
}
