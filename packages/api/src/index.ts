// @vdet/api: the HTTP API server.

export { installAuth, SESSION_COOKIE, sessionValue } from "./auth.ts";
export { jsonSchema, registerDocs } from "./openapi.ts";
export {
  type ResultsOptions,
  registerResultsRoutes,
  type VideoSource,
  videoContentType,
} from "./results-routes.ts";
export { type ApiConfig, buildServer } from "./server.ts";
