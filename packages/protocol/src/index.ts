// @vdet/protocol: job specs, job state and the messages between pipeline stages, validated with zod.
export * from "./job-spec.ts";
export * from "./job-state.ts";
export * from "./messages.ts";
export * from "./model-labels.ts";
export * from "./phi.ts";
