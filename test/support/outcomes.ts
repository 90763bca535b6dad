// What each fault or bad-input case observed, for the reliability table: tests record one entry per case, and
// when VDET_OUTCOMES_FILE is set the entries are appended to it as JSON lines (the table is generated from it).

import { appendFileSync } from "node:fs";

export interface Outcome {
  suite: string;
  category: string;
  case: string;
  /** What the system did, e.g. "HTTP 400: invalid job spec: …" or "job failed: …". */
  observed: string;
  /** The node:test name that tried the case, when the suite gives it. */
  test?: string;
}

export class OutcomeLog {
  readonly entries: Outcome[] = [];

  constructor(private readonly suite: string) {}

  add(category: string, name: string, observed: string, test?: string): void {
    const entry: Outcome = { suite: this.suite, category, case: name, observed: observed.slice(0, 400) };
    this.entries.push(test ? { ...entry, test } : entry);
  }

  /** Appends the entries to VDET_OUTCOMES_FILE, when set. */
  flush(): void {
    const file = process.env.VDET_OUTCOMES_FILE;
    if (!file || this.entries.length === 0) return;
    appendFileSync(file, this.entries.map((e) => `${JSON.stringify(e)}\n`).join(""));
  }
}
