// EXPERIMENT (reverted in the next commit): vdet variants at strides 1, 2, 3, 5 on TUD and the synthetic MOT17
// check, with the drop against stride 1. Variants as JSON in VARIANTS ("sort" for the SORT preset); the
// experimental tracker hooks are read from EXP_BUF (stride-scaled buffered IoU), EXP_IOU_P (IoU gates ×
// stride^-p), EXP_OCM / EXP_OCM_DT (OC-SORT velocity-direction consistency weight and window), see tracker.ts.
// Also EXP_QV / EXP_QP: process noise of the velocity / position entries × stride^p per filter step
// (EXP_FPSDT=1: × (30 / fps)^p instead, from the sampled frame rate alone).
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  combineSequences, detectionFramesFromRows, evaluateSequence, findSequences, type MotRows,
  motRowsFromResults, readMotFile, type SequenceMetrics, subsampledLength, subsampleRows, summarize,
} from "@vdet/mot-eval";
import { Tracker, type TrackerOptions } from "@vdet/tracker";
import { motDir } from "../test/support/mot.ts";
import { synthesiseDetections, trackRows } from "./support/tracker-runs.ts";

type Data = { name: string; fps: number; len: number; det: MotRows; gt: MotRows };
const variants: Record<string, Partial<TrackerOptions> | "sort"> = JSON.parse(process.env.VARIANTS ?? '{"default":{}}');
function run(v: Partial<TrackerOptions> | "sort", data: readonly Data[], stride: number) {
  const parts: SequenceMetrics[] = [];
  for (const d of data) {
    const n = subsampledLength(d.len, stride);
    const frames = detectionFramesFromRows(subsampleRows(d.det, stride), n);
    const fps = d.fps / stride; (globalThis as unknown as { __S: number }).__S = stride; (globalThis as unknown as { __FPS: number }).__FPS = fps;
    const tracker = v === "sort" ? Tracker.sortBaseline({ fps }) : new Tracker({ ...v, fps });
    const rows = trackRows(tracker, frames);
    parts.push(evaluateSequence(subsampleRows(d.gt, stride), motRowsFromResults(rows), { name: d.name, numTimesteps: n }));
  }
  const s = summarize(combineSequences(parts));
  if (process.env.DIAG) console.log(stride, JSON.stringify({idsw: s.idsw, fp: s.fp, fn: s.fn, frag: (s as any).frag, detA: (s as any).detA, assA: (s as any).assA, idp: (s as any).idp, idr: (s as any).idr}));
  return [s.hota, s.idf1, s.mota];
}
const withGt = findSequences(motDir, join("gt", "gt.txt"));
const tud: Data[] = withGt.filter((s) => existsSync(join(s.dir, "det", "det.txt"))).map((s) => ({
  name: s.name, fps: s.seqInfo.frameRate ?? 30, len: s.seqInfo.seqLength ?? 0,
  det: readMotFile(join(s.dir, "det", "det.txt"), { kind: "det" }), gt: readMotFile(join(s.dir, "gt", "gt.txt"), { kind: "gt" }),
}));
const syn: Data[] = process.env.NOSYN ? [] : withGt.filter((s) => s.name.startsWith("MOT17")).map((s, index) => {
  const gt = readMotFile(join(s.dir, "gt", "gt.txt"), { kind: "gt" });
  const len = s.seqInfo.seqLength ?? 0;
  const det = synthesiseDetections(gt, len, s.seqInfo.imWidth ?? 1920, s.seqInfo.imHeight ?? 1080, 1000 + index);
  return { name: s.name, fps: s.seqInfo.frameRate ?? 30, len, det, gt };
});
const f = (x: number[]) => x.map((v) => (100 * v).toFixed(1).padStart(5)).join("");
for (const [name, v] of Object.entries(variants)) {
  for (const [dn, data] of [["tud", tud], ["syn", syn]] as const) {
    if (!data.length) continue;
    const r = [1, 2, 3, 5].map((s) => run(v, data, s));
    const drops = r.slice(1).map((x) => x.map((y, i) => r[0][i] - y));
    console.log(`${name.padEnd(14)} ${dn} ${r.map(f).join(" |")}   drops ${drops.map(f).join(" |")}`);
  }
}
