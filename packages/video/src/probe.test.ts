// probeVideo against real ffprobe: values of generated clips (containers, rotation, audio), stream inputs,
// timeouts, and a typed error for each kind of bad input.

import assert from "node:assert/strict";
import { createReadStream } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { type BadInput, makeBadInputs } from "../testing/bad-inputs.ts";
import {
  makeLavfiClip,
  makeNumberedClip,
  rotateMp4Quarter,
  testPattern,
  useTempDir,
  waitForNoFfmpegChildren,
  Y4mSource,
} from "../testing/clips.ts";
import { decodeFrames } from "./decode.ts";
import { NoVideoStreamError, VideoAbortedError, VideoInputRejectedError, VideoStallError } from "./errors.ts";
import { probeVideo } from "./probe.ts";

const dir = useTempDir("probe");
const spec = { frames: 50, rate: 25, width: 160, height: 90 };
const x264 = ["-c:v", "libx264", "-crf", "20", "-pix_fmt", "yuv420p"];
let mp4: string;

before(async () => {
  mp4 = await makeNumberedClip(join(dir.path, "clip.mp4"), spec);
});

describe("values", () => {
  test("an H.264 MP4: duration, frame rate, size, frame count, codec", async () => {
    const info = await probeVideo(mp4);
    assert.equal(info.codec, "h264");
    assert.match(info.container, /mp4/);
    assert.deepEqual([info.width, info.height, info.rotation], [160, 90, 0]);
    assert.equal(info.fps, 25);
    assert.deepEqual(info.avgFrameRate, { num: 25, den: 1 });
    assert.deepEqual(info.baseFrameRate, { num: 25, den: 1 });
    assert.equal(info.frameCount, 50);
    assert.ok(Math.abs((info.durationSeconds ?? 0) - 2) < 0.05, `duration ${info.durationSeconds}`);
    assert.equal(info.startTimeSeconds, 0);
    assert.equal(info.hasAudio, false);
    assert.equal(info.streamIndex, 0);
  });

  test("Matroska with audio first: the video stream is found, the frame count is unknown", async () => {
    const mkv = join(dir.path, "av.mkv");
    await makeLavfiClip(
      mkv,
      ["sine=duration=2", testPattern(96, 64, "30000/1001", 2)],
      ["-map", "0:a", "-map", "1:v", "-c:a", "libvorbis", ...x264],
    );
    const info = await probeVideo(mkv);
    assert.equal(info.streamIndex, 1);
    assert.equal(info.hasAudio, true);
    assert.deepEqual(info.avgFrameRate, { num: 30000, den: 1001 });
    assert.ok(Math.abs((info.fps ?? 0) - 29.97) < 0.01);
    assert.equal(info.frameCount, undefined);
    assert.deepEqual([info.width, info.height], [96, 64]);
  });

  test("rotation metadata swaps the displayed width and height", async () => {
    const rotated = join(dir.path, "rotated.mp4");
    await writeFile(rotated, rotateMp4Quarter(await readFile(mp4)));
    const info = await probeVideo(rotated);
    assert.equal(Math.abs(info.rotation), 90);
    assert.deepEqual([info.width, info.height], [90, 160]);
  });

  test("a Readable stream (MPEG-TS) is probed from its first bytes", async () => {
    const ts = await makeNumberedClip(join(dir.path, "clip.ts"), {
      ...spec,
      output: [...x264, "-f", "mpegts"],
    });
    const info = await probeVideo(createReadStream(ts));
    assert.equal(info.container, "mpegts");
    assert.deepEqual([info.codec, info.width, info.height, info.fps], ["h264", 160, 90, 25]);
  });
});

describe("failures", () => {
  test("each kind of bad input has its own error", async () => {
    const bad = await makeBadInputs(dir.path, mp4);
    const coverArt = join(dir.path, "cover.mp3");
    await makeLavfiClip(
      coverArt,
      ["sine=duration=1", "color=red:size=64x64:duration=0.04"],
      [
        ...["-map", "0:a", "-map", "1:v", "-c:a", "libmp3lame", "-c:v", "png", "-frames:v", "1"],
        ...["-disposition:v", "attached_pic", "-id3v2_version", "3"],
      ],
    );

    const cases: [BadInput, RegExp][] = [
      [bad.missing, /does not exist/],
      [bad.empty, /empty/],
      [bad.text, /not a readable video/],
      [bad.truncated, /moov atom not found/],
      [bad.audio, /no video stream/],
      [{ path: coverArt, error: NoVideoStreamError }, /no video stream/],
      [bad.avi, /"unknown" \(tag ZZZZ\)/],
      [{ path: `concat:${mp4}|${mp4}`, error: VideoInputRejectedError }, /"concat:" is not allowed/],
    ];
    for (const [{ path: input, error: type }, message] of cases) {
      await assert.rejects(probeVideo(input), (error: unknown) => {
        assert.ok(error instanceof type, `${input}: ${String(error)}`);
        assert.match((error as Error).message, message, input);
        return true;
      });
    }
    // Cover art is not a video stream for decoding either.
    await assert.rejects(decodeFrames(coverArt, { sampling: { everyNth: 1 } }).next(), NoVideoStreamError);
  });

  test("a stream that stops delivering times out, and abort stops a probe", async () => {
    const started = Date.now();
    await assert.rejects(probeVideo(new Y4mSource(64, 48, 100, 0), { timeoutMs: 500 }), VideoStallError);
    assert.ok(Date.now() - started < 3000);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    await assert.rejects(
      probeVideo(new Y4mSource(64, 48, 100, 0), { signal: controller.signal }),
      VideoAbortedError,
    );
    // Ending the feed lets ffprobe exit on its own; none is left behind.
    await waitForNoFfmpegChildren(5000);
  });
});
