// Stopping a role cleanly on SIGTERM/SIGINT: stop taking work, finish what is in hand, close connections.

import type { Logger } from "pino";
import type { RunningRole } from "./connections.ts";

/** Keeps a role running until SIGTERM or SIGINT, then closes it (a second signal exits at once). */
export function runUntilSignal(role: RunningRole, logger: Logger, graceMs = 60_000): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        logger.warn({ signal }, "second signal: exiting now");
        process.exit(1);
      }
      stopping = true;
      logger.info({ signal }, "stopping: finishing work in hand");
      const timer = setTimeout(() => {
        logger.error({ graceMs }, "shutdown took too long; exiting");
        process.exit(1);
      }, graceMs);
      timer.unref();
      role.close().then(
        () => {
          clearTimeout(timer);
          logger.info({}, "stopped");
          resolve();
        },
        (error: Error) => {
          logger.error({ err: error.message }, "error while stopping");
          process.exitCode = 1;
          resolve();
        },
      );
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
}
