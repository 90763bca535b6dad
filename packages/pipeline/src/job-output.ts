// Where one job's results go. tracks.jsonl (and events.jsonl, for a job with zones) grows in order while the job
// runs; the other files are written whole (analytics.json again and again while the job runs, the rest once at the
// end). Implementations live with the sinks (local directory, S3).

import type { Readable } from "node:stream";
import type { StreamOutput } from "@vdet/protocol";

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
  /**
   * Appends text (whole lines) to events.jsonl, in parts like tracks.jsonl; only on an output opened with
   * `events: true` (a job with zones).
   */
  appendEvents(text: string): Promise<void>;
  /** Parts of events.jsonl durably written so far (0 without events). */
  readonly eventsPartsWritten: number;
  /** Writes what events.jsonl has buffered as a part; returns eventsPartsWritten. */
  flushEvents(): Promise<number>;
  /** Writes a whole file (manifest.json, summary.json, tracks.mot.txt) atomically. */
  put(name: string, body: string, contentType: string): Promise<void>;
  /** Writes a whole file from a stream of unknown length (preview.mp4), atomically. */
  upload(name: string, body: Readable, contentType: string): Promise<void>;
  /** Makes tracks.jsonl (and events.jsonl) complete and visible; called once, after the last append. */
  finish(): Promise<void>;
  /** Where the files are, for people (a directory path or an s3:// prefix). */
  readonly location: string;
  /** The file that lists the tracks (manifest.json's `files`); default tracks.jsonl. */
  readonly tracksIndex?: string;
  /** Streams (stream-output.ts): the time-based parts' write position, checkpointed beside tracksPartsWritten. */
  readonly timeParts?: TimePartsPosition;
  /** A checkpoint holding the current write position was saved (or none is kept): closed parts may be joined. */
  committed?(): void;
}

/** One time window of a stream's tracks.jsonl (stream-output.ts). */
export interface TimeWindowPosition {
  startMs: number;
  /** Numbered pieces written. */
  partsWritten: number;
  /** Lines and bytes in the pieces written. */
  lines: number;
  sizeBytes: number;
  /** When a line was last appended. */
  lastAtMs: number;
}

export interface TimePartsPosition {
  /** Pieces of the windows before the open one (tracksPartsWritten counts on from them). */
  base: number;
  /** The window lines are appended to; null before the first line. */
  current: TimeWindowPosition | null;
  /** Windows closed and not yet joined into their part. */
  closing: TimeWindowPosition[];
}

/** Where a restarted aggregator resumes a job's output: the checkpointed write position. */
export interface JobOutputResume {
  tracksPartsWritten: number;
  timeParts?: TimePartsPosition;
  /** events.jsonl's checkpointed write position (0 when absent). */
  eventsPartsWritten?: number;
}

/** How the job's output is laid out and what it writes besides tracks.jsonl. */
export interface JobOutputLayout {
  /** A stream's tracks.jsonl in time-based parts (job spec `stream`). */
  stream?: StreamOutput;
  /** events.jsonl: the job has zones or lines. */
  events?: boolean;
}

export type JobOutputFactory = (
  jobId: string,
  location: string,
  resume?: JobOutputResume,
  layout?: JobOutputLayout,
) => Promise<JobOutput>;
