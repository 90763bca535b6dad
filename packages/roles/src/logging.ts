// Structured logs (pino), one JSON line per event, with the role in every line.

import { type Logger, pino } from "pino";

export function createLogger(role: string, level: string): Logger {
  return pino({ level, base: { role, pid: process.pid } });
}
