// Track exports for labelling and training tools: CVAT for video 1.1 XML, COCO (video / frame / track ids),
// MOTChallenge result files and YOLO text files with a track id column. Only tracked detections are exported.
// Frames are numbered by the job's sampled frame index k (0, 1, …); docs/exports.md lists every field.

import { codedError, defineErrorCodes } from "@vdet/errors";
import { formatResultRows } from "@vdet/mot-eval";
import type { DetectionRow } from "@vdet/protocol";
import type { TrackFrame } from "@vdet/render";
import type { TracksSource } from "./tracks-source.ts";

export const EXPORT_FORMATS = ["cvat", "coco", "mot", "yolo"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** A file to write, relative to the export folder. */
export interface ExportFile {
  path: string;
  content: string;
}

export interface ExportOptions {
  /** Task / video name written into CVAT and COCO files. */
  name: string;
  /** Needed by YOLO (normalised boxes); written to CVAT and COCO when known. */
  frameSize?: { width: number; height: number };
}

export const EXPORT_ERRORS = defineErrorCodes("cli", {
  EXPORT: {
    retryable: false,
    description: "an export (cvat, coco, mot, yolo) cannot be written from these tracks and options",
  },
});

export class ExportError extends codedError(EXPORT_ERRORS.EXPORT) {}

type Tracked = DetectionRow & { trackId: number };

/** The tracked detections of each frame, with the frame's 0-based index k. */
function trackedFrames(source: TracksSource): { k: number; frame: TrackFrame; detections: Tracked[] }[] {
  return source.frames.map((frame) => ({
    k: frame.frame - source.frameBase,
    frame,
    detections: frame.detections.filter((d): d is Tracked => d.trackId !== null && d.trackId >= 0),
  }));
}

/** Class names in use, by id. */
function classesInUse(source: TracksSource): Map<number, string> {
  const used = new Map<number, string>();
  for (const f of source.frames)
    for (const d of f.detections)
      if (d.trackId !== null && !used.has(d.class))
        used.set(d.class, source.classNames[d.class - 1] ?? d.label);
  return new Map([...used].sort((a, b) => a[0] - b[0]));
}

export function exportTracks(
  source: TracksSource,
  format: ExportFormat,
  options: ExportOptions,
): ExportFile[] {
  switch (format) {
    case "cvat":
      return [{ path: "annotations.xml", content: cvatXml(source, options) }];
    case "coco":
      return [
        { path: "annotations.json", content: `${JSON.stringify(cocoJson(source, options), null, 1)}\n` },
      ];
    case "mot":
      return [{ path: `${options.name}.txt`, content: motText(source) }];
    case "yolo":
      return yoloFiles(source, options);
  }
}

const xmlEscape = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const r2 = (v: number) => String(Math.round(v * 100) / 100);

/**
 * CVAT for video 1.1: one <track> per track id with a <box> per frame it was seen (keyframe="1"), and an
 * outside="1" box at the first frame it is missing after being seen (a gap or its end), as CVAT writes them.
 */
export function cvatXml(source: TracksSource, options: ExportOptions): string {
  const frames = trackedFrames(source);
  const lastK = frames.length ? frames[frames.length - 1].k : 0;
  const tracks = new Map<number, { label: string; boxes: Map<number, number[]> }>();
  const names = classesInUse(source);
  for (const { k, detections } of frames) {
    for (const d of detections) {
      let t = tracks.get(d.trackId);
      if (!t) {
        t = { label: names.get(d.class) ?? d.label, boxes: new Map() };
        tracks.set(d.trackId, t);
      }
      t.boxes.set(k, d.box);
    }
  }
  const ks = frames.map((f) => f.k);
  const out: string[] = [
    '<?xml version="1.0" encoding="utf-8"?>',
    "<annotations>",
    "  <version>1.1</version>",
    "  <meta>",
    "    <task>",
    `      <name>${xmlEscape(options.name)}</name>`,
    `      <size>${frames.length}</size>`,
    "      <mode>interpolation</mode>",
    `      <start_frame>${ks[0] ?? 0}</start_frame>`,
    `      <stop_frame>${lastK}</stop_frame>`,
    "      <labels>",
    ...[...new Set(names.values())].map(
      (n) =>
        `        <label>\n          <name>${xmlEscape(n)}</name>\n          <attributes></attributes>\n        </label>`,
    ),
    "      </labels>",
    ...(options.frameSize
      ? [
          `      <original_size>\n        <width>${options.frameSize.width}</width>\n        <height>${options.frameSize.height}</height>\n      </original_size>`,
        ]
      : []),
    "    </task>",
    "  </meta>",
  ];
  const box = (k: number, b: readonly number[], outside: 0 | 1) =>
    `    <box frame="${k}" outside="${outside}" occluded="0" keyframe="1" xtl="${r2(b[0])}" ytl="${r2(b[1])}" xbr="${r2(b[2])}" ybr="${r2(b[3])}" z_order="0"></box>`;
  for (const [trackId, t] of [...tracks].sort((a, b) => a[0] - b[0])) {
    out.push(`  <track id="${trackId}" label="${xmlEscape(t.label)}" source="auto">`);
    let previous: readonly number[] | null = null;
    for (const k of ks) {
      const b = t.boxes.get(k);
      if (b) {
        out.push(box(k, b, 0));
        previous = b;
      } else if (previous) {
        out.push(box(k, previous, 1));
        previous = null;
      }
    }
    out.push("  </track>");
  }
  out.push("</annotations>");
  return `${out.join("\n")}\n`;
}

/**
 * COCO with the video fields of TAO and of ByteTrack's MOT-in-COCO files: one video, an image per frame with
 * video_id, frame_id and frame_index, a track list, an annotation per tracked box with track_id, and categories
 * with the model's class ids.
 */
export function cocoJson(source: TracksSource, options: ExportOptions) {
  const frames = trackedFrames(source);
  const size = options.frameSize;
  const annotations: Record<string, unknown>[] = [];
  const tracks = new Map<number, number>();
  for (const { k, detections } of frames) {
    for (const d of detections) {
      if (!tracks.has(d.trackId)) tracks.set(d.trackId, d.class);
      const [x1, y1, x2, y2] = d.box;
      const w = x2 - x1;
      const h = y2 - y1;
      annotations.push({
        id: annotations.length + 1,
        image_id: k + 1,
        video_id: 1,
        category_id: d.class,
        bbox: [x1, y1, w, h],
        area: w * h,
        iscrowd: 0,
        track_id: d.trackId,
        score: d.score,
      });
    }
  }
  return {
    info: { description: `vdet tracks of ${options.name}`, version: "1.0" },
    videos: [{ id: 1, name: options.name, ...(size ?? {}) }],
    images: frames.map(({ k, frame }) => ({
      id: k + 1,
      video_id: 1,
      frame_id: k,
      frame_index: k,
      file_name: `${options.name}/${String(k).padStart(6, "0")}.jpg`,
      ...(size ?? {}),
      pts_ms: frame.ptsMs,
    })),
    tracks: [...tracks]
      .sort((a, b) => a[0] - b[0])
      .map(([id, category]) => ({ id, category_id: category, video_id: 1 })),
    annotations,
    categories: [...classesInUse(source)].map(([id, name]) => ({ id, name, supercategory: "object" })),
  };
}

/** A MOTChallenge result file (tracker output): frame (k + 1), id, x, y, w, h, score, -1, -1, -1. */
export function motText(source: TracksSource): string {
  return formatResultRows(
    trackedFrames(source).flatMap(({ k, detections }) =>
      detections.map((d) => ({ frame: k + 1, id: d.trackId, box: d.box, conf: d.score })),
    ),
  );
}

/**
 * YOLO: labels/<k>.txt per frame (empty when nothing was tracked), each line "class cx cy w h track_id" with
 * coordinates normalised by the frame size and class = model class id − 1; data.yaml names the classes.
 */
export function yoloFiles(source: TracksSource, options: ExportOptions): ExportFile[] {
  const size = options.frameSize;
  if (!size)
    throw new ExportError(
      "YOLO boxes are normalised by the video size, which is unknown here: give --size WxH (or export a job folder with its manifest.json)",
    );
  const f6 = (v: number) => String(Math.round(v * 1e6) / 1e6);
  const files: ExportFile[] = trackedFrames(source).map(({ k, detections }) => ({
    path: `labels/${String(k).padStart(6, "0")}.txt`,
    content: detections
      .map((d) => {
        const [x1, y1, x2, y2] = d.box;
        return `${d.class - 1} ${f6((x1 + x2) / 2 / size.width)} ${f6((y1 + y2) / 2 / size.height)} ${f6((x2 - x1) / size.width)} ${f6((y2 - y1) / size.height)} ${d.trackId}\n`;
      })
      .join(""),
  }));
  const maxClass = Math.max(0, ...classesInUse(source).keys());
  const names = Array.from({ length: Math.max(maxClass, source.classNames.length) }, (_, i) =>
    JSON.stringify(source.classNames[i] ?? `class-${i + 1}`),
  );
  files.push({
    path: "data.yaml",
    content: `# vdet track export: labels/<frame>.txt = class cx cy w h track_id (normalised)\npath: .\nnc: ${names.length}\nnames: [${names.join(", ")}]\n`,
  });
  return files;
}
