// Structured logs (pino), one JSON line per event, with the role in every line.

import { type Logger, pino } from "pino";

/** Logs to stdout (a role's output is its log), or to stderr for commands whose stdout is their result. */
export function createLogger(role: string, level: string, to: "stdout" | "stderr" = "stdout"): Logger {
  const options = { level, base: { role, pid: process.pid } };
  return to === "stdout" ? pino(options) : pino(options, pino.destination({ dest: 2, sync: true }));
}
