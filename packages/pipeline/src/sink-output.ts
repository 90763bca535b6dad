// A job's output over a storage sink (S3 prefix or local directory): tracks.jsonl grows as numbered part objects
// and is joined into one object when the job finishes, so a reader never sees a half-written tracks.jsonl; the
// other files are single atomic writes.

import { type OpenSinkOptions, openSink, PartWriter, type Sink } from "@vdet/storage";
import type { JobOutput } from "./job-output.ts";

export async function openSinkOutput(sink: Sink): Promise<JobOutput> {
  const tracks = await PartWriter.open(sink, { key: "tracks.jsonl", contentType: "application/x-ndjson" });
  return {
    location: sink.uri,
    appendTracks: (text) => tracks.append(text),
    put: async (name, body, contentType) => {
      await sink.put(name, body, { contentType });
    },
    upload: (name, body, contentType) => sink.upload(name, body, { contentType }),
    finish: async () => {
      await tracks.finish();
    },
  };
}

/** Opens the output at `location` (s3://bucket/prefix or a directory). */
export async function openJobOutput(location: string, options: OpenSinkOptions = {}): Promise<JobOutput> {
  return openSinkOutput(await openSink(location, options));
}
