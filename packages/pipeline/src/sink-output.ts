// A job's output over a storage sink (S3 prefix or local directory): tracks.jsonl grows as numbered part objects
// and is joined into one object when the job finishes, so a reader never sees a half-written tracks.jsonl; the
// other files are single atomic writes.

import { InvariantError } from "@vdet/errors";
import { type OpenSinkOptions, openSink, PartWriter, type Sink } from "@vdet/storage";
import type { JobOutput, JobOutputLayout, JobOutputResume } from "./job-output.ts";
import { openStreamOutput } from "./stream-output.ts";

export interface SinkOutputOptions {
  /** A restarted aggregator's checkpoint; parts written after it are removed and written again. */
  resume?: JobOutputResume;
  /** tracks.jsonl is written in parts of about this size (default 1 MiB). */
  tracksPartBytes?: number;
  /** The layout: a stream's tracks.jsonl in time-based parts (stream-output.ts); events.jsonl for zones. */
  layout?: JobOutputLayout;
}

export async function openSinkOutput(sink: Sink, options: SinkOutputOptions = {}): Promise<JobOutput> {
  const events = options.layout?.events
    ? await PartWriter.open(sink, {
        key: "events.jsonl",
        contentType: "application/x-ndjson",
        partsWritten: options.resume?.eventsPartsWritten ?? 0,
        partSizeBytes: options.tracksPartBytes,
      })
    : null;
  const noEvents = (): never => {
    throw new InvariantError(`${sink.uri}: events.jsonl appended to an output opened without events`);
  };
  const eventMembers = {
    appendEvents: async (text: string) => (events ?? noEvents()).append(text),
    get eventsPartsWritten() {
      return events?.partsWritten ?? 0;
    },
    flushEvents: async () => (events ? events.flush() : 0),
  };
  const stream = options.layout?.stream;
  if (stream) {
    // A stream's events.jsonl is one growing object beside the time-based tracks parts (docs/live.md).
    const output = await openStreamOutput(sink, {
      partMinutes: stream.partMinutes,
      resume: options.resume?.timeParts,
      pieceBytes: options.tracksPartBytes,
    });
    const finishTracks = output.finish;
    return Object.defineProperties(output as JobOutput, {
      ...Object.getOwnPropertyDescriptors(eventMembers),
      finish: {
        value: async () => {
          await finishTracks();
          await events?.finish();
        },
      },
    });
  }
  const tracks = await PartWriter.open(sink, {
    key: "tracks.jsonl",
    contentType: "application/x-ndjson",
    partsWritten: options.resume?.tracksPartsWritten ?? 0,
    partSizeBytes: options.tracksPartBytes,
  });
  return {
    location: sink.uri,
    appendTracks: (text) => tracks.append(text),
    appendEvents: async (text) => (events ?? noEvents()).append(text),
    get eventsPartsWritten() {
      return events?.partsWritten ?? 0;
    },
    flushEvents: async () => (events ? events.flush() : 0),
    get tracksPartsWritten() {
      return tracks.partsWritten;
    },
    flushTracks: () => tracks.flush(),
    put: async (name, body, contentType) => {
      await sink.put(name, body, { contentType });
    },
    upload: (name, body, contentType) => sink.upload(name, body, { contentType }),
    finish: async () => {
      await tracks.finish();
      await events?.finish();
    },
  };
}

/** Opens the output at `location` (s3://bucket/prefix or a directory). */
export async function openJobOutput(
  location: string,
  options: OpenSinkOptions = {},
  output: SinkOutputOptions = {},
): Promise<JobOutput> {
  return openSinkOutput(await openSink(location, options), output);
}
