// Limits on what a job may make the producer read: input size, duration, resolution and sampled frames.
// Checked as early as the information exists: the file size before ffmpeg runs, duration, resolution and the
// expected frame count right after probing, and (for streams and live inputs, where the probe cannot tell)
// while decoding. A job over a limit fails with VideoLimitError naming the limit and the setting to raise.

import { stat } from "node:fs/promises";
import { Readable, Transform, type TransformCallback } from "node:stream";
import type { JobSpec } from "@vdet/protocol";
import { type VideoInfo, type VideoInput, VideoLimitError } from "@vdet/video";

export interface InputLimits {
  /** Source width and height, after rotation (VDET_MAX_WIDTH, VDET_MAX_HEIGHT). */
  maxWidth?: number;
  maxHeight?: number;
  /** Sampled frames per job (VDET_MAX_FRAMES). */
  maxFrames?: number;
  /** Input duration, seconds (VDET_MAX_DURATION_SECONDS). */
  maxDurationSeconds?: number;
  /** Bytes read from a local file or an input stream such as an S3 object (VDET_MAX_INPUT_BYTES). */
  maxInputBytes?: number;
}

/** Throws VideoLimitError when an input of `sizeBytes` is over the byte limit. */
export function checkInputSize(
  sizeBytes: number | undefined,
  maxInputBytes: number | undefined,
  display: string,
): void {
  if (maxInputBytes !== undefined && sizeBytes !== undefined && sizeBytes > maxInputBytes) {
    throw new VideoLimitError(
      `input is ${sizeBytes} bytes, over the ${maxInputBytes}-byte limit (VDET_MAX_INPUT_BYTES); split the video or raise the limit`,
      { input: display },
    );
  }
}

/**
 * A local file over maxInputBytes fails before ffmpeg opens it; a stream fails once more than that has passed
 * (a backstop: ffmpeg may stop reading early, so check a stream's known size first with checkInputSize).
 */
export async function limitInputBytes(
  input: VideoInput,
  maxInputBytes: number | undefined,
): Promise<VideoInput> {
  if (maxInputBytes === undefined) return input;
  if (input instanceof Readable) return input.pipe(new ByteLimit(maxInputBytes, input));
  if (/^[A-Za-z][A-Za-z0-9+.-]+:/.test(input)) return input; // a URL: ffmpeg reads it, the probe limits apply
  const size = await stat(input).then(
    (s) => (s.isFile() ? s.size : 0),
    () => 0, // missing or unreadable: the probe reports that with its own error
  );
  checkInputSize(size, maxInputBytes, input);
  return input;
}

class ByteLimit extends Transform {
  private seen = 0;

  constructor(
    private readonly max: number,
    private readonly source: Readable,
  ) {
    super();
    // pipe() does not forward errors: a failing source (a missing S3 object) must fail the limited stream too.
    source.once("error", (error) => this.destroy(error));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.max) {
      this.source.unpipe(this);
      this.source.destroy();
      done(
        new VideoLimitError(
          `input stream is over the ${this.max}-byte limit (VDET_MAX_INPUT_BYTES); split the video or raise the limit`,
        ),
      );
      return;
    }
    done(null, chunk);
  }
}

/** Sampled frames a probed input will give under `spec.sampling`, when the probe says enough to tell. */
export function expectedSampledFrames(info: VideoInfo, spec: Pick<JobSpec, "sampling">): number | undefined {
  const frames =
    info.frameCount ??
    (info.durationSeconds !== undefined && info.fps !== undefined
      ? Math.round(info.durationSeconds * info.fps)
      : undefined);
  if ("everyNth" in spec.sampling) {
    return frames === undefined ? undefined : Math.ceil(frames / spec.sampling.everyNth);
  }
  if (info.durationSeconds === undefined) return undefined;
  const sampled = Math.floor(info.durationSeconds * spec.sampling.fps);
  return frames === undefined ? sampled : Math.min(frames, sampled);
}

/** Throws VideoLimitError when what the probe found is over a limit (before any frame is decoded). */
export function checkProbedInput(
  info: VideoInfo,
  spec: Pick<JobSpec, "sampling" | "maxFrames">,
  limits: InputLimits,
  display: string,
): void {
  const fail = (message: string) => {
    throw new VideoLimitError(message, { input: display });
  };
  if (limits.maxWidth !== undefined && info.width > limits.maxWidth) {
    fail(
      `video is ${info.width}×${info.height}, wider than the ${limits.maxWidth}-pixel limit (VDET_MAX_WIDTH); scale it down or raise the limit`,
    );
  }
  if (limits.maxHeight !== undefined && info.height > limits.maxHeight) {
    fail(
      `video is ${info.width}×${info.height}, taller than the ${limits.maxHeight}-pixel limit (VDET_MAX_HEIGHT); scale it down or raise the limit`,
    );
  }
  const duration = info.durationSeconds;
  if (
    limits.maxDurationSeconds !== undefined &&
    duration !== undefined &&
    duration > limits.maxDurationSeconds
  ) {
    fail(
      `video is ${duration.toFixed(1)} s long, over the ${limits.maxDurationSeconds} s limit (VDET_MAX_DURATION_SECONDS); split it or raise the limit`,
    );
  }
  const expected = expectedSampledFrames(info, spec);
  // A job that asks for fewer frames (spec.maxFrames) than the limit stops there and is within it.
  if (
    limits.maxFrames !== undefined &&
    expected !== undefined &&
    expected > limits.maxFrames &&
    (spec.maxFrames === undefined || spec.maxFrames > limits.maxFrames)
  ) {
    fail(
      `the sampling would give ${expected} frames, over the ${limits.maxFrames}-frame limit (VDET_MAX_FRAMES); sample less often, set maxFrames, or raise the limit`,
    );
  }
}

/** For inputs whose duration the probe could not tell (streams, live): stop when decoding passes the limit. */
export function checkDecodedDuration(ptsSeconds: number, limits: InputLimits, display: string): void {
  if (limits.maxDurationSeconds !== undefined && ptsSeconds > limits.maxDurationSeconds) {
    throw new VideoLimitError(
      `decoding passed the ${limits.maxDurationSeconds} s limit (VDET_MAX_DURATION_SECONDS) at ${ptsSeconds.toFixed(1)} s; split the input or raise the limit`,
      { input: display },
    );
  }
}
