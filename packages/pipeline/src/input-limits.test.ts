import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { test } from "node:test";
import type { VideoInfo } from "@vdet/video";
import { VideoLimitError } from "@vdet/video";
import {
  checkDecodedDuration,
  checkInputSize,
  checkProbedInput,
  expectedSampledFrames,
  limitInputBytes,
} from "./input-limits.ts";

const info = (fields: Partial<VideoInfo>): VideoInfo => ({
  container: "mov,mp4",
  durationSeconds: 10,
  startTimeSeconds: 0,
  streamIndex: 0,
  codec: "h264",
  width: 320,
  height: 240,
  rotation: 0,
  fps: 25,
  avgFrameRate: undefined,
  baseFrameRate: undefined,
  frameCount: 250,
  hasAudio: false,
  ...fields,
});

test("expected sampled frames from the frame count, or duration × rate, under either sampling", () => {
  assert.equal(expectedSampledFrames(info({}), { sampling: { everyNth: 1 } }), 250);
  assert.equal(expectedSampledFrames(info({}), { sampling: { everyNth: 4 } }), 63);
  assert.equal(expectedSampledFrames(info({}), { sampling: { fps: 5 } }), 50);
  assert.equal(expectedSampledFrames(info({ frameCount: undefined }), { sampling: { everyNth: 2 } }), 125);
  assert.equal(
    expectedSampledFrames(info({ durationSeconds: undefined, frameCount: undefined }), {
      sampling: { fps: 5 },
    }),
    undefined,
  );
});

test("probed inputs over a limit fail naming it; a job asking for fewer frames than the limit passes", () => {
  const spec = { sampling: { everyNth: 1 } } as const;
  const cases: [Partial<VideoInfo>, object, RegExp][] = [
    [{ width: 8000 }, { maxWidth: 7680 }, /8000×240, wider than the 7680-pixel limit \(VDET_MAX_WIDTH\)/],
    [{ height: 5000 }, { maxHeight: 4320 }, /taller than the 4320-pixel limit \(VDET_MAX_HEIGHT\)/],
    [{ durationSeconds: 90_000 }, { maxDurationSeconds: 86_400 }, /90000\.0 s long, over the 86400 s limit/],
    [{}, { maxFrames: 100 }, /give 250 frames, over the 100-frame limit \(VDET_MAX_FRAMES\)/],
  ];
  for (const [fields, limits, message] of cases) {
    assert.throws(
      () => checkProbedInput(info(fields), spec, limits, "clip.mp4"),
      (e: Error) =>
        e instanceof VideoLimitError && message.test(e.message) && /\[input: clip\.mp4\]/.test(e.message),
    );
  }
  checkProbedInput(info({}), { ...spec, maxFrames: 100 }, { maxFrames: 100 }, "clip.mp4");
  checkProbedInput(
    info({ durationSeconds: undefined, frameCount: undefined }),
    spec,
    { maxFrames: 1, maxDurationSeconds: 1 },
    "live",
  );
  assert.throws(() => checkDecodedDuration(11, { maxDurationSeconds: 10 }, "live"), /passed the 10 s limit/);
  checkDecodedDuration(9.9, { maxDurationSeconds: 10 }, "live");
  assert.throws(() => checkInputSize(11, 10, "x"), /11 bytes, over the 10-byte limit/);
  checkInputSize(undefined, 10, "x");
});

test("a stream over the byte limit fails once more has passed, and its source is destroyed", async () => {
  const source = Readable.from([Buffer.alloc(600), Buffer.alloc(600)]);
  const limited = (await limitInputBytes(source, 1000)) as Readable;
  await assert.rejects(
    (async () => {
      for await (const _ of limited);
    })(),
    /input stream is over the 1000-byte limit/,
  );
  assert.ok(source.destroyed);
  const small = (await limitInputBytes(Readable.from([Buffer.alloc(600)]), 1000)) as Readable;
  let bytes = 0;
  for await (const chunk of small) bytes += (chunk as Buffer).length;
  assert.equal(bytes, 600);
});

test("a failing source fails the limited stream too", async () => {
  const source = new Readable({ read() {} });
  const limited = (await limitInputBytes(source, 1000)) as Readable;
  setImmediate(() => source.destroy(new Error("NoSuchKey")));
  await assert.rejects(
    (async () => {
      for await (const _ of limited);
    })(),
    /NoSuchKey/,
  );
});
