// preview.mp4: a job's source video with its tracks drawn on it (packages/render), written next to the
// results when the job asked for it. The source is read a second time, so live streams cannot have one.

import { createReadStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ZonesFileInput } from "@vdet/analytics";
import { type RenderRange, renderAnnotatedVideo, type TrackFrame } from "@vdet/render";
import type { VideoInput } from "@vdet/video";
import type { JobOutput } from "./job-output.ts";
import { isLiveInput } from "./live-policy.ts";

/** Inputs that can be read again after the job: files, s3:// objects and http(s) files, not live streams. */
export function canReadAgain(input: string): boolean {
  return !isLiveInput(input);
}

export async function writePreview(
  input: string,
  frames: readonly TrackFrame[],
  output: JobOutput,
  openInput: (input: string) => Promise<VideoInput>,
  range: RenderRange = "processed",
  onProgress?: (done: number, total: number | null) => void,
  /** The job's zones and lines, drawn with their counts. */
  zones?: ZonesFileInput,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "vdet-preview-"));
  try {
    const file = join(dir, "preview.mp4");
    await renderAnnotatedVideo({
      tracks: frames,
      input: () => openInput(input),
      output: file,
      range,
      onProgress,
      zones,
    });
    await output.upload("preview.mp4", createReadStream(file), "video/mp4");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
