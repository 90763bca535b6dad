// decodeFrames against real ffmpeg when things go wrong or get in the way: backpressure, abort, stalls, stream
// inputs, refused inputs and every kind of bad file.

import assert from "node:assert/strict";
import { createReadStream } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type BadInput, makeBadInputs } from "../testing/bad-inputs.ts";
import {
  childFfmpegPids,
  collect,
  makeNumberedClip,
  readFrameNumber,
  useTempDir,
  waitForNoFfmpegChildren,
  Y4mSource,
} from "../testing/clips.ts";
import { type DecodedFrame, decodeFrames } from "./decode.ts";
import {
  NotAVideoError,
  VideoAbortedError,
  VideoInputRejectedError,
  VideoStallError,
  VideoUnreachableError,
} from "./errors.ts";

const dir = useTempDir("decode-flow");
const spec = { frames: 100, rate: 25, width: 160, height: 90 };
let clip: string; // spec, H.264 in MP4 (index at the end)
let tsClip: string; // the same in MPEG-TS (streamable)

before(async () => {
  [clip, tsClip] = await Promise.all([
    makeNumberedClip(join(dir.path, "clip.mp4"), spec),
    makeNumberedClip(join(dir.path, "clip.ts"), {
      ...spec,
      output: ["-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p", "-f", "mpegts"],
    }),
  ]);
});

describe("flow control", () => {
  test("a consumer that stops pulling stops ffmpeg; pulling again resumes it", async () => {
    const source = new Y4mSource(320, 240, 400);
    // The pause (3 s) is longer than the stall timeout (2.5 s), which must not count paused time; the timeout
    // leaves a busy CI machine time to restart ffmpeg's output after the pause.
    const iterator = decodeFrames(source, { sampling: { everyNth: 1 }, stallTimeoutMs: 2500 });
    const first = await iterator.next();
    assert.equal(readFrameNumber(first.value as DecodedFrame), 0);
    await sleep(1500);
    const readWhilePaused = source.framesRead;
    await sleep(1500);
    // ffmpeg is blocked on its full stdout pipe, so it reads no more input; and the pause is not a stall.
    assert.equal(
      source.framesRead,
      readWhilePaused,
      "ffmpeg kept reading while the consumer was not pulling",
    );
    assert.ok(
      readWhilePaused < 100,
      `ffmpeg read ${readWhilePaused} of 400 frames ahead of a stopped consumer`,
    );
    let count = 1;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      assert.equal(readFrameNumber(next.value), count);
      count += 1;
    }
    assert.equal(count, 400);
    assert.equal(source.framesRead, 400);
  });

  test("abort kills ffmpeg and ends the loop with VideoAbortedError", async () => {
    const controller = new AbortController();
    const source = new Y4mSource(64, 48, 100_000);
    let seen = 0;
    await assert.rejects(
      (async () => {
        for await (const _ of decodeFrames(source, {
          sampling: { everyNth: 1 },
          signal: controller.signal,
        })) {
          seen += 1;
          if (seen === 3) {
            assert.equal(childFfmpegPids().length, 1);
            controller.abort(new Error("job cancelled"));
          }
        }
      })(),
      (error: unknown) =>
        error instanceof VideoAbortedError && (error.cause as Error).message === "job cancelled",
    );
    assert.equal(seen, 3);
    await waitForNoFfmpegChildren();
    assert.ok(source.framesRead < 100_000);
  });

  test("an already aborted signal fails before ffmpeg starts", async () => {
    await assert.rejects(
      collect(clip, { sampling: { everyNth: 1 }, signal: AbortSignal.abort() }),
      VideoAbortedError,
    );
  });

  test("leaving the loop early kills ffmpeg", async () => {
    for await (const frame of decodeFrames(new Y4mSource(64, 48, 100_000), { sampling: { everyNth: 1 } })) {
      if (frame.index === 2) break;
    }
    await waitForNoFfmpegChildren();
  });

  test("input that stops arriving fails with VideoStallError after stallTimeoutMs", async () => {
    const frames: number[] = [];
    const started = Date.now();
    await assert.rejects(
      (async () => {
        for await (const frame of decodeFrames(new Y4mSource(64, 48, 1000, 10), {
          sampling: { everyNth: 1 },
          stallTimeoutMs: 1000,
        })) {
          frames.push(readFrameNumber(frame));
        }
      })(),
      VideoStallError,
    );
    assert.ok(Date.now() - started < 6000);
    assert.ok(frames.length <= 10, `got ${frames.length} frames`);
    assert.deepEqual(
      frames,
      frames.map((_, i) => i),
    );
    await waitForNoFfmpegChildren();
  });
});

describe("inputs", () => {
  test("a Readable stream (MPEG-TS) decodes like the file", async () => {
    const frames = await collect(createReadStream(tsClip), { sampling: { everyNth: 25 } });
    assert.deepEqual(
      frames.map((f) => [readFrameNumber(f), f.sourceIndex]),
      [
        [0, 0],
        [25, 25],
        [50, 50],
        [75, 75],
      ],
    );
    // MPEG-TS starts at a non-zero timestamp; pts still count from the start of the input.
    assert.ok(Math.abs(frames[1]!.ptsSeconds - 1) < 1e-6, `pts ${frames[1]!.ptsSeconds}`);
  });

  test("a stream without the MP4 index fails with NotAVideoError that explains streaming MP4", async () => {
    const bytes = await readFile(clip);
    const truncated = Readable.from([bytes.subarray(0, Math.floor(bytes.length / 2))]);
    await assert.rejects(collect(truncated, { sampling: { everyNth: 1 } }), (error: unknown) => {
      assert.ok(error instanceof NotAVideoError);
      assert.match(error.message, /faststart/);
      assert.match(error.reason ?? "", /moov atom not found/);
      return true;
    });
  });

  test("a failing input stream becomes VideoUnreachableError", async () => {
    const source = new Y4mSource(64, 48, 1000, 5);
    setTimeout(() => source.destroy(new Error("socket hang up")), 200);
    await assert.rejects(collect(source, { sampling: { everyNth: 1 } }), (error: unknown) => {
      assert.ok(error instanceof VideoUnreachableError, String(error));
      assert.match(error.reason ?? "", /socket hang up/);
      return true;
    });
  });

  test("protocol tricks and disallowed kinds are refused before ffmpeg runs", async () => {
    // The previous test's ffmpeg may still be exiting; start from none so any child seen below is ours.
    await waitForNoFfmpegChildren();
    for (const input of [
      `concat:${clip}|${clip}`,
      `subfile:,,start,0,end,0,,:${clip}`,
      `file:${clip}`,
      "s3://b/k.mp4",
    ]) {
      await assert.rejects(collect(input, { sampling: { everyNth: 1 } }), VideoInputRejectedError, input);
    }
    await assert.rejects(
      collect(clip, { sampling: { everyNth: 1 }, allowedKinds: ["url", "stream"] }),
      /input kind "file" is not allowed/,
    );
    assert.deepEqual(childFfmpegPids(), []);
    // A local file whose name looks like a protocol is still just a file.
    const oddName = join(dir.path, "concat:clip.mp4");
    await writeFile(oddName, await readFile(clip));
    assert.equal((await collect(oddName, { sampling: { everyNth: 50 } })).length, 2);
  });

  test("bad options are refused with what to fix", async () => {
    await assert.rejects(collect(clip, { sampling: { fps: 0 } }), /sampling.fps/);
    await assert.rejects(collect(clip, { sampling: { everyNth: 1.5 } }), /everyNth/);
    await assert.rejects(collect(clip, { sampling: { everyNth: 1 }, size: { maxSide: 101 } }), /even/);
  });
});

describe("bad input", () => {
  test("missing, empty, truncated, text, audio-only and undecodable inputs get their own errors", async () => {
    const bad = await makeBadInputs(dir.path, clip);
    const cases: [BadInput, RegExp | undefined][] = [
      [bad.missing, undefined],
      [bad.empty, undefined],
      [bad.truncated, /moov atom not found/],
      [bad.text, /Invalid data|"tty" is not an accepted video container/],
      [bad.audio, /matches no streams/],
      [bad.avi, /Decoder \(codec none\) not found/],
    ];
    for (const [{ path: input, error: type }, reason] of cases) {
      await assert.rejects(collect(input, { sampling: { everyNth: 1 } }), (error: unknown) => {
        assert.ok(error instanceof type, `${input}: got ${String(error)}`);
        if (reason !== undefined) {
          const e = error as VideoInputRejectedError;
          assert.match(e.reason ?? "", reason, input);
          assert.ok(e.exitCode !== 0 && e.stderrTail.length > 0, `${input}: exit code and stderr tail kept`);
        }
        return true;
      });
    }
  });

  test("an MP4 cut short after its index yields the frames before the cut, then NotAVideoError", async () => {
    const whole = await makeNumberedClip(join(dir.path, "faststart.mp4"), {
      ...spec,
      output: ["-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p", "-movflags", "+faststart"],
    });
    const bytes = await readFile(whole);
    const cut = join(dir.path, "cut.mp4");
    await writeFile(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const numbers: number[] = [];
    await assert.rejects(
      (async () => {
        for await (const frame of decodeFrames(cut, { sampling: { everyNth: 1 } }))
          numbers.push(readFrameNumber(frame));
      })(),
      (error: unknown) => {
        assert.ok(error instanceof NotAVideoError, String(error));
        assert.match(error.message, /truncated/);
        assert.match(error.reason ?? "", /partial file/);
        return true;
      },
    );
    assert.ok(numbers.length > 10 && numbers.length < 100, `${numbers.length} frames before the cut`);
    assert.deepEqual(numbers.slice(0, 10), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test("a stream of garbage is not a video", async () => {
    await assert.rejects(
      collect(Readable.from([Buffer.alloc(200_000, 7)]), { sampling: { everyNth: 1 } }),
      NotAVideoError,
    );
  });
});
