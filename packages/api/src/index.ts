// @vdet/api: the HTTP API server.
export * from "./server.ts";
