// @vdet/roles: configuration and start-up of the long-running roles, shared by services/* and the CLI.
export * from "./backlog-metric.ts";
export * from "./config.ts";
export * from "./health.ts";
export * from "./logging.ts";
export * from "./serve.ts";
export * from "./start.ts";
