// Reads tracked detections for the offline commands (`vdet analyze`, `vdet export`): a job's output folder or its
// tracks.jsonl, or a MOTChallenge result file. Everything becomes tracks.jsonl's frames (@vdet/render's TrackFrame),
// with the video size and the model's class names where the job's manifest.json has them.

import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { codedError, defineErrorCodes } from "@vdet/errors";
import { parseMotText, parseSeqInfo } from "@vdet/mot-eval";
import { COCO_CLASS_COUNT, cocoLabel } from "@vdet/protocol";
import { parseTracksJsonl, type TrackFrame } from "@vdet/render";

export interface TracksSource {
  /** The file read. */
  path: string;
  format: "tracks.jsonl" | "mot";
  /** In pts order. tracks.jsonl: sampled frame indices from 0; MOT: the file's frame numbers (from 1). */
  frames: TrackFrame[];
  /** Number of the first frame: 0 for tracks.jsonl, 1 for MOT files. */
  frameBase: 0 | 1;
  /** Source video size, from manifest.json or seqinfo.ini, when known. */
  frameSize?: { width: number; height: number };
  /** Class names by id (index id − 1): the job's model's labels, else COCO's. */
  classNames: string[];
}

export interface TracksSourceOptions {
  /** MOT files: frames per second for ptsMs (default: seqinfo.ini's frameRate, else 25). */
  fps?: number;
  /** MOT files: the class id and name every row gets (default 1, "person" as in MOTChallenge). */
  motClassId?: number;
}

export const TRACKS_SOURCE_ERRORS = defineErrorCodes("cli", {
  INVALID_TRACKS: {
    retryable: false,
    description: "a tracks.jsonl or MOT result file given to `vdet analyze`/`export` cannot be read",
  },
});

export class TracksSourceError extends codedError(TRACKS_SOURCE_ERRORS.INVALID_TRACKS) {}

/** Loads a job output folder (its tracks.jsonl), a tracks.jsonl file or a MOTChallenge result file. */
export function loadTracks(input: string, options: TracksSourceOptions = {}): TracksSource {
  if (!existsSync(input)) throw new TracksSourceError(`${input} does not exist`);
  const path = statSync(input).isDirectory() ? join(input, "tracks.jsonl") : input;
  if (!existsSync(path))
    throw new TracksSourceError(
      `${input} has no tracks.jsonl (give a job's output folder or the file itself)`,
    );
  const text = readFileSync(path, "utf8");
  return text.trimStart().startsWith("{") ? fromTracksJsonl(path, text) : fromMot(path, text, options);
}

function fromTracksJsonl(path: string, text: string): TracksSource {
  const frames = parseTracksJsonl(text);
  const manifest = readJson(join(dirname(path), "manifest.json")) as
    | { video?: { width?: number; height?: number } | null; labels?: Record<string, string[]> }
    | undefined;
  const video = manifest?.video;
  const custom = Object.values(manifest?.labels ?? {})[0];
  const classNames = custom ? [...custom] : cocoNames();
  // The labels written beside each detection are the ones its model used; they win.
  for (const f of frames)
    for (const d of f.detections) if (d.class >= 1 && d.label) classNames[d.class - 1] ??= d.label;
  for (let k = 0; k < classNames.length; k++) classNames[k] ??= `class-${k + 1}`;
  return {
    path,
    format: "tracks.jsonl",
    frames,
    frameBase: 0,
    frameSize: video?.width && video.height ? { width: video.width, height: video.height } : undefined,
    classNames,
  };
}

function fromMot(path: string, text: string, options: TracksSourceOptions): TracksSource {
  const rows = parseMotText(text, { kind: "res", source: path });
  // seqinfo.ini of a MOTChallenge folder: <seq>/seqinfo.ini next to <seq>/gt/gt.txt, or <res>/../<seq>/seqinfo.ini.
  const seqName = basename(path).replace(/\.txt$/, "");
  const info = [join(dirname(path), "seqinfo.ini"), join(dirname(dirname(path)), "seqinfo.ini")]
    .concat(join(dirname(dirname(path)), seqName, "seqinfo.ini"))
    .filter((p) => existsSync(p))
    .map((p) => parseSeqInfo(readFileSync(p, "utf8"), p))[0];
  const fps = options.fps ?? info?.frameRate ?? 25;
  const classId = options.motClassId ?? 1;
  const classNames = cocoNames();
  const label = classNames[classId - 1] ?? `class-${classId}`;
  const byFrame = new Map<number, TrackFrame>();
  let last = 0;
  for (let r = 0; r < rows.count; r++) last = Math.max(last, rows.frame[r]);
  last = Math.max(last, info?.seqLength ?? 0);
  // Every frame of the sequence, empty ones too: time passes in them.
  for (let f = 1; f <= last; f++) byFrame.set(f, { frame: f, ptsMs: ((f - 1) * 1000) / fps, detections: [] });
  for (let r = 0; r < rows.count; r++) {
    const [x, y, w, h] = rows.box.subarray(r * 4, r * 4 + 4);
    byFrame.get(rows.frame[r])?.detections.push({
      box: [x, y, x + w, y + h],
      score: rows.conf[r],
      class: classId,
      label,
      trackId: rows.id[r] >= 0 ? rows.id[r] : null,
    });
  }
  return {
    path,
    format: "mot",
    frames: [...byFrame.values()],
    frameBase: 1,
    frameSize: info?.imWidth && info.imHeight ? { width: info.imWidth, height: info.imHeight } : undefined,
    classNames,
  };
}

function cocoNames(): string[] {
  return Array.from({ length: COCO_CLASS_COUNT }, (_, k) => cocoLabel(k + 1));
}

function readJson(path: string): unknown {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new TracksSourceError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
}
