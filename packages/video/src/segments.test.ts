// Frame accuracy of segmented decoding: on clips with B-frames, open GOPs, variable frame rate, an edit list and
// non-zero start times, the union of every segment's frames equals the sequential decode frame for frame
// (sampled index, source index, pts, pixels), with everyNth and fps sampling, scaled and not.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createReadStream, existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { before, describe, test } from "node:test";
import { promisify } from "node:util";
import {
  childFfmpegPids,
  collect,
  H264,
  makeNumberedClip,
  makeTestClip,
  readFrameNumber,
  useTempDir,
  waitForNoFfmpegChildren,
} from "../testing/clips.ts";
import { startFaultServer } from "../testing/fault-server.ts";
import { describeFrame, listPackets, makeSegmentClips, type SegmentClip } from "../testing/segment-clips.ts";
import { hasHwaccel, resolveFfmpegBinaries } from "./binaries.ts";
import type { DecodedFrame } from "./decode.ts";
import {
  HwaccelUnavailableError,
  VIDEO_ERRORS,
  VideoAbortedError,
  VideoDecodeError,
  VideoInputRejectedError,
  VideoNotIndexableError,
} from "./errors.ts";
import type { OutputSize, Sampling } from "./filters.ts";
import { indexVideo, type ReReadableInput } from "./frame-index.ts";
import { decodeSegment, planSegments, type SegmentDescriptor } from "./segments.ts";

const execFileAsync = promisify(execFile);
const dir = useTempDir("segments");
let clips: Record<string, SegmentClip>;

before(async () => {
  clips = await makeSegmentClips(dir.path);
});

async function segmented(
  input: ReReadableInput | Buffer,
  segments: readonly SegmentDescriptor[],
  size?: OutputSize,
): Promise<DecodedFrame[]> {
  const frames: DecodedFrame[] = [];
  for (const segment of segments) {
    for await (const frame of decodeSegment(input, segment, size === undefined ? {} : { size })) {
      frames.push(frame);
    }
  }
  return frames;
}

const SAMPLINGS: { sampling: Sampling; size?: OutputSize }[] = [
  { sampling: { everyNth: 1 } },
  { sampling: { everyNth: 3 }, size: { maxSide: 64 } },
  { sampling: { fps: 7 } },
];

describe("the union of all segments is the sequential decode", () => {
  for (const name of ["bframes", "openGop", "vfr", "editList", "offsetTs", "offsetMp4"]) {
    test(name, async () => {
      const clip = clips[name]!;
      const index = await indexVideo(clip.path);
      const problem = clip.check(await listPackets(clip.path), index.startTimeUs / 1e6);
      assert.equal(problem, undefined, `${name} is not the clip the test needs`);
      for (const { sampling, size } of SAMPLINGS) {
        const what = `${name} ${JSON.stringify(sampling)}`;
        const sequential = await collect(clip.path, { sampling, ...(size ? { size } : {}) });
        assert.ok(sequential.length > 10, `${what}: ${sequential.length} frames`);
        // Cut by count into about five segments, so they start and end mid-GOP (asserted below).
        const segmentFrames = Math.ceil(sequential.length / 5);
        const plan = planSegments(index, { sampling, segmentFrames });
        assert.equal(plan.sampledFrames, sequential.length, `${what}: planned frame count`);
        assert.ok(plan.segments.length >= 3, `${what}: ${plan.segments.length} segments`);
        // Segments start mid-GOP (their seek lands before their first frame) and the last ends mid-GOP.
        assert.ok(
          plan.segments.some((s) => s.seekSeconds !== undefined && index.keyframe[s.firstSourceIndex] === 0),
          `${what}: no segment starts mid-GOP`,
        );
        const got = await segmented(clip.path, plan.segments, size);
        assert.deepEqual(got.map(describeFrame), sequential.map(describeFrame), what);
        if (clip.numbered && size === undefined) {
          assert.deepEqual(
            got.map((f) => readFrameNumber(f)),
            got.map((f) => f.sourceIndex),
            `${what}: pixels show the frame's own number`,
          );
        }
        const ms = sequential.map((f) => f.ptsSeconds * 1000);
        for (const s of plan.segments) {
          assert.ok(Math.abs(s.startMs - ms[s.firstIndex]!) < 1e-6, `${what}: segment ${s.sequence} startMs`);
          assert.ok(Math.abs(s.endMs - ms[s.firstIndex + s.frameCount - 1]!) < 1e-6);
        }
      }
    });
  }
});

describe("planning", () => {
  test("descriptors are small and cut by frame count or duration", async () => {
    const index = await indexVideo(clips.bframes!.path);
    const byFrames = planSegments(index, { sampling: { everyNth: 2 }, segmentFrames: 7 });
    assert.deepEqual(
      byFrames.segments.map((s) => s.frameCount),
      [7, 7, 7, 7, 7, 7, 7, 1],
    );
    assert.deepEqual(
      byFrames.segments.map((s) => s.firstIndex),
      [0, 7, 14, 21, 28, 35, 42, 49],
    );
    for (const s of byFrames.segments) assert.ok(JSON.stringify(s).length < 400, JSON.stringify(s));
    const whole = planSegments(index, { sampling: { everyNth: 1 } }); // 4 s clip, default 4 s segments
    assert.equal(whole.segments.length, 1);
    assert.equal(whole.segments[0]!.seekSeconds, undefined);
    // GOPs of 12 frames (0.48 s): 1 s segments start on the keyframe after the first second, no lead-in.
    const byTime = planSegments(index, { sampling: { everyNth: 1 }, segmentSeconds: 1 });
    assert.deepEqual(
      byTime.segments.map((s) => s.firstSourceIndex),
      [0, 36, 72],
    );
    for (const s of byTime.segments) assert.equal(index.keyframe[s.firstSourceIndex], 1);
    assert.throws(
      () => planSegments(index, { sampling: { fps: 0 } }),
      (e) => e instanceof VideoInputRejectedError && /sampling\.fps/.test(e.message),
    );
    assert.throws(
      () => planSegments(index, { sampling: { everyNth: 1 }, segmentFrames: 2.5 }),
      VideoInputRejectedError,
    );
  });

  test("inputs that cannot be located frame-exactly are refused with a typed error", async () => {
    const raw = join(dir.path, "raw.h264");
    await makeNumberedClip(raw, {
      frames: 20,
      rate: 25,
      width: 64,
      height: 48,
      output: ["-c:v", "libx264", "-f", "h264"],
    });
    await assert.rejects(indexVideo(raw), VideoNotIndexableError);
    await assert.rejects(
      indexVideo("http://127.0.0.1:9/live.m3u8"),
      (e) => e instanceof VideoInputRejectedError && /hls/.test(e.message),
    );
  });
});

describe("decoding a segment", () => {
  test("from bytes or a stream factory (no seek) gives the same frames", async () => {
    const clip = clips.offsetTs!;
    const index = await indexVideo(() => createReadStream(clip.path));
    const sampling = { fps: 5 };
    const plan = planSegments(index, { sampling, segmentSeconds: 1 });
    const sequential = (await collect(clip.path, { sampling })).map(describeFrame);
    const bytes = await readFile(clip.path);
    assert.deepEqual((await segmented(bytes, plan.segments)).map(describeFrame), sequential);
    const middle = plan.segments.slice(1, 3);
    const fromFactory = await segmented(() => createReadStream(clip.path), middle);
    assert.deepEqual(
      fromFactory.map(describeFrame),
      sequential.slice(middle[0]!.firstIndex, middle[1]!.firstIndex + middle[1]!.frameCount),
    );
  });

  test("over HTTP with range requests: each segment seeks into the file", async () => {
    const server = await startFaultServer(dir.path);
    try {
      // Big enough (about 1 MB) that ffmpeg seeks with new range requests instead of reading through.
      const path = await makeTestClip(join(dir.path, "ranges.mp4"), 8, 25, 640, 360, [...H264, "-g", "25"]);
      const url = `${server.base}/ranges.mp4`;
      const sampling = { everyNth: 2 };
      const index = await indexVideo(url);
      const plan = planSegments(index, { sampling, segmentSeconds: 1 });
      const sequential = (await collect(path, { sampling })).map(describeFrame);
      const last = plan.segments.at(-1)!;
      assert.ok(last.seekSeconds !== undefined && last.seekSeconds > 6, JSON.stringify(last));
      const before = server.ranges.length;
      const frames = await collectSegment(url, last);
      assert.deepEqual(frames.map(describeFrame), sequential.slice(last.firstIndex));
      const starts = server.ranges.slice(before).map((r) => Number(/^bytes=(\d+)-/.exec(r)?.[1] ?? 0));
      assert.ok(
        starts.some((s) => s > 0),
        `range requests: ${server.ranges.slice(before).join(" | ")}`,
      );
    } finally {
      await server.close();
    }
  });

  test("a segment's last frame arrives without ffmpeg reading the rest of the input", async () => {
    // ffmpeg writes an output frame only once the next one reaches its output (or at the end of the input). A
    // segment's last frame must not wait for that: the input here is the clip's first part from a stream that
    // then stays open, sending nothing more. Without the window's sentinel frame, the last frame never came and
    // the decode ended in VideoStallError (a file decoded to its end first: a 10-minute video cost each segment
    // up to a whole decode of the rest).
    const path = await makeTestClip(join(dir.path, "open-ended.ts"), 20, 25, 160, 120, [
      ...H264,
      "-g",
      "25",
      "-bf",
      "2",
      "-f",
      "mpegts",
    ]);
    const bytes = await readFile(path);
    const index = await indexVideo(path);
    const sampling = { fps: 5 };
    const plan = planSegments(index, { sampling, segmentSeconds: 1 });
    const sequential = (await collect(path, { sampling })).map(describeFrame);
    const segment = plan.segments[1]!;
    assert.ok(segment.endMs < 3000, JSON.stringify(segment));
    // About 10 of the 20 seconds: the window (up to 3 s), the frames after it and enough for ffmpeg's probe (5 s),
    // never the end of the input.
    const prefix = bytes.subarray(0, Math.floor(bytes.length * 0.5));
    const openEnded = () => {
      const stream = new PassThrough();
      stream.write(prefix);
      return stream;
    };
    const frames: DecodedFrame[] = [];
    for await (const frame of decodeSegment(openEnded, segment, { stallTimeoutMs: 5000 })) frames.push(frame);
    assert.deepEqual(
      frames.map(describeFrame),
      sequential.slice(segment.firstIndex, segment.firstIndex + segment.frameCount),
    );
    await waitForNoFfmpegChildren();
  });

  test("a plan that does not fit the input fails instead of yielding other frames", async () => {
    const index = await indexVideo(clips.bframes!.path);
    const plan = planSegments(index, { sampling: { everyNth: 1 }, segmentSeconds: 1 });
    // The same frames, shifted by 3.3 s in another container: the planned pts do not exist there.
    await assert.rejects(
      collectSegment(clips.offsetTs!.path, plan.segments[1]!),
      (e) => e instanceof VideoDecodeError && /does not match its plan/.test(e.message),
    );
    const tooMany = { ...plan.segments.at(-1)!, frameCount: plan.segments.at(-1)!.frameCount + 1 };
    await assert.rejects(
      collectSegment(clips.bframes!.path, tooMany),
      (e) => e instanceof VideoDecodeError && /yielded \d+ of \d+/.test(e.message),
    );
  });

  test("abort stops ffmpeg", async () => {
    const index = await indexVideo(clips.bframes!.path);
    const [segment] = planSegments(index, { sampling: { everyNth: 1 } }).segments;
    const controller = new AbortController();
    const frames = decodeSegment(clips.bframes!.path, segment!, { signal: controller.signal });
    await frames.next();
    assert.ok(childFfmpegPids().length > 0);
    controller.abort();
    await assert.rejects(frames.next(), VideoAbortedError);
    await waitForNoFfmpegChildren();
  });
});

describe("GPU decoding (hwaccel)", () => {
  test("an unknown hwaccel is refused before ffmpeg runs", async () => {
    await assert.rejects(
      collect(clips.bframes!.path, { sampling: { everyNth: 1 }, hwaccel: "vdpau" as "cuda" }),
      (e) => e instanceof VideoInputRejectedError && /hwaccel must be one of cuda/.test(e.message),
    );
  });

  test("an ffmpeg built without cuda is refused with HwaccelUnavailableError", async () => {
    // The npm-bundled static ffmpeg is built without cuda; run a decode with it in a child process.
    const bundled = resolveFfmpegBinaries({ PATH: "" }).ffmpegPath;
    assert.equal(await hasHwaccel("cuda", bundled), false, `${bundled} unexpectedly lists cuda`);
    const script = `import { decodeFrames } from "./packages/video/src/index.ts";
      try { for await (const f of decodeFrames(${JSON.stringify(clips.bframes!.path)}, { sampling: { everyNth: 1 }, hwaccel: "cuda" })) {}
        console.log("decoded"); } catch (e) { console.log(e.code + " " + e.message); }`;
    const { stdout } = await execFileAsync(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", script],
      {
        env: { ...process.env, VDET_FFMPEG: bundled },
      },
    );
    assert.match(stdout, /^HWACCEL_UNAVAILABLE .*built without the "cuda" hwaccel/);
  });

  test("an ffmpeg with cuda on a machine without a GPU fails with HwaccelUnavailableError", async (t) => {
    if (!(await hasHwaccel("cuda"))) return t.skip("this ffmpeg has no cuda: covered by the test above");
    if (existsSync("/dev/nvidia0")) return t.skip("this machine has an NVIDIA GPU");
    const index = await indexVideo(clips.bframes!.path);
    const [segment] = planSegments(index, { sampling: { everyNth: 1 } }).segments;
    for (const run of [
      () => collect(clips.bframes!.path, { sampling: { everyNth: 1 }, hwaccel: "cuda" }),
      () => collectSegment(clips.bframes!.path, segment!, { hwaccel: "cuda" }),
    ]) {
      await assert.rejects(
        run(),
        (e) =>
          e instanceof HwaccelUnavailableError &&
          e.code === VIDEO_ERRORS.HWACCEL_UNAVAILABLE &&
          /no usable GPU/.test(e.message) &&
          /cuda|CUDA|[Dd]evice/.test(e.reason ?? ""),
      );
    }
  });
});

async function collectSegment(
  input: ReReadableInput,
  segment: SegmentDescriptor,
  options: Parameters<typeof decodeSegment>[2] = {},
): Promise<DecodedFrame[]> {
  const frames: DecodedFrame[] = [];
  for await (const frame of decodeSegment(input, segment, options)) frames.push(frame);
  return frames;
}
