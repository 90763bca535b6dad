// decodeFrames against real ffmpeg: frame identity (each frame shows its own number), exact sampling counts and
// source pts, scaling and rotation, frame ownership, limits.

import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import {
  collect,
  makeNumberedClip,
  readFrameNumber,
  rotateMp4Quarter,
  useTempDir,
  Y4mSource,
} from "../testing/clips.ts";
import { decodeFrames } from "./decode.ts";
import { VideoLimitError } from "./errors.ts";

const RATE = 25;
const FRAMES = 100;
const dir = useTempDir("decode");
let clip: string; // 160x90, 25 fps, 100 frames, H.264 in MP4
let gapClip: string; // as clip, in Matroska, with one second of no frames after frame 49

before(async () => {
  const spec = { frames: FRAMES, rate: RATE, width: 160, height: 90 };
  [clip, gapClip] = await Promise.all([
    makeNumberedClip(join(dir.path, "clip.mp4"), spec),
    makeNumberedClip(join(dir.path, "gap.mkv"), { ...spec, setpts: "PTS+if(gte(N\\,50)\\,1/TB\\,0)" }),
  ]);
});

describe("sampling", () => {
  test("everyNth gives every n-th frame: the right pictures, source indices and pts", async () => {
    const frames = await collect(clip, { sampling: { everyNth: 7 } });
    assert.equal(frames.length, Math.ceil(FRAMES / 7)); // 0, 7, …, 98
    frames.forEach((frame, i) => {
      assert.equal(frame.index, i);
      assert.equal(frame.sourceIndex, 7 * i);
      assert.equal(readFrameNumber(frame), 7 * i, `picture of sampled frame ${i}`);
      assert.ok(Math.abs(frame.ptsSeconds - (7 * i) / RATE) < 1e-9, `pts of frame ${i}: ${frame.ptsSeconds}`);
      assert.equal(frame.width, 160);
      assert.equal(frame.height, 90);
      assert.equal(frame.data.length, 160 * 90 * 3);
    });
  });

  test("fps sampling takes the first frame at or after each 1/fps grid point", async () => {
    const five = await collect(clip, { sampling: { fps: 5 } });
    assert.deepEqual(
      five.map((f) => f.sourceIndex),
      Array.from({ length: 20 }, (_, k) => 5 * k),
    );
    // 3 fps does not divide 25 fps: frame ceil(25k/3) for each k, never a duplicate.
    const three = await collect(clip, { sampling: { fps: 3 } });
    assert.deepEqual(
      three.map((f) => f.sourceIndex),
      [0, 9, 17, 25, 34, 42, 50, 59, 67, 75, 84, 92],
    );
    for (const frame of three) {
      assert.equal(readFrameNumber(frame), frame.sourceIndex);
      assert.ok(Math.abs(frame.ptsSeconds - frame.sourceIndex / RATE) < 1e-9);
    }
  });

  test("a rate above the source's gives every frame once", async () => {
    const frames = await collect(clip, { sampling: { fps: 60 } });
    assert.deepEqual(
      frames.map((f) => readFrameNumber(f)),
      Array.from({ length: FRAMES }, (_, n) => n),
    );
  });

  test("pts are the source's own: a gap in time is skipped, not filled with duplicates", async () => {
    const frames = await collect(gapClip, { sampling: { fps: 5 } });
    // Frames 0..49 at n/25 s, frames 50..99 at n/25 + 1 s: grid cells 2.0–2.8 s have no frame.
    const expected = [
      ...Array.from({ length: 10 }, (_, k) => 5 * k),
      ...Array.from({ length: 10 }, (_, k) => 50 + 5 * k),
    ];
    assert.deepEqual(
      frames.map((f) => readFrameNumber(f)),
      expected,
    );
    frames.forEach((frame) => {
      const n = readFrameNumber(frame);
      const pts = n / RATE + (n >= 50 ? 1 : 0);
      assert.ok(
        Math.abs(frame.ptsSeconds - pts) < 1e-6,
        `frame ${n}: pts ${frame.ptsSeconds}, expected ${pts}`,
      );
      assert.equal(frame.sourceIndex, n);
    });
  });
});

describe("scaling", () => {
  test("maxSide keeps the aspect ratio with even sides, and never upscales", async () => {
    const [small] = await collect(clip, { sampling: { everyNth: 50 }, size: { maxSide: 80 } });
    assert.equal(small!.width, 80);
    assert.ok(small!.height % 2 === 0 && Math.abs(small!.height - 45) <= 1, `height ${small!.height}`);
    assert.equal(small!.data.length, small!.width * small!.height * 3);
    assert.equal(readFrameNumber(small!), 0);

    const [same] = await collect(clip, { sampling: { everyNth: 50 }, size: { maxSide: 1024 } });
    assert.deepEqual([same!.width, same!.height], [160, 90]);
  });

  test("an exact size is honoured", async () => {
    const frames = await collect(clip, { sampling: { everyNth: 50 }, size: { width: 64, height: 64 } });
    assert.deepEqual(
      frames.map((f) => [f.width, f.height, f.data.length]),
      [
        [64, 64, 64 * 64 * 3],
        [64, 64, 64 * 64 * 3],
      ],
    );
    assert.equal(readFrameNumber(frames[1]!), 50);
  });

  test("rotation metadata is applied before scaling: a portrait video comes out portrait", async () => {
    const rotated = join(dir.path, "rotated.mp4");
    await writeFile(rotated, rotateMp4Quarter(await readFile(clip)));
    const [full] = await collect(rotated, { sampling: { everyNth: 1000 } });
    assert.deepEqual([full!.width, full!.height], [90, 160]);
    // The bands now run down the picture; read them top to bottom or bottom to top.
    const [scaled] = await collect(rotated, { sampling: { everyNth: 1000 }, size: { maxSide: 80 } });
    assert.equal(scaled!.height, 80);
    assert.ok(scaled!.width % 2 === 0 && Math.abs(scaled!.width - 45) <= 1);
  });

  test("each frame owns its bytes", async () => {
    const frames = await collect(clip, { sampling: { everyNth: 10 }, size: { maxSide: 32 } });
    const buffers = new Set(frames.map((f) => f.data.buffer));
    assert.equal(buffers.size, frames.length);
    for (const frame of frames) {
      assert.equal(frame.data.byteOffset, 0);
      assert.equal(frame.data.buffer.byteLength, frame.data.length);
    }
  });
});

describe("limits", () => {
  test("a source larger than maxWidth/maxHeight fails with VideoLimitError", async () => {
    await assert.rejects(
      collect(clip, { sampling: { everyNth: 1 }, maxWidth: 100, maxHeight: 100 }),
      (error: unknown) => {
        assert.ok(error instanceof VideoLimitError);
        assert.match(error.message, /160x90/);
        return true;
      },
    );
    const frames = await collect(clip, { sampling: { everyNth: 50 }, maxWidth: 160, maxHeight: 90 });
    assert.equal(frames.length, 2);
  });

  test("maxFrames: the first maxFrames frames arrive, then VideoLimitError", {
    timeout: 30_000,
  }, async () => {
    const got: number[] = [];
    await assert.rejects(
      (async () => {
        for await (const frame of decodeFrames(clip, { sampling: { everyNth: 10 }, maxFrames: 4 })) {
          got.push(frame.sourceIndex);
        }
      })(),
      VideoLimitError,
    );
    assert.deepEqual(got, [0, 10, 20, 30]);
    const exact = await collect(clip, { sampling: { everyNth: 10 }, maxFrames: 10 });
    assert.equal(exact.length, 10);
    // A long input stops at the limit instead of being decoded to its end.
    const source = new Y4mSource(64, 48, 100_000);
    const first: number[] = [];
    await assert.rejects(
      (async () => {
        for await (const frame of decodeFrames(source, { sampling: { everyNth: 1 }, maxFrames: 3 })) {
          first.push(readFrameNumber(frame));
        }
      })(),
      VideoLimitError,
    );
    assert.deepEqual(first, [0, 1, 2]);
    assert.ok(source.framesRead < 2000, `ffmpeg read ${source.framesRead} frames for a 3-frame limit`);
  });
});
