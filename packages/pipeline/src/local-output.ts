// A job's output in a local directory: tracks.jsonl is appended as `tracks.jsonl.partial` and renamed when the
// job finishes, so a complete tracks.jsonl is never half-written; other files are written to a temporary name
// and renamed.

import { appendFile, mkdir, open, rename } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { JobOutput } from "./job-output.ts";

async function writeAtomic(path: string, body: string): Promise<void> {
  const temp = `${path}.tmp-${process.pid}`;
  const handle = await open(temp, "w");
  try {
    await handle.writeFile(body);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
}

export async function openLocalOutput(directory: string): Promise<JobOutput> {
  const root = resolve(directory);
  await mkdir(root, { recursive: true });
  const partial = join(root, "tracks.jsonl.partial");
  await writeAtomic(partial, "");
  return {
    location: root,
    appendTracks: (text) => appendFile(partial, text),
    put: (name, body) => writeAtomic(join(root, name), body),
    finish: () => rename(partial, join(root, "tracks.jsonl")),
  };
}
