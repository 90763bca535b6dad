// A lock file per download, so two pulls of the same model (two terminals, two workers sharing a cache) do not
// write one partial file at once. A lock left by a process that is gone (same host) is taken over.

import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { hostname } from "node:os";
import { InvariantError } from "@vdet/errors";
import { ModelInputError } from "./errors.ts";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by another user
  }
}

function readHolder(path: string): { pid?: number; host?: string } {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return {}; // unreadable or half-written: treated as held by an unknown process
  }
}

/** Takes the lock at `path` or throws naming the holder; returns the release function. */
export function acquireLock(path: string, what: string): () => Promise<void> {
  const me = JSON.stringify({ pid: process.pid, host: hostname() });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, me, { flag: "wx" });
      return () => rm(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const holder = readHolder(path);
    const stale = holder.host === hostname() && typeof holder.pid === "number" && !alive(holder.pid);
    if (!stale || attempt > 0) {
      throw new ModelInputError(
        `${what} is already in progress (process ${holder.pid ?? "?"} on ${holder.host ?? "?"}); wait for it to ` +
          `finish, or delete ${path} if that process is gone`,
      );
    }
    rmSync(path, { force: true }); // the holder is gone: take over (the exclusive create decides any race)
  }
  throw new InvariantError("unreachable");
}
