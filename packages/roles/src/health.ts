// A tiny HTTP health server for the roles that have no HTTP API of their own (producer, worker, aggregator), so
// container orchestrators can probe them: /healthz answers while the process runs, /readyz while the role's Redis
// connection answers and the role is not shutting down. Off unless VDET_HEALTH_PORT is set.

import { createServer, type Server } from "node:http";

export interface HealthTarget {
  /** Resolves when the role can do work (its dependencies answer); rejects with the reason otherwise. */
  ready?: () => Promise<void>;
}

export interface HealthServer {
  readonly port: number;
  /** From now on /readyz answers 503 (the role is draining). */
  markStopping(): void;
  close(): Promise<void>;
}

export async function startHealthServer(
  target: HealthTarget,
  port: number,
  host = "0.0.0.0",
): Promise<HealthServer> {
  let stopping = false;
  const server: Server = createServer((request, response) => {
    const reply = (status: number, body: unknown) => {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify(body));
    };
    if (request.url === "/healthz") return reply(200, { ok: true });
    if (request.url !== "/readyz") return reply(404, { error: "only /healthz and /readyz are served here" });
    if (stopping) return reply(503, { ready: false, error: "stopping" });
    (target.ready?.() ?? Promise.resolve()).then(
      () => reply(200, { ready: true }),
      (error: Error) => reply(503, { ready: false, error: error.message }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : port,
    markStopping: () => {
      stopping = true;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
