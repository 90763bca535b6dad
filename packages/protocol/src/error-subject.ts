// What a job error is about, in the user's terms: the stage that recorded it (an internal role name) mapped to the
// thing the user controls. The CLI and the job page print errors with this, never the role name.

/** The user-facing subject of each pipeline stage's errors. */
export const ERROR_SUBJECTS = {
  producer: "input",
  worker: "model",
  aggregator: "output",
  api: "request",
} as const satisfies Record<string, string>;

/** "input", "model", "output"…; a stage not listed is shown as it is. */
export function errorSubject(stage: string): string {
  return (ERROR_SUBJECTS as Record<string, string>)[stage] ?? stage;
}

/** One error as people read it: `input: video file does not exist …`. */
export function describeJobError(error: { stage: string; message: string }): string {
  return `${errorSubject(error.stage)}: ${error.message}`;
}
