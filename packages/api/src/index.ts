// @vdet/api: the HTTP API server.

export * from "./auth.ts";
export * from "./openapi.ts";
export * from "./results-routes.ts";
export * from "./server.ts";
