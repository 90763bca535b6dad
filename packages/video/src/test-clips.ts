// Test support (not exported): clips made with ffmpeg's lavfi sources whose frames carry their own frame
// number as ten black/white bands, a synthetic Y4M stream generator, and a look at ffmpeg child processes.

import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { promisify } from "node:util";
import { ffmpegBinaries } from "./binaries.ts";
import { type DecodedFrame, type DecodeOptions, decodeFrames } from "./decode.ts";

const execFileAsync = promisify(execFile);
export const FRAME_BITS = 10;

/** Luma: band k (of ten across the width) is white when bit k of the frame number is set. */
const BANDS_GEQ = `geq=lum='16+219*mod(floor(N/pow(2\\,floor(X*${FRAME_BITS}/W)))\\,2)':cb=128:cr=128`;

export async function tempDir(prefix: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `vdet-video-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export async function runFfmpeg(args: string[]): Promise<void> {
  await execFileAsync(ffmpegBinaries().ffmpegPath, [
    "-hide_banner",
    "-nostdin",
    "-loglevel",
    "error",
    "-y",
    ...args,
  ]);
}

export interface ClipSpec {
  frames: number;
  rate: number;
  width: number;
  height: number;
  /** Extra output arguments (codec, muxer flags); default H.264 in MP4, nearly lossless. */
  output?: string[];
  /** A setpts expression, for clips with gaps in time. */
  setpts?: string;
}

/** Writes a clip whose frame N shows N in bands; returns its path. */
export async function makeNumberedClip(path: string, spec: ClipSpec): Promise<string> {
  const duration = spec.frames / spec.rate;
  const chain = [
    `color=black:size=${spec.width}x${spec.height}:rate=${spec.rate}:duration=${duration}`,
    "format=yuv420p",
    BANDS_GEQ,
    ...(spec.setpts === undefined ? [] : [`setpts=${spec.setpts}`]),
  ].join(",");
  const output = spec.output ?? ["-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p"];
  await runFfmpeg(["-f", "lavfi", "-i", chain, "-vsync", "passthrough", ...output, path]);
  return path;
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

/** Waits until no ffmpeg child runs, or fails after `timeoutMs`. */
export async function waitForNoFfmpegChildren(timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (childFfmpegPids().length > 0) {
    if (Date.now() > deadline)
      throw new Error(`ffmpeg children still running: ${childFfmpegPids().join(", ")}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
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
