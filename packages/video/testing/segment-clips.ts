// Test support: the clips that make segment decoding hard (B-frames, open GOPs, variable frame rate, an edit
// list, non-zero start times, a last GOP cut short), each with a check that the clip really has the property it
// is named for, and a comparison of a segmented decode against the sequential one.

import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { promisify } from "node:util";
import { ffmpegBinaries } from "../src/binaries.ts";
import type { DecodedFrame } from "../src/decode.ts";
import { makeNumberedClip, runFfmpeg } from "./clips.ts";

const execFileAsync = promisify(execFile);

const X264 = ["-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p"];
const SIZE = { width: 160, height: 90 };

export interface Packet {
  pts: number;
  dts: number;
  key: boolean;
  discard: boolean;
}

/** The video stream's packets in decode order, straight from ffprobe (independent of indexVideo). */
export async function listPackets(path: string): Promise<Packet[]> {
  const { stdout } = await execFileAsync(
    ffmpegBinaries().ffprobePath,
    [
      "-v",
      "error",
      "-select_streams",
      "V:0",
      "-show_entries",
      "packet=pts,dts,flags",
      "-of",
      "csv=p=0",
      path,
    ],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  return stdout
    .trim()
    .split("\n")
    .map((line) => {
      const [pts, dts, flags = ""] = line.split(",");
      return { pts: Number(pts), dts: Number(dts), key: flags.includes("K"), discard: flags.includes("D") };
    });
}

export interface SegmentClip {
  path: string;
  /** Whether a decoded frame shows its source index in bands (false where the clip was cut from another). */
  numbered: boolean;
  /** Checks that the clip has the property it is made for; returns a problem or undefined. */
  check: (packets: Packet[], startTime: number) => string | undefined;
}

/** A keyframe followed (in decode order) by a frame shown before it: a leading picture of an open GOP. */
function hasLeadingPicture(packets: Packet[]): boolean {
  return packets.some(
    (p, i) => p.key && i > 0 && packets.slice(i + 1, i + 4).some((q) => q.pts < p.pts && !q.discard),
  );
}

/** Writes the clips into `dir`: 100 frames (some 4 s) at 160×90, GOPs of 10–12 so the last GOP is cut short. */
export async function makeSegmentClips(dir: string): Promise<Record<string, SegmentClip>> {
  const bframes = await makeNumberedClip(join(dir, "bframes.mp4"), {
    frames: 100,
    rate: 25,
    ...SIZE,
    output: [...X264, "-bf", "3", "-g", "12", "-x264-params", "scenecut=0"],
  });
  const openGop = await makeNumberedClip(join(dir, "open-gop.mp4"), {
    frames: 100,
    rate: 25,
    ...SIZE,
    output: [...X264, "-bf", "3", "-g", "12", "-flags", "-cgop", "-x264-params", "open_gop=1:scenecut=0"],
  });
  // Jitter of 0.3 frame on every third frame, and a 2 s hole after frame 60.
  const vfr = await makeNumberedClip(join(dir, "vfr.mkv"), {
    frames: 100,
    rate: 25,
    ...SIZE,
    timeBase: "1/1000",
    setpts: "(N+0.3*mod(N\\,3)+if(gt(N\\,60)\\,50\\,0))/25/TB",
    output: [...X264, "-bf", "2", "-g", "10"],
  });
  // Cutting an open-GOP MP4 at a non-keyframe with stream copy writes an edit list; the demuxer marks the
  // lead-in packets discard, and the first kept frames are leading pictures of the next GOP.
  const editList = join(dir, "edit-list.mp4");
  await runFfmpeg(["-ss", "1.3", "-i", openGop, "-c", "copy", editList]);
  const offsetTs = join(dir, "offset.ts");
  await runFfmpeg(["-i", bframes, "-c", "copy", "-output_ts_offset", "3.3", "-f", "mpegts", offsetTs]);
  const offsetMp4 = join(dir, "offset.mp4");
  await runFfmpeg(["-i", openGop, "-c", "copy", "-output_ts_offset", "2.5", offsetMp4]);
  const reordered = (packets: Packet[]) =>
    packets.some((p, i) => i > 0 && p.pts < packets[i - 1]!.pts) ? undefined : "no B-frames (no reordering)";
  return {
    bframes: {
      path: bframes,
      numbered: true,
      check: (packets) => reordered(packets) ?? (packets.length % 12 === 0 ? "last GOP is whole" : undefined),
    },
    openGop: {
      path: openGop,
      numbered: true,
      check: (packets) => (hasLeadingPicture(packets) ? undefined : "no open GOP (no leading pictures)"),
    },
    vfr: {
      path: vfr,
      numbered: true,
      check: (packets) => {
        const shown = packets.map((p) => p.pts).sort((a, b) => a - b);
        const steps = new Set(shown.slice(1).map((pts, i) => pts - shown[i]!));
        return steps.size >= 3 ? undefined : `frame steps ${[...steps].join(",")} look constant`;
      },
    },
    editList: {
      path: editList,
      numbered: false,
      check: (packets) =>
        packets.some((p) => p.discard) && hasLeadingPicture(packets)
          ? undefined
          : "no discarded lead-in or no leading picture",
    },
    offsetTs: {
      path: offsetTs,
      numbered: true,
      check: (_packets, startTime) => (startTime > 3 ? undefined : `start time ${startTime}`),
    },
    offsetMp4: {
      path: offsetMp4,
      numbered: true,
      check: (_packets, startTime) => (startTime > 2 ? undefined : `start time ${startTime}`),
    },
  };
}

/** One line per frame: sampled index, source index, pts and a hash of the pixels; for exact comparisons. */
export function describeFrame(frame: DecodedFrame): string {
  const hash = createHash("sha256").update(frame.data).digest("hex").slice(0, 16);
  return `#${frame.index} src ${frame.sourceIndex} pts ${frame.ptsSeconds} ${frame.width}x${frame.height} ${hash}`;
}
