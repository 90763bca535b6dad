// Segments, the pipeline's side: how a worker decodes one (the job's input read again, or a recorded live
// segment's bytes from the frame store) with @vdet/video's segment decoder, and the one rule that turns a decoded
// frame's time into the ptsMs every message and tracks.jsonl carry.

import { VdetError } from "@vdet/errors";
import type { SegmentWork } from "@vdet/protocol";
import type { FrameStore } from "@vdet/transport";
import {
  type DecodedFrame,
  decodeSegment,
  type Hwaccel,
  type InputKind,
  type NetworkOptions,
  type OutputSize,
  type SegmentDescriptor,
} from "@vdet/video";
import { PIPELINE_ERRORS } from "./error-codes.ts";

/** Decodes a segment's sampled frames, scaled to `size` (the letterbox content size). */
export type SegmentDecoder = (segment: SegmentWork, size: OutputSize) => AsyncIterable<DecodedFrame>;

/** A decoded frame's presentation time as messages carry it: ms with µs precision; 0 when the frame had none. */
export function framePtsMs(ptsSeconds: number): number {
  return Number.isFinite(ptsSeconds) ? Math.round(ptsSeconds * 1e6) / 1e3 : 0;
}

/**
 * Where a worker reads a job's input by itself, given the input as submitted: a path or an http(s) URL as is,
 * an s3:// object as a presigned https URL; null for an input that is not read in segments.
 */
export type SegmentInputResolver = (input: string) => Promise<string | null>;

/** Without object storage: s3:// inputs are not segmented (they stream through the producer); others as given. */
export const defaultSegmentInput: SegmentInputResolver = async (input) =>
  /^s3:\/\//i.test(input) ? null : input;

export interface SegmentDecoderOptions {
  frameStore: FrameStore;
  segmentInput?: SegmentInputResolver;
  /** Input kinds this worker reads (default: all); a deployment on many machines leaves out "file". */
  allowedInputKinds?: readonly InputKind[];
  stallTimeoutMs?: number;
  /** Decode on the GPU (NVDEC); fails clearly where ffmpeg lacks it. */
  hwaccel?: Hwaccel;
  /**
   * ffmpeg threads per decode (-threads); default: ffmpeg's choice, about one per core. Several workers or
   * segments per machine each start their own decoder: 1 keeps their threads from contending for the cores.
   */
  threads?: number;
  /**
   * Checks the job's input before this worker opens it (the roles pass @vdet/input-policy's checkInput: buckets,
   * real-path roots, addresses); a throw fails the segment with its message. Default: no check.
   */
  checkInput?: (input: string) => Promise<void>;
  /**
   * How ffmpeg reaches a job's http(s) input (the input policy's proxy, which checks and pins every connection and
   * redirect). Not used for s3:// inputs, which are read from the deployment's own S3 endpoint (presigned URLs).
   */
  network?: NetworkOptions;
  /**
   * The S3 segment store of recorded live segments (@vdet/storage's S3SegmentStore, VDET_LIVE_SEGMENT_STORE): a
   * segment is read through a presigned URL and deleted once its frames are reported; a URI outside the store is
   * refused. Unset: such segments fail with a message naming the setting.
   */
  segmentStore?: {
    readableUrl(uri: string): Promise<string>;
    delete(uri: string): Promise<void>;
  };
}

/** A worker's segment decoder: reads the job's input (or the stored segment) and decodes the planned frames. */
export function segmentDecoder(options: SegmentDecoderOptions): SegmentDecoder {
  const resolve = options.segmentInput ?? defaultSegmentInput;
  return async function* decode(segment, size) {
    let input: string | Buffer;
    let network: NetworkOptions | undefined;
    if (segment.source.kind === "stored") {
      const bytes = await options.frameStore.get(segment.source.key);
      if (!bytes)
        throw new VdetError(
          PIPELINE_ERRORS.SEGMENT_EXPIRED,
          `recorded segment ${segment.segment} of job ${segment.jobId} expired or is missing in the frame store`,
        );
      input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } else if (segment.source.kind === "object") {
      // The deployment's own segment store (no input policy: no job names it), read through a presigned URL.
      if (!options.segmentStore)
        throw new VdetError(
          PIPELINE_ERRORS.SEGMENT_INPUT,
          `recorded segment ${segment.segment} of job ${segment.jobId} is in the S3 segment store (${segment.source.uri}), and this worker has none: set VDET_LIVE_SEGMENT_STORE on the workers as on the producer`,
        );
      input = await options.segmentStore.readableUrl(segment.source.uri);
    } else {
      await options.checkInput?.(segment.source.input);
      const readable = await resolve(segment.source.input);
      if (readable === null)
        throw new VdetError(
          PIPELINE_ERRORS.SEGMENT_INPUT,
          `segment ${segment.segment} of job ${segment.jobId}: this worker cannot read the input by itself`,
        );
      input = readable;
      if (!/^s3:\/\//i.test(segment.source.input)) network = options.network;
    }
    yield* decodeSegment(input, segment.plan as unknown as SegmentDescriptor, {
      size,
      stallTimeoutMs: options.stallTimeoutMs,
      allowedKinds: options.allowedInputKinds,
      hwaccel: options.hwaccel,
      threads: options.threads,
      network,
    });
  };
}
