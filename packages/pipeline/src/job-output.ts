// Where one job's results go. tracks.jsonl grows in order while the job runs; the other files are written once
// at the end. Implementations live with the sinks (local directory, S3).

import type { Readable } from "node:stream";

export interface JobOutput {
  /** Appends text (whole lines) to tracks.jsonl. */
  appendTracks(text: string): Promise<void>;
  /** Writes a whole file (manifest.json, summary.json, tracks.mot.txt) atomically. */
  put(name: string, body: string, contentType: string): Promise<void>;
  /** Writes a whole file from a stream of unknown length (preview.mp4), atomically. */
  upload(name: string, body: Readable, contentType: string): Promise<void>;
  /** Makes tracks.jsonl complete and visible; called once, after the last append. */
  finish(): Promise<void>;
  /** Where the files are, for people (a directory path or an s3:// prefix). */
  readonly location: string;
}

export type JobOutputFactory = (jobId: string, location: string) => Promise<JobOutput>;
