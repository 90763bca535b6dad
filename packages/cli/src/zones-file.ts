// `--zones zones.json` (vdet run, submit, analyze, render): the file read and validated here, before anything
// starts, with every problem named (the schema is @vdet/analytics'; the job spec embeds the same one).

import { readFileSync } from "node:fs";
import { parseZonesFile, type ZonesFile } from "@vdet/analytics";
import { InvalidArgumentError } from "commander";

/** Reads and validates a zones file; a missing file, bad JSON or a bad shape is an InvalidArgumentError. */
export function readZonesFile(path: string): ZonesFile {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new InvalidArgumentError(`--zones ${path}: ${(error as Error).message}`);
  }
  return parseZonesFile(json, path);
}
