// No silent frame loss: an HLS stream served over loopback with a segment that 404s, arrives truncated or
// stalls, or whose timestamps jump, decodes on (as ffmpeg does) and every hole is reported as a gap, with its
// place in the timeline and its reason. A clean stream reports none.

import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { collect, makeNumberedHls, readFrameNumber, useTempDir } from "../testing/clips.ts";
import { type FaultServer, startFaultServer } from "../testing/fault-server.ts";
import { VideoUnreachableError } from "./errors.ts";
import type { Gap } from "./gaps.ts";

const dir = useTempDir("gaps");
let server: FaultServer;
const RATE = 25;
const FRAMES = 150; // 6 segments of 1 s
const STEP_MS = 1000 / RATE;

before(async () => {
  await mkdir(join(dir.path, "clean"));
  await mkdir(join(dir.path, "jump"));
  const spec = { frames: FRAMES, rate: RATE, width: 160, height: 90, segmentSeconds: 1 };
  await makeNumberedHls(join(dir.path, "clean"), spec);
  // Frames from 100 on are shown 1.2 s later than they should be: a hole in the source's own timestamps.
  await makeNumberedHls(join(dir.path, "jump"), { ...spec, setpts: "PTS+if(gte(N\\,100)\\,1.2/TB\\,0)" });
  // The same segments as a live playlist (no end tag): ffmpeg keeps reloading it.
  const vod = await readFile(join(dir.path, "clean", "index.m3u8"), "utf8");
  await writeFile(
    join(dir.path, "clean", "live.m3u8"),
    vod.replace(/#EXT-X-(ENDLIST|PLAYLIST-TYPE).*\n/g, ""),
  );
  server = await startFaultServer(dir.path);
});

after(() => server.close());

async function decodeWithGaps(playlist: string, stallTimeoutMs = 30_000) {
  const gaps: Gap[] = [];
  const frames = await collect(`${server.base}/${playlist}`, {
    sampling: { everyNth: 1 },
    stallTimeoutMs,
    onGap: (gap) => gaps.push(gap),
  });
  return { frames, gaps };
}

/** Every expected frame is either decoded or inside a reported gap. */
function assertAccounted(frames: { ptsSeconds: number }[], gaps: Gap[], expected: number): void {
  const inGaps = gaps.reduce((sum, g) => sum + Math.round((g.toMs - g.fromMs) / STEP_MS), 0);
  assert.equal(frames.length + inGaps, expected, `${frames.length} frames + ${inGaps} in gaps`);
}

function near(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) < 1, `${what}: ${actual} ms, expected ${expected} ms`);
}

describe("HLS gaps", () => {
  test("a clean stream has no gaps", async () => {
    const { frames, gaps } = await decodeWithGaps("clean/index.m3u8");
    assert.equal(frames.length, FRAMES);
    assert.deepEqual(gaps, []);
  });

  test("a middle segment that 404s is a gap over exactly its frames, reason unreachable", async () => {
    server.faults.set("clean/seg2.ts", "404");
    try {
      const { frames, gaps } = await decodeWithGaps("clean/index.m3u8");
      assert.equal(frames.length, FRAMES - 25);
      assert.equal(gaps.length, 1, JSON.stringify(gaps));
      assert.equal(gaps[0]!.reason, "unreachable");
      assert.match(gaps[0]!.detail ?? "", /segment 2|404/);
      near(gaps[0]!.fromMs, 2000, "fromMs");
      near(gaps[0]!.toMs, 3000, "toMs");
      assertAccounted(frames, gaps, FRAMES);
    } finally {
      server.faults.clear();
    }
  });

  test("a last segment that 404s is a gap at the end", async () => {
    server.faults.set("clean/seg5.ts", "404");
    try {
      const { frames, gaps } = await decodeWithGaps("clean/index.m3u8");
      assert.equal(frames.length, FRAMES - 25);
      assert.equal(gaps.length, 1, JSON.stringify(gaps));
      assert.equal(gaps[0]!.reason, "unreachable");
      near(gaps[0]!.fromMs, 5000, "fromMs");
      near(gaps[0]!.toMs, 6000, "toMs");
    } finally {
      server.faults.clear();
    }
  });

  test("a truncated segment is a gap, reason truncated", async () => {
    server.faults.set("clean/seg3.ts", "truncate");
    try {
      const { frames, gaps } = await decodeWithGaps("clean/index.m3u8");
      assert.ok(frames.length < FRAMES && frames.length > FRAMES - 25, `${frames.length} frames`);
      assert.ok(gaps.length >= 1, "no gap reported");
      assert.ok(
        gaps.every((g) => g.reason === "truncated"),
        JSON.stringify(gaps),
      );
      assert.ok(
        gaps.every((g) => g.fromMs >= 3000 && g.toMs <= 4000),
        JSON.stringify(gaps),
      );
      assertAccounted(frames, gaps, FRAMES);
    } finally {
      server.faults.clear();
    }
  });

  test("a segment that stalls is given up after half the stall timeout: a gap, reason stalled, decoding goes on", async () => {
    server.faults.set("clean/seg1.ts", "stall");
    try {
      const { frames, gaps } = await decodeWithGaps("clean/index.m3u8", 2000);
      assert.ok(frames.length < FRAMES && frames.length >= FRAMES - 25, `${frames.length} frames`);
      assert.equal(readFrameNumber(frames.at(-1)!), FRAMES - 1, "decoding went on to the end");
      assert.ok(gaps.length >= 1, "no gap reported");
      assert.ok(
        gaps.some((g) => g.reason === "stalled"),
        JSON.stringify(gaps),
      );
      assert.ok(
        gaps.every((g) => g.reason === "stalled" || g.reason === "truncated"),
        JSON.stringify(gaps),
      );
      assert.ok(
        gaps.every((g) => g.fromMs >= 1000 && g.toMs <= 2000),
        JSON.stringify(gaps),
      );
      assertAccounted(frames, gaps, FRAMES);
    } finally {
      server.faults.clear();
    }
  });

  test("a live stream whose playlist stops answering fails instead of ending as if complete", async () => {
    server.onRequest = (name) => {
      if (name.startsWith("clean/seg")) server.faults.set("clean/live.m3u8", "404");
    };
    try {
      await assert.rejects(
        decodeWithGaps("clean/live.m3u8", 2000),
        (e) => e instanceof VideoUnreachableError && /live playlist could not be reloaded/.test(e.message),
      );
    } finally {
      server.onRequest = undefined;
      server.faults.clear();
    }
  });

  test("a jump in the source's timestamps is a gap, reason timestamp-jump", async () => {
    const { frames, gaps } = await decodeWithGaps("jump/index.m3u8");
    assert.equal(frames.length, FRAMES, "no frame is lost");
    assert.equal(gaps.length, 1, JSON.stringify(gaps));
    assert.equal(gaps[0]!.reason, "timestamp-jump");
    near(gaps[0]!.fromMs, 4000, "fromMs");
    near(gaps[0]!.toMs, 5200, "toMs");
  });
});
