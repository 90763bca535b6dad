// Where one job's results go. tracks.jsonl grows in order while the job runs; the other files are written once
// at the end. Implementations live with the sinks (local directory, S3).

import type { Readable } from "node:stream";

export interface JobOutput {
  /** Appends text (whole lines) to tracks.jsonl. */
  appendTracks(text: string): Promise<void>;
  /**
   * Parts of tracks.jsonl durably written so far: the write position the aggregator checkpoints. Text appended
   * after the last part is only buffered (the checkpoint keeps those lines); an append that writes a part writes
   * everything buffered, so right after it nothing is buffered.
   */
  readonly tracksPartsWritten: number;
  /** Writes what tracks.jsonl has buffered as a part; returns tracksPartsWritten. */
  flushTracks(): Promise<number>;
  /** Writes a whole file (manifest.json, summary.json, tracks.mot.txt) atomically. */
  put(name: string, body: string, contentType: string): Promise<void>;
  /** Writes a whole file from a stream of unknown length (preview.mp4), atomically. */
  upload(name: string, body: Readable, contentType: string): Promise<void>;
  /** Makes tracks.jsonl complete and visible; called once, after the last append. */
  finish(): Promise<void>;
  /** Where the files are, for people (a directory path or an s3:// prefix). */
  readonly location: string;
}

/** Where a restarted aggregator resumes a job's output: the checkpointed write position. */
export interface JobOutputResume {
  tracksPartsWritten: number;
}

export type JobOutputFactory = (
  jobId: string,
  location: string,
  resume?: JobOutputResume,
) => Promise<JobOutput>;
