// The offline refinement of an archive job's tracks (job spec `refine`): when the job ends, the aggregator runs
// @vdet/tracker's refineTracks (short gaps filled, tracklets joined, smoothed) over the job's tracks.mot.txt rows
// and writes the result as tracks.refined.mot.txt, before manifest.json. Only the MOT file: the aggregator keeps
// the job's MOT rows but not each frame's tracks.jsonl line, so a refined tracks.jsonl would mean reading the whole
// tracks.jsonl back from the output (docs/tracker.md).

import { formatResultRows, parseMotText } from "@vdet/mot-eval";
import { type RefineRow, refineTracks } from "@vdet/tracker";

/** The refined tracks' file (MOTChallenge rows, frames numbered like tracks.mot.txt's). */
export const REFINED_MOT_FILE = "tracks.refined.mot.txt";

/**
 * Refines a job's tracks.mot.txt rows (frames numbered in the job's sampled frames, at `fps`); tracks of different
 * classes (`classOf`: track id → class) are never joined. Returns the refined file's text and its row count.
 */
export function refineJobTracks(
  motText: string,
  classOf: ReadonlyMap<number, number>,
  fps: number,
): { text: string; rows: number } {
  const mot = parseMotText(motText, { kind: "res", source: "tracks.mot.txt" });
  const rows: RefineRow[] = [];
  for (let r = 0; r < mot.count; r++) {
    const [x, y, w, h] = mot.box.subarray(r * 4, r * 4 + 4);
    const classId = classOf.get(mot.id[r]);
    rows.push({
      frame: mot.frame[r],
      id: mot.id[r],
      box: [x, y, x + w, y + h],
      score: mot.conf[r],
      ...(classId !== undefined ? { classId } : {}),
    });
  }
  const refined = refineTracks(rows, { fps });
  return { text: formatResultRows(refined.map((r) => ({ ...r, conf: r.score }))), rows: refined.length };
}
