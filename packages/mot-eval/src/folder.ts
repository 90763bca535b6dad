// MOTChallenge folder layouts: a benchmark folder holds one folder per sequence
// (<seq>/gt/gt.txt, <seq>/det/det.txt, <seq>/seqinfo.ini); tracker results are <res>/<seq>.txt.

import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { RefineOptions } from "@vdet/tracker";
import { refineMotRows } from "./detections.ts";
import {
  combineSequences,
  type EvaluateOptions,
  evaluateSequence,
  type SequenceMetrics,
} from "./evaluate.ts";
import { type GtLayout, MotFormatError, parseSeqInfo, readMotFile, type SeqInfo } from "./mot-format.ts";

export interface SequenceFolder {
  name: string;
  dir: string;
  seqInfo: SeqInfo;
}

/** Reads <dir>/seqinfo.ini if present. */
export function readSeqInfo(dir: string): SeqInfo {
  const path = join(dir, "seqinfo.ini");
  return existsSync(path) ? parseSeqInfo(readFileSync(path, "utf8"), path) : {};
}

/** Sequence folders under `root` that contain `relativeFile` (e.g. "gt/gt.txt"), sorted by name. */
export function findSequences(root: string, relativeFile: string): SequenceFolder[] {
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new MotFormatError(`${root} is not a folder`);
  }
  return readdirSync(root)
    .filter((name) => existsSync(join(root, name, relativeFile)))
    .sort()
    .map((name) => ({ name, dir: join(root, name), seqInfo: readSeqInfo(join(root, name)) }));
}

export interface FolderEvaluation {
  sequences: SequenceMetrics[];
  combined: SequenceMetrics;
  /** Sequences with ground truth but no result file (only with skipMissing). */
  skipped: string[];
}

/**
 * Evaluates <resDir>/<seq>.txt against <gtDir>/<seq>/gt/gt.txt for every sequence with ground truth.
 * A missing result file is an error (as in the MOTChallenge devkit), not an empty result, unless
 * skipMissing is set, which leaves those sequences out.
 */
export function evaluateFolder(
  gtDir: string,
  resDir: string,
  options: EvaluateOptions & {
    layout?: GtLayout;
    skipMissing?: boolean;
    /** Refine each result offline first (gap filling, linking, smoothing) at the sequence's frame rate. */
    refine?: Partial<RefineOptions>;
  } = {},
): FolderEvaluation {
  const all = findSequences(gtDir, join("gt", "gt.txt"));
  if (all.length === 0) throw new MotFormatError(`no <sequence>/gt/gt.txt found under ${gtDir}`);
  const skipped: string[] = [];
  const sequences = all.filter((seq) => {
    const resPath = join(resDir, `${seq.name}.txt`);
    if (existsSync(resPath)) return true;
    if (!options.skipMissing) {
      throw new MotFormatError(
        `missing result file ${resPath} for sequence ${seq.name} (--skip-missing evaluates only the sequences with results)`,
      );
    }
    skipped.push(seq.name);
    return false;
  });
  if (sequences.length === 0)
    throw new MotFormatError(`no result file in ${resDir} matches a sequence in ${gtDir}`);
  const results = sequences.map((seq) => {
    const gt = readMotFile(join(seq.dir, "gt", "gt.txt"), { kind: "gt", layout: options.layout });
    const read = readMotFile(join(resDir, `${seq.name}.txt`), { kind: "res" });
    const res = options.refine
      ? refineMotRows(read, { fps: seq.seqInfo.frameRate ?? 30, ...options.refine })
      : read;
    return evaluateSequence(gt, res, { ...options, name: seq.name, numTimesteps: seq.seqInfo.seqLength });
  });
  return { sequences: results, combined: combineSequences(results), skipped };
}
