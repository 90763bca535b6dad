// Structured logs (pino), one JSON line per event, with the role in every line (once). On a terminal the same
// events are printed for people: time, level, role, message, then the fields as key=value.

import { writeSync } from "node:fs";
import { type Logger, pino } from "pino";

const LEVEL_NAMES: Record<number, string> = {
  10: "trace",
  20: "debug",
  30: "info",
  40: "warn",
  50: "error",
  60: "fatal",
};

/** One pino JSON line as a line for people: `12:00:01.234 warn  worker message  key=value …`. */
export function formatLogLine(line: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line);
  } catch {
    return line.endsWith("\n") ? line : `${line}\n`;
  }
  const { time, level, role, pid: _pid, hostname: _hostname, msg, ...fields } = record;
  const at = typeof time === "number" ? new Date(time).toISOString().slice(11, 23) : "";
  const name = LEVEL_NAMES[Number(level)] ?? String(level);
  const extras = Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
  return `${at} ${name.padEnd(5)} ${String(role ?? "")} ${String(msg ?? "")}${extras ? `  ${extras}` : ""}\n`;
}

/**
 * Logs to stdout (a role's output is its log), or to stderr for commands whose stdout is their result; JSON lines,
 * or lines for people when that stream is a terminal (`pretty` overrides).
 */
export function createLogger(
  role: string,
  level: string,
  to: "stdout" | "stderr" = "stdout",
  pretty: boolean = Boolean((to === "stdout" ? process.stdout : process.stderr).isTTY),
): Logger {
  const options = { level, base: { role, pid: process.pid } };
  const fd = to === "stdout" ? 1 : 2;
  if (pretty) return pino(options, { write: (line: string) => writeSync(fd, formatLogLine(line)) });
  return to === "stdout" ? pino(options) : pino(options, pino.destination({ dest: 2, sync: true }));
}
