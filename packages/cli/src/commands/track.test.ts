// `vdet track` / `vdet eval` end to end on TUD-Campus and TUD-Stadtmitte from the shared MOT data
// (copied into a temporary folder, never into the repo). Skips visibly when the data is absent,
// fails instead when VDET_REQUIRE_FIXTURES=1.

import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { evaluateSequence, readMotFile } from "@vdet/mot-eval";
import { Command } from "commander";
import { haveMotData, motDir } from "../../../../test/support/mot.ts";
import { registerTrackCommands } from "./track.ts";

const SEQUENCES = ["TUD-Campus", "TUD-Stadtmitte"];

/** Runs `vdet <args>` through the real command definitions and returns what it printed. */
async function vdet(...args: string[]): Promise<string> {
  const program = new Command("vdet").exitOverride();
  registerTrackCommands(program);
  const chunks: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string) => {
    chunks.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(["node", "vdet", ...args]);
  } finally {
    process.stdout.write = write;
  }
  return chunks.join("");
}

/** A scratch copy of the TUD sequences: <root>/<seq>/{det/det.txt, gt/gt.txt, seqinfo.ini}. */
function scratchData(): string {
  const root = mkdtempSync(join(tmpdir(), "vdet-track-"));
  for (const seq of SEQUENCES) {
    for (const file of [join("det", "det.txt"), join("gt", "gt.txt"), "seqinfo.ini"]) {
      mkdirSync(join(root, "data", seq, file, ".."), { recursive: true });
      cpSync(join(motDir, seq, file), join(root, "data", seq, file));
    }
  }
  return root;
}

test("vdet track writes MOTChallenge result rows that vdet eval scores like the library does", async (t) => {
  if (!haveMotData(t, SEQUENCES)) return;
  const root = scratchData();
  try {
    const det = join(root, "data", "TUD-Campus", "det", "det.txt");
    const out = join(root, "TUD-Campus.txt");
    const log = await vdet("track", "--det", det, "--out", out);
    assert.match(log, /^TUD-Campus: 71 frames, \d+ tracks/);
    const lines = readFileSync(out, "utf8").trim().split("\n");
    assert.ok(lines.length > 200);
    assert.match(lines[0], /^1,1,[\d.]+,[\d.]+,[\d.]+,[\d.]+,[\d.]+,-1,-1,-1$/);
    const ids = new Set(lines.map((l) => Number(l.split(",")[1])));
    assert.deepEqual(
      [...ids].sort((a, b) => a - b),
      range(1, ids.size),
      "ids are 1…n",
    );

    const gtPath = join(root, "data", "TUD-Campus", "gt", "gt.txt");
    const table = await vdet("eval", "--gt", gtPath, "--res", out);
    assert.match(table.split("\n")[0], /^Sequence\s+HOTA\s+DetA\s+AssA\s+MOTA/);
    const json = JSON.parse(await vdet("eval", "--gt", gtPath, "--res", out, "--json"));
    const direct = evaluateSequence(readMotFile(gtPath, { kind: "gt" }), readMotFile(out, { kind: "res" }), {
      numTimesteps: 71,
    });
    assert.equal(json.sequences[0].mota, direct.clear.mota);
    assert.equal(json.sequences[0].hota, direct.hota.hota);
    assert.ok(table.includes((100 * direct.clear.mota).toFixed(1)), "table shows MOTA in percent");
    // Our tracker clears the SORT baseline on this sequence.
    const sortOut = join(root, "sort.txt");
    await vdet("track", "--det", det, "--out", sortOut, "--tracker", "sort");
    const sort = JSON.parse(await vdet("eval", "--gt", gtPath, "--res", sortOut, "--json"));
    assert.ok(json.sequences[0].idf1 > sort.sequences[0].idf1);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => from + k);

test("folder form: one result per sequence, per-sequence rows plus a combined row", async (t) => {
  if (!haveMotData(t, SEQUENCES)) return;
  const root = scratchData();
  try {
    const data = join(root, "data");
    const res = join(root, "res");
    await vdet("track", "--det", data, "--out", res, "--max-lost", "20");
    assert.deepEqual(readdirSync(res).sort(), ["TUD-Campus.txt", "TUD-Stadtmitte.txt"]);
    const table = await vdet("eval", "--gt", data, "--res", res);
    const names = table
      .trim()
      .split("\n")
      .map((l) => l.split(/\s+/)[0]);
    assert.deepEqual(names, ["Sequence", "TUD-Campus", "TUD-Stadtmitte", "COMBINED"]);
    const json = JSON.parse(await vdet("eval", "--gt", data, "--res", res, "--json"));
    const gtBoxes = json.sequences.reduce((s: number, m: { gtBoxes: number }) => s + m.gtBoxes, 0);
    assert.equal(json.combined.gtBoxes, gtBoxes);
    const errors = json.sequences.reduce(
      (s: number, m: { fp: number; fn: number; idsw: number }) => s + m.fp + m.fn + m.idsw,
      0,
    );
    assert.ok(
      Math.abs(json.combined.mota - (1 - errors / gtBoxes)) < 1e-12,
      "combined MOTA pools the counts",
    );

    rmSync(join(res, "TUD-Stadtmitte.txt"));
    await assert.rejects(
      vdet("eval", "--gt", data, "--res", res),
      /missing result file .*TUD-Stadtmitte\.txt/,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a malformed det.txt is reported with file and line", async () => {
  const root = mkdtempSync(join(tmpdir(), "vdet-track-"));
  try {
    const det = join(root, "det.txt");
    writeFileSync(det, "1,-1,10,10,20,40,0.9,-1,-1,-1\n2,-1,10,10,20\n");
    await assert.rejects(vdet("track", "--det", det, "--out", join(root, "out.txt")), (e: Error) =>
      e.message.startsWith(`${det}:2: expected at least 7 values`),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("folder form: folders without det/det.txt are named as skipped", async () => {
  const root = mkdtempSync(join(tmpdir(), "vdet-track-"));
  const errors: string[] = [];
  const write = process.stderr.write;
  try {
    mkdirSync(join(root, "data", "SEQ-A", "det"), { recursive: true });
    writeFileSync(join(root, "data", "SEQ-A", "det", "det.txt"), "1,-1,10,10,20,40,0.9,-1,-1,-1\n");
    mkdirSync(join(root, "data", "SEQ-B", "gt"), { recursive: true });
    mkdirSync(join(root, "data", "notes"));
    process.stderr.write = ((chunk: string) => errors.push(String(chunk)) > 0) as typeof process.stderr.write;
    const printed = await vdet("track", "--det", join(root, "data"), "--out", join(root, "res"));
    assert.match(printed, /^SEQ-A: 1 frames/m);
    assert.equal(errors.join(""), "skipped 2 folder(s) without det/det.txt: SEQ-B, notes\n");
  } finally {
    process.stderr.write = write;
    rmSync(root, { recursive: true, force: true });
  }
});

test("--refine: vdet track writes refined rows, vdet eval --refine scores raw rows as if refined", async (t) => {
  if (!haveMotData(t, SEQUENCES)) return;
  const root = scratchData();
  try {
    const data = join(root, "data");
    const res = join(root, "res");
    const refined = join(root, "refined");
    await vdet("track", "--det", data, "--out", res);
    await vdet("track", "--det", data, "--out", refined, "--refine");
    const online = JSON.parse(await vdet("eval", "--gt", data, "--res", res, "--json"));
    const viaTrack = JSON.parse(await vdet("eval", "--gt", data, "--res", refined, "--json"));
    const viaEval = JSON.parse(await vdet("eval", "--gt", data, "--res", res, "--json", "--refine"));
    // Filled gaps add rows; the same refinement either way (the written file rounds to 2 decimals).
    const rows = (dir: string, seq: string) =>
      readFileSync(join(dir, `${seq}.txt`), "utf8")
        .trim()
        .split("\n");
    assert.ok(rows(refined, "TUD-Campus").length > rows(res, "TUD-Campus").length);
    assert.equal(viaTrack.combined.tp, viaEval.combined.tp);
    assert.equal(viaTrack.combined.idsw, viaEval.combined.idsw);
    assert.ok(Math.abs(viaTrack.combined.hota - viaEval.combined.hota) < 1e-3);
    // On these sequences the refinement raises all three headline metrics.
    for (const k of ["hota", "idf1", "mota"])
      assert.ok(
        viaEval.combined[k] > online.combined[k],
        `${k}: ${viaEval.combined[k]} vs ${online.combined[k]}`,
      );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("--first-match-reach: a walker sampled at 2 fps is tracked by default, not with 0; a negative value is refused", async () => {
  const root = mkdtempSync(join(tmpdir(), "vdet-track-"));
  try {
    const det = join(root, "det.txt");
    // 45 px a frame, 40 px wide: consecutive boxes never overlap. Frame 1 is empty (no warm-up confirmation).
    writeFileSync(
      det,
      range(2, 10)
        .map((f) => `${f},-1,${100 + 45 * f},300,40,100,0.9,-1,-1,-1`)
        .join("\n"),
    );
    const rows = async (...extra: string[]) => {
      const out = join(root, `out${extra.join("")}.txt`);
      await vdet("track", "--det", det, "--out", out, "--fps", "2", ...extra);
      return readFileSync(out, "utf8").trim().split("\n").filter(Boolean);
    };
    const tracked = await rows();
    assert.equal(tracked.length, 8, "frames 3–10");
    assert.equal(new Set(tracked.map((l) => l.split(",")[1])).size, 1, "one id");
    assert.deepEqual(await rows("--first-match-reach", "0"), []);
    await assert.rejects(
      vdet("track", "--det", det, "--out", join(root, "x.txt"), "--first-match-reach", "-1"),
      /--first-match-reach must be a number ≥ 0/,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
