// MOTChallenge text files: ground truth (MOT15 and MOT16/17 layouts), detections and tracker
// results, parsed into columnar typed arrays; seqinfo.ini; writing result rows (the one MOT row writer).
//
//   det  (MOT15):     frame, -1, x, y, w, h, score, -1, -1, -1
//   gt   MOT15:       frame, id, x, y, w, h, flag, wx, wy, wz        (flag 0 = ignore)
//   gt   MOT16/17:    frame, id, x, y, w, h, flag, class, visibility
//   result:           frame, id, x, y, w, h, conf, -1, -1, -1
// (x, y) is the top-left corner; frames start at 1.

import { readFileSync } from "node:fs";
import { codedError, defineErrorCodes } from "@vdet/errors";

export type MotFileKind = "gt" | "det" | "res";
export type GtLayout = "mot15" | "mot17";

/** Rows of one file, column by column. Box is x, y, w, h per row. */
export interface MotRows {
  source: string;
  count: number;
  frame: Int32Array;
  id: Int32Array;
  box: Float64Array;
  /** Column 7: detection score, gt flag, or result confidence (1 when the column is absent). */
  conf: Float64Array;
  /** Column 8 of MOT16/17 gt (class); -1 when absent or another layout. */
  classId: Int32Array;
  /** Column 9 of MOT16/17 gt (visibility); -1 when absent. */
  visibility: Float64Array;
  /** Line number (1-based) of each row, for error messages. */
  line: Int32Array;
  /** Layout of a gt file, detected from its column count unless given. */
  layout?: GtLayout;
}

export const MOT_EVAL_ERRORS = defineErrorCodes("mot-eval", {
  MOT_FORMAT_INVALID: { retryable: false, description: "a MOTChallenge file has a malformed row" },
});

export class MotFormatError extends codedError(MOT_EVAL_ERRORS.MOT_FORMAT_INVALID) {}

export interface ParseOptions {
  kind: MotFileKind;
  /** Name used in error messages (usually the file path). */
  source?: string;
  /** gt only: force a layout instead of detecting it (9 columns = MOT17, otherwise MOT15). */
  layout?: GtLayout;
}

const MIN_COLUMNS: Record<MotFileKind, number> = { gt: 7, det: 7, res: 6 };

/** Parses MOTChallenge rows (comma and/or whitespace separated; blank lines ignored). */
export function parseMotText(text: string, options: ParseOptions): MotRows {
  const source = options.source ?? `<${options.kind}>`;
  const lines = text.split(/\r?\n/);
  const capacity = lines.length;
  const frame = new Int32Array(capacity);
  const id = new Int32Array(capacity);
  const box = new Float64Array(capacity * 4);
  const conf = new Float64Array(capacity);
  const classId = new Int32Array(capacity).fill(-1);
  const visibility = new Float64Array(capacity).fill(-1);
  const lineNo = new Int32Array(capacity);
  let layout: GtLayout | undefined = options.kind === "gt" ? options.layout : undefined;
  let count = 0;
  const minColumns = MIN_COLUMNS[options.kind];

  for (let l = 0; l < lines.length; l++) {
    const raw = lines[l].trim();
    if (raw === "") continue;
    const fields = raw.split(/\s*[,\s]\s*/);
    const where = `${source}:${l + 1}`;
    if (fields.length < minColumns) {
      throw new MotFormatError(
        `${where}: expected at least ${minColumns} values (frame, id, x, y, w, h${options.kind === "res" ? "" : ", score/flag"}), got ${fields.length}: "${raw}"`,
      );
    }
    const num = (k: number, name: string): number => {
      const v = Number(fields[k]);
      if (fields[k] === "" || !Number.isFinite(v)) {
        throw new MotFormatError(`${where}: column ${k + 1} (${name}) is not a number: "${fields[k]}"`);
      }
      return v;
    };
    const f = num(0, "frame");
    if (!Number.isInteger(f) || f < 1) {
      throw new MotFormatError(`${where}: frame must be a whole number ≥ 1, got ${fields[0]}`);
    }
    const i = num(1, "id");
    if (!Number.isInteger(i))
      throw new MotFormatError(`${where}: id must be a whole number, got ${fields[1]}`);
    const w = num(4, "width");
    const h = num(5, "height");
    if (w < 0 || h < 0) throw new MotFormatError(`${where}: negative box size ${w}×${h}`);
    frame[count] = f;
    id[count] = i;
    box[count * 4] = num(2, "x");
    box[count * 4 + 1] = num(3, "y");
    box[count * 4 + 2] = w;
    box[count * 4 + 3] = h;
    conf[count] = fields.length > 6 ? num(6, options.kind === "gt" ? "flag" : "score") : 1;
    if (options.kind === "gt") {
      if (layout === undefined) layout = fields.length === 9 ? "mot17" : "mot15";
      if (layout === "mot17") {
        if (fields.length < 8) throw new MotFormatError(`${where}: MOT17 gt row needs a class column`);
        const c = num(7, "class");
        if (!Number.isInteger(c))
          throw new MotFormatError(`${where}: class must be a whole number, got ${fields[7]}`);
        classId[count] = c;
        visibility[count] = fields.length > 8 ? num(8, "visibility") : -1;
      }
    }
    lineNo[count] = l + 1;
    count++;
  }
  return {
    source,
    count,
    frame: frame.subarray(0, count),
    id: id.subarray(0, count),
    box: box.subarray(0, count * 4),
    conf: conf.subarray(0, count),
    classId: classId.subarray(0, count),
    visibility: visibility.subarray(0, count),
    line: lineNo.subarray(0, count),
    layout: options.kind === "gt" ? (layout ?? options.layout ?? "mot15") : undefined,
  };
}

export function readMotFile(path: string, options: Omit<ParseOptions, "source">): MotRows {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new MotFormatError(`cannot read ${options.kind} file ${path}: ${(error as Error).message}`);
  }
  return parseMotText(text, { ...options, source: path });
}

export interface SeqInfo {
  name?: string;
  frameRate?: number;
  seqLength?: number;
  imWidth?: number;
  imHeight?: number;
}

/** Parses the [Sequence] section of a seqinfo.ini. */
export function parseSeqInfo(text: string, source = "seqinfo.ini"): SeqInfo {
  const info: SeqInfo = {};
  for (const [n, rawLine] of text.split(/\r?\n/).entries()) {
    const line = rawLine.trim();
    if (line === "" || line.startsWith("[") || line.startsWith(";") || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq < 0) throw new MotFormatError(`${source}:${n + 1}: expected key=value, got "${line}"`);
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    const numeric = (): number => {
      const v = Number(value);
      if (!Number.isFinite(v) || v <= 0)
        throw new MotFormatError(`${source}:${n + 1}: ${key} must be a positive number, got "${value}"`);
      return v;
    };
    if (key === "name") info.name = value;
    else if (key === "frameRate") info.frameRate = numeric();
    else if (key === "seqLength") info.seqLength = numeric();
    else if (key === "imWidth") info.imWidth = numeric();
    else if (key === "imHeight") info.imHeight = numeric();
  }
  return info;
}

export interface ResultRow {
  frame: number;
  id: number;
  /** x1, y1, x2, y2 */
  box: ArrayLike<number>;
  conf: number;
}

/**
 * Decimals written: box values to 3 (a thousandth of a pixel), confidence to 4 (the precision scores travel at
 * between vdet's stages, so a pipeline's scores are written as the detector reported them).
 */
const BOX_SCALE = 1e3;
const CONF_SCALE = 1e4;
const rounded = (value: number, scale: number) => Math.round(value * scale) / scale;

/**
 * One MOTChallenge result line with its newline: frame, id, x, y, w, h, conf, -1, -1, -1, from the x1, y1, x2, y2
 * box at `offset` in `xyxy`. The one writer of result rows (`vdet track`, a pipeline's tracks.mot.txt).
 */
export function formatResultRow(
  frame: number,
  id: number,
  xyxy: ArrayLike<number>,
  offset: number,
  conf: number,
): string {
  const x1 = xyxy[offset];
  const y1 = xyxy[offset + 1];
  const w = rounded(xyxy[offset + 2] - x1, BOX_SCALE);
  const h = rounded(xyxy[offset + 3] - y1, BOX_SCALE);
  const x = rounded(x1, BOX_SCALE);
  const y = rounded(y1, BOX_SCALE);
  return `${frame},${id},${x},${y},${w},${h},${rounded(conf, CONF_SCALE)},-1,-1,-1\n`;
}

/** Formats tracker output as MOTChallenge result lines (see formatResultRow). */
export function formatResultRows(rows: Iterable<ResultRow>): string {
  let out = "";
  for (const r of rows) out += formatResultRow(r.frame, r.id, r.box, 0, r.conf);
  return out;
}
