#!/usr/bin/env node
// Container health check: GET /readyz of this container's role (the api's own port, else the health server's).
// Exit 0 when ready, 1 otherwise (Docker's HEALTHCHECK contract).
const role = process.env.VDET_ROLE ?? "api";
const port =
  role === "api" ? (process.env.VDET_API_PORT ?? "8080") : (process.env.VDET_HEALTH_PORT ?? "8081");
try {
  const response = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(4000) });
  if (!response.ok) {
    console.error(`vdet ${role}: /readyz answered ${response.status} ${await response.text()}`);
    process.exit(1);
  }
} catch (error) {
  console.error(`vdet ${role}: /readyz on port ${port} did not answer: ${error.message}`);
  process.exit(1);
}
