// A stream's time-based tracks.jsonl parts over a real directory sink: one part per window named by its start, the
// rolling manifest, and every line exactly once when the writer is reopened from an older position (an aggregator
// restarted from its last checkpoint).

import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { STREAM_MANIFEST, streamPartsManifestSchema } from "@vdet/protocol";
import { LocalDirSink } from "@vdet/storage";
import { openStreamOutput } from "./stream-output.ts";

const dir = mkdtempSync(join(tmpdir(), "vdet-stream-output-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.parse("2026-12-07T05:00:00Z");
const MINUTE = 60_000;

function lines(from: number, to: number): string {
  let text = "";
  for (let i = from; i < to; i++) text += `${JSON.stringify({ frame: i })}\n`;
  return text;
}

function manifest(root: string) {
  return streamPartsManifestSchema.parse(JSON.parse(readFileSync(join(root, STREAM_MANIFEST), "utf8")));
}

function framesIn(root: string, key: string): number[] {
  return readFileSync(join(root, key), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l).frame);
}

test("one part per window, named by its start, listed in the rolling manifest", async () => {
  const root = join(dir, "plain");
  const sink = await LocalDirSink.open(root);
  let clock = T0 + 5_000;
  const out = await openStreamOutput(sink, { partMinutes: 1, now: () => clock, pieceBytes: 40 });
  await out.appendTracks(lines(0, 3));
  clock += 30_000;
  await out.appendTracks(lines(3, 6));
  out.committed?.();
  clock = T0 + MINUTE + 1_000; // the next window
  await out.appendTracks(lines(6, 8));
  out.committed?.();
  clock += 2 * MINUTE; // a window with no lines is skipped
  await out.appendTracks(lines(8, 9));
  const during = manifest(root);
  assert.equal(during.complete, false);
  assert.deepEqual(
    during.parts.map((p) => [p.key, p.complete]),
    [
      ["tracks/20261207T050000Z.jsonl", true],
      ["tracks/20261207T050100Z.jsonl", false],
      ["tracks/20261207T050300Z.jsonl", false],
    ],
  );
  assert.deepEqual(framesIn(root, "tracks/20261207T050000Z.jsonl"), [0, 1, 2, 3, 4, 5]);
  await out.finish();
  const done = manifest(root);
  assert.equal(done.complete, true);
  assert.deepEqual(
    done.parts.map((p) => [p.key, p.lines, p.complete]),
    [
      ["tracks/20261207T050000Z.jsonl", 6, true],
      ["tracks/20261207T050100Z.jsonl", 2, true],
      ["tracks/20261207T050300Z.jsonl", 1, true],
    ],
  );
  assert.deepEqual(framesIn(root, "tracks/20261207T050100Z.jsonl"), [6, 7]);
  assert.deepEqual(framesIn(root, "tracks/20261207T050300Z.jsonl"), [8]);
  // Only the parts and the manifest remain: the pieces were joined and removed.
  assert.deepEqual(readdirSync(join(root, "tracks")).sort(), [
    "20261207T050000Z.jsonl",
    "20261207T050100Z.jsonl",
    "20261207T050300Z.jsonl",
  ]);
});

test("reopened at an older position (a restart from the last checkpoint), every line is written once", async () => {
  const root = join(dir, "restart");
  const sink = await LocalDirSink.open(root);
  let clock = T0 + 1_000;
  const first = await openStreamOutput(sink, { partMinutes: 1, now: () => clock, pieceBytes: 1_000_000 });
  await first.appendTracks(lines(0, 4));
  await first.flushTracks();
  // The checkpoint: position after lines 0-3 were written as a piece; lines 4-5 are only buffered (the checkpoint
  // keeps them in its line list).
  const checkpoint = first.timeParts!;
  await first.appendTracks(lines(4, 6));
  // The window rolls: lines 4-5 are written to the old window and 6-7 to a new one, then the aggregator dies before
  // its next checkpoint.
  clock = T0 + MINUTE + 500;
  await first.appendTracks(lines(6, 8));
  // Restarted: the checkpoint's buffered lines are appended again, then the redelivered frames 6-7 and more.
  clock = T0 + 2 * MINUTE + 100;
  const second = await openStreamOutput(sink, { partMinutes: 1, now: () => clock, resume: checkpoint });
  await second.appendTracks(lines(4, 6));
  second.committed?.();
  await second.appendTracks(lines(6, 10));
  await second.flushTracks();
  second.committed?.();
  await second.finish();
  const done = manifest(root);
  const all = done.parts.flatMap((p) => framesIn(root, p.key));
  assert.deepEqual(all, [...Array(10).keys()]);
  // The new window the first writer began and never checkpointed left nothing behind.
  assert.deepEqual(
    done.parts.map((p) => p.key),
    ["tracks/20261207T050000Z.jsonl", "tracks/20261207T050200Z.jsonl"],
  );
  assert.deepEqual(readdirSync(join(root, "tracks")).sort(), [
    "20261207T050000Z.jsonl",
    "20261207T050200Z.jsonl",
  ]);
});
