// The HTTP API as the end-to-end tests start it for one machine: local file inputs and directory outputs
// allowed, everything else as the caller gives it (transport, job store, token, limits).

import { type ApiConfig, buildServer } from "@vdet/api";

export function buildLocalApi(config: Omit<ApiConfig, "allowFileInputs" | "allowDirectoryOutputs">) {
  return buildServer({ ...config, allowFileInputs: true, allowDirectoryOutputs: true });
}
