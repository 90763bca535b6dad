// The two real clips in test/fixtures/video (Intel sample videos, CC BY 4.0, attribution beside them): probe
// values as Debian's ffprobe reports them, and every frame decoded exactly once.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { decodeFrames } from "./decode.ts";
import { probeVideo } from "./probe.ts";

const fixtures = fileURLToPath(new URL("../../../test/fixtures/video/", import.meta.url));
const cars = `${fixtures}car-detection.mp4`;
const people = `${fixtures}one-by-one-person-detection.mp4`;

describe("real clips", () => {
  test("the fixtures are the published files", async () => {
    const manifest = await readFile(`${fixtures}MANIFEST.sha256`, "utf8");
    for (const line of manifest.trim().split("\n")) {
      const [sum, name] = line.split(/\s+/);
      const actual = createHash("sha256")
        .update(await readFile(`${fixtures}${name}`))
        .digest("hex");
      assert.equal(actual, sum, name);
    }
  });

  test("car-detection.mp4: 768x432 H.264 at 12.5 fps, 377 frames, with audio", async () => {
    const info = await probeVideo(cars);
    assert.equal(info.codec, "h264");
    assert.deepEqual([info.width, info.height, info.rotation], [768, 432, 0]);
    assert.deepEqual(info.avgFrameRate, { num: 25, den: 2 });
    assert.equal(info.fps, 12.5);
    assert.equal(info.frameCount, 377);
    assert.equal(info.hasAudio, true);
    // The container's 30.208 s (its audio runs longer); some ffprobe builds report the video's 30.16 s.
    const duration = info.durationSeconds ?? 0;
    assert.ok(duration >= 30.15 && duration <= 30.21, `duration ${duration}`);
  });

  test("car-detection.mp4 decodes to all 377 frames once, and to 151 frames at 5 fps", async () => {
    let count = 0;
    let lastPts = -1;
    for await (const frame of decodeFrames(cars, { sampling: { everyNth: 1 }, size: { maxSide: 256 } })) {
      assert.equal(frame.sourceIndex, count);
      assert.ok(Math.abs(frame.ptsSeconds - count / 12.5) < 1e-9, `frame ${count} at ${frame.ptsSeconds}`);
      assert.deepEqual([frame.width, frame.height], [256, 144]);
      lastPts = frame.ptsSeconds;
      count += 1;
    }
    assert.equal(count, 377);
    assert.ok(Math.abs(lastPts - 30.08) < 1e-9);

    const sampled: number[] = [];
    for await (const frame of decodeFrames(cars, { sampling: { fps: 5 }, size: { maxSide: 512 } })) {
      sampled.push(frame.ptsSeconds);
    }
    // One frame per 0.2 s cell over 30.16 s of video; each is the first frame in its cell.
    assert.equal(sampled.length, 151);
    sampled.forEach((pts, k) => {
      assert.ok(pts >= k * 0.2 - 1e-9 && pts < k * 0.2 + 0.08, `sample ${k} at ${pts}`);
    });
  });

  test("one-by-one-person-detection.mp4: 10 fps, 1394 frames, no audio", async () => {
    const info = await probeVideo(people);
    assert.deepEqual(
      [info.codec, info.width, info.height, info.fps, info.frameCount, info.hasAudio],
      ["h264", 768, 432, 10, 1394, false],
    );
    assert.ok(Math.abs((info.durationSeconds ?? 0) - 139.4) < 0.01);
  });
});
