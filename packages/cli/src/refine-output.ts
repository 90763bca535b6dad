// `--refine` for `vdet run`: the offline refinement of a finished job's tracks (gap filling, tracklet linking,
// smoothing; @vdet/tracker refineTracks), written beside the online output as tracks.refined.mot.txt.

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatResultRows, readMotFile } from "@vdet/mot-eval";
import { type RefineRow, refineTracks } from "@vdet/tracker";

export const REFINED_MOT_FILE = "tracks.refined.mot.txt";

/**
 * Refines <dir>/tracks.mot.txt (frames numbered in the job's sampled frames, at `fps`) into
 * <dir>/tracks.refined.mot.txt; tracks of different classes (summary.json) are never joined.
 * Returns the number of rows written.
 */
export function refineJobOutput(dir: string, fps: number): { rows: number; path: string } {
  const mot = readMotFile(join(dir, "tracks.mot.txt"), { kind: "res" });
  const classOf = new Map<number, number>();
  const summaryPath = join(dir, "summary.json");
  if (existsSync(summaryPath)) {
    const summary = JSON.parse(readFileSync(summaryPath, "utf8")) as {
      trackList?: { trackId: number; class: number }[];
    };
    for (const t of summary.trackList ?? []) classOf.set(t.trackId, t.class);
  }
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
  const path = join(dir, REFINED_MOT_FILE);
  writeFileSync(path, formatResultRows(refined.map((r) => ({ ...r, conf: r.score }))));
  return { rows: refined.length, path };
}
