// `npm run bench -- spinning`: onnxruntime's intra-op spinning on vs off (VDET_INTRA_OP_SPINNING), D0 (seeded
// weights, deploy graph, the profiler's 512² noise frame) at batch sizes 1…4, on a quiet machine and under CPU hogs the bench
// starts itself (busy-loop processes, as the phi bench's). Both sessions are loaded once, with the session options
// workers use (`sessionOptionsFor`); within each turn every (setting, batch) runs once, so load drift hits all
// alike. Reported per load: the median ms per frame of each, and off ÷ on per batch size (below 1: off is faster).
// Options: --threads N (default: every core), --turns N (default 8), --hogs 0,1 (hog counts to run).
// The last stdout line is one JSON object.

import { availableParallelism, cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { build, getConfig } from "@vdet/effdet";
import { noiseFrame } from "@vdet/pipeline";
import { sessionOptionsFor } from "@vdet/runtime";
import * as ort from "onnxruntime-node";
import { startHogs } from "./support/hogs.ts";

const { values } = parseArgs({
  options: {
    threads: { type: "string", default: String(availableParallelism()) },
    turns: { type: "string", default: "8" },
    hogs: { type: "string", default: "0,1" },
  },
});
const threads = Number(values.threads);
const turns = Number(values.turns);
const hogCounts = values.hogs.split(",").map(Number);
const batches = [1, 2, 3, 4];
const log = (line: string) => process.stderr.write(`${line}\n`);

const model = build({ phi: 0, seed: 0 });
const open = (spinning: boolean) =>
  ort.InferenceSession.create(
    model,
    sessionOptionsFor({ name: "cpu" }, { intraOpThreads: threads, intraOpSpinning: spinning }),
  );
const sessions = { on: await open(true), off: await open(false) };
// The frame the worker's start-up profiling times (seeded noise), once per batch slot.
const side = getConfig(0).imageSize;
const frame = noiseFrame(0).data;
const pixels = new Uint8Array(batches.at(-1)! * frame.length);
for (let b = 0; b < batches.at(-1)!; b++) pixels.set(frame, b * frame.length);
async function timeRun(session: ort.InferenceSession, batch: number): Promise<number> {
  const input = new ort.Tensor("uint8", pixels.subarray(0, batch * side * side * 3), [batch, side, side, 3]);
  const started = performance.now();
  await session.run({ [session.inputNames[0]]: input });
  return performance.now() - started;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

// Warm-up: every shape on both sessions (onnxruntime plans memory per input shape).
for (const s of Object.values(sessions))
  for (const b of batches) for (let i = 0; i < 2; i++) await timeRun(s, b);

const loads = [];
for (const hogs of hogCounts) {
  const hogProcesses = startHogs(hogs);
  try {
    await new Promise((r) => setTimeout(r, 500));
    const samples: Record<string, number[]> = {};
    for (const name of Object.keys(sessions)) for (const b of batches) samples[`${name}:${b}`] = [];
    for (let turn = 0; turn < turns; turn++)
      for (const [name, session] of Object.entries(sessions))
        for (const b of batches) samples[`${name}:${b}`].push((await timeRun(session, b)) / b);
    const msPerFrame = (name: string) =>
      Object.fromEntries(batches.map((b) => [String(b), round(median(samples[`${name}:${b}`]), 1)]));
    const on = msPerFrame("on");
    const off = msPerFrame("off");
    const row = {
      hogs,
      loadAverage1m: round(loadavg()[0], 2),
      msPerFrame: { on, off },
      offOverOn: Object.fromEntries(
        batches.map((b) => [String(b), round(off[String(b)] / on[String(b)], 3)]),
      ),
    };
    log(JSON.stringify(row));
    loads.push(row);
  } finally {
    for (const h of hogProcesses) h.kill();
  }
}
await Promise.all(Object.values(sessions).map((s) => s.release()));
console.log(
  JSON.stringify({
    model: "D0 deploy, seeded weights, 512² frames",
    threads,
    turns,
    cpu: cpus()[0]?.model.trim(),
    cpus: cpus().length,
    loads,
  }),
);
