// Test support (exported as "@vdet/video/testing"): the one place test clips are made — ffmpeg's lavfi sources
// (its moving test pattern, or frames that carry their own frame number as ten black/white bands) written to
// a file or streamed live — plus a synthetic Y4M stream generator and a look at ffmpeg child processes.

import { type ChildProcess, execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after } from "node:test";
import { promisify } from "node:util";
import { ffmpegBinaries } from "../src/binaries.ts";
import { type DecodedFrame, type DecodeOptions, decodeFrames } from "../src/decode.ts";

const execFileAsync = promisify(execFile);
export const FRAME_BITS = 10;

/** Luma: band k (of ten across the width) is white when bit k of the frame number is set. */
const BANDS_GEQ = `geq=lum='16+219*mod(floor(N/pow(2\\,floor(X*${FRAME_BITS}/W)))\\,2)':cb=128:cr=128`;

/** The default encoding of a test clip: H.264 in 4:2:0, which every decoder path reads. */
export const H264 = ["-c:v", "libx264", "-pix_fmt", "yuv420p"];

export async function tempDir(prefix: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `vdet-video-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/**
 * Call at the top of a test file: a temporary folder, made now and removed after the file's tests, once no ffmpeg
 * child is left writing into it.
 */
export function useTempDir(prefix: string): { path: string } {
  const path = mkdtempSync(join(tmpdir(), `vdet-video-${prefix}-`));
  after(async () => {
    await waitForNoFfmpegChildren();
    await rm(path, { recursive: true, force: true });
  });
  return { path };
}

const QUIET = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"];

export async function runFfmpeg(args: string[]): Promise<void> {
  await execFileAsync(ffmpegBinaries().ffmpegPath, [...QUIET, ...args]);
}

/** ffmpeg's moving test pattern (testsrc2), `seconds` long (endless when omitted) at `rate` fps ("30000/1001" too). */
export function testPattern(width: number, height: number, rate?: number | string, seconds?: number): string {
  return [`testsrc2=size=${width}x${height}`, ...(rate === undefined ? [] : [`rate=${rate}`])]
    .concat(seconds === undefined ? [] : [`duration=${seconds}`])
    .join(":");
}

export interface NumberedFrames {
  frames: number;
  rate: number;
  width: number;
  height: number;
  /** A setpts expression, for clips with gaps in time. */
  setpts?: string;
  /** Time base the setpts expression works in (settb before it), e.g. "1/1000" for sub-frame jitter. */
  timeBase?: string;
}

/** A lavfi graph whose frame N shows N in bands (read back with readFrameNumber). */
export function numberedFrames(spec: NumberedFrames): string {
  const duration = spec.frames / spec.rate;
  return [
    `color=black:size=${spec.width}x${spec.height}:rate=${spec.rate}:duration=${duration}`,
    "format=yuv420p",
    BANDS_GEQ,
    ...(spec.timeBase === undefined ? [] : [`settb=${spec.timeBase}`]),
    ...(spec.setpts === undefined ? [] : [`setpts=${spec.setpts}`]),
  ].join(",");
}

/** Encodes one or more lavfi graphs (inputs in order) with the `output` arguments into `path`; returns it. */
export async function makeLavfiClip(
  path: string,
  graphs: string | string[],
  output: string[] = H264,
): Promise<string> {
  const inputs = (typeof graphs === "string" ? [graphs] : graphs).flatMap((g) => ["-f", "lavfi", "-i", g]);
  await runFfmpeg([...inputs, ...output, path]);
  return path;
}

/** An H.264 MP4 of ffmpeg's moving test pattern: `seconds` long at `rate` fps, width×height. */
export function makeTestClip(
  path: string,
  seconds: number,
  rate = 10,
  width = 320,
  height = 240,
  output: string[] = H264,
): Promise<string> {
  return makeLavfiClip(path, testPattern(width, height, rate, seconds), output);
}

export interface ClipSpec extends NumberedFrames {
  /** Extra output arguments (codec, muxer flags); default H.264 in MP4, nearly lossless. */
  output?: string[];
}

/** Writes a clip whose frame N shows N in bands; returns its path. */
export function makeNumberedClip(path: string, spec: ClipSpec): Promise<string> {
  const output = spec.output ?? ["-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p"];
  return makeLavfiClip(path, numberedFrames(spec), ["-vsync", "passthrough", ...output]);
}

/**
 * A live stream: ffmpeg reads the lavfi `graph` in real time (-re) and writes it with the `output` arguments
 * (an HLS playlist, say) until the graph ends. The caller waits for or kills the returned process.
 */
export function startLiveLavfi(graph: string, output: string[]): ChildProcess {
  return execFile(ffmpegBinaries().ffmpegPath, [...QUIET, "-re", "-f", "lavfi", "-i", graph, ...output]);
}

/** The frame number shown by a decoded RGB frame (bands across the width, or down the height if rotated). */
export function readFrameNumber(
  frame: { width: number; height: number; data: Uint8Array },
  along: "x" | "y" = "x",
): number {
  let n = 0;
  for (let bit = 0; bit < FRAME_BITS; bit++) {
    const offset = (bit + 0.5) / FRAME_BITS;
    const x = along === "x" ? Math.floor(offset * frame.width) : Math.floor(frame.width / 2);
    const y = along === "y" ? Math.floor(offset * frame.height) : Math.floor(frame.height / 2);
    const red = frame.data[(y * frame.width + x) * 3]!;
    if (red > 128) n |= 1 << bit;
  }
  return n;
}

/**
 * A Y4M (raw video) stream made in JS, frame by frame as it is read, so a test knows exactly how far ffmpeg
 * has read. Stops (without ending) after `stallAfter` frames when given.
 */
export class Y4mSource extends Readable {
  framesRead = 0;
  private readonly frameBytes: number;

  constructor(
    private readonly width: number,
    private readonly height: number,
    private readonly frames: number,
    private readonly stallAfter?: number,
  ) {
    super({ highWaterMark: 0 });
    this.frameBytes = (width * height * 3) / 2;
    this.push(Buffer.from(`YUV4MPEG2 W${width} H${height} F25:1 Ip A1:1 C420jpeg\n`));
  }

  override _read(): void {
    if (this.stallAfter !== undefined && this.framesRead >= this.stallAfter) return; // never push again
    if (this.framesRead >= this.frames) {
      this.push(null);
      return;
    }
    const frame = Buffer.alloc(6 + this.frameBytes, 128);
    frame.write("FRAME\n", 0, "latin1");
    const luma = frame.subarray(6, 6 + this.width * this.height);
    for (let x = 0; x < this.width; x++) {
      const bit = Math.floor((x * FRAME_BITS) / this.width);
      const value = (this.framesRead >> bit) & 1 ? 235 : 16;
      for (let y = 0; y < this.height; y++) luma[y * this.width + x] = value;
    }
    this.framesRead += 1;
    this.push(frame);
  }
}

/** Process ids of ffmpeg/ffprobe processes whose parent is this process. */
export function childFfmpegPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // exited while we looked
    }
    // "pid (comm) state ppid ..." — comm may contain spaces, so split after the closing parenthesis.
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const fields = stat.slice(close + 2).split(" ");
    if (Number(fields[1]) === process.pid && fields[0] !== "Z" && /^ff(mpeg|probe)/.test(comm)) {
      pids.push(Number(entry));
    }
  }
  return pids;
}

/** Polls `done` every `intervalMs` until it holds; after `timeoutMs` throws an error that says `failure()`. */
async function waitUntil(
  done: () => boolean,
  timeoutMs: number,
  failure: () => string,
  intervalMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(failure());
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Waits until no ffmpeg child runs, or fails after `timeoutMs`. */
export async function waitForNoFfmpegChildren(timeoutMs = 3000): Promise<void> {
  await waitUntil(
    () => childFfmpegPids().length === 0,
    timeoutMs,
    () => `ffmpeg children still running: ${childFfmpegPids().join(", ")}`,
    20,
  );
}

/** Waits until a file that ffmpeg writes as it runs (a live playlist) exists, or fails after `timeoutMs`. */
export async function waitForFile(path: string, timeoutMs: number): Promise<void> {
  await waitUntil(
    () => existsSync(path),
    timeoutMs,
    () => `${path} was not written in ${timeoutMs} ms`,
    50,
  );
}

/** Rewrites the first track header's matrix of an MP4 to a 90° rotation (as phones record portrait video). */
export function rotateMp4Quarter(mp4: Buffer): Buffer {
  const out = Buffer.from(mp4);
  const tkhd = out.indexOf("tkhd", 0, "latin1");
  if (tkhd < 0) throw new Error("no tkhd box in this MP4");
  if (out[tkhd + 4] !== 0) throw new Error("only version-0 tkhd boxes are handled");
  const matrix = tkhd + 4 + 40;
  const values = [0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000];
  values.forEach((v, i) => {
    out.writeInt32BE(v, matrix + 4 * i);
  });
  return out;
}

/** Decodes `input` to the end and returns every frame. */
export async function collect(
  input: Parameters<typeof decodeFrames>[0],
  options: DecodeOptions,
): Promise<DecodedFrame[]> {
  const frames: DecodedFrame[] = [];
  for await (const frame of decodeFrames(input, options)) frames.push(frame);
  return frames;
}

/**
 * A numbered clip as an HLS VOD playlist (`index.m3u8`, segments `seg0.ts`…) in `dir`, cut every
 * `segmentSeconds` (keyframes exactly there); returns the playlist's path.
 */
export function makeNumberedHls(
  dir: string,
  spec: NumberedFrames & { segmentSeconds: number },
): Promise<string> {
  const gop = String(Math.round(spec.segmentSeconds * spec.rate));
  return makeNumberedClip(join(dir, "index.m3u8"), {
    ...spec,
    output: [
      ...[
        "-c:v",
        "libx264",
        "-crf",
        "12",
        "-pix_fmt",
        "yuv420p",
        "-g",
        gop,
        "-keyint_min",
        gop,
        "-sc_threshold",
        "0",
      ],
      ...["-f", "hls", "-hls_time", String(spec.segmentSeconds), "-hls_playlist_type", "vod"],
      ...["-hls_segment_filename", join(dir, "seg%d.ts")],
    ],
  });
}
