// CPU hogs for the benchmarks that measure a machine other work keeps busy (phi's overload run, spinning).

import { type ChildProcess, spawn } from "node:child_process";

/** Starts `n` child processes spinning a busy loop; kill them when done. */
export function startHogs(n: number): ChildProcess[] {
  return Array.from({ length: n }, () => spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }));
}
