// What each fault or bad-input case observed, for the reliability table: tests record one entry per case, and
// when VDET_OUTCOMES_FILE is set the entries are appended to it as JSON lines (the table is generated from it).

import { appendFileSync } from "node:fs";

export interface Outcome {
  suite: string;
  category: string;
  case: string;
  /** What the system did, e.g. "HTTP 400: invalid job spec: …" or "job failed: …". */
  observed: string;
}

export class OutcomeLog {
  readonly entries: Outcome[] = [];

  constructor(private readonly suite: string) {}

  add(category: string, name: string, observed: string): void {
    this.entries.push({ suite: this.suite, category, case: name, observed: observed.slice(0, 400) });
  }

  /** Appends the entries to VDET_OUTCOMES_FILE, when set. */
  flush(): void {
    const file = process.env.VDET_OUTCOMES_FILE;
    if (!file || this.entries.length === 0) return;
    appendFileSync(file, this.entries.map((e) => `${JSON.stringify(e)}\n`).join(""));
  }
}
