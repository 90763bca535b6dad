// A tiny HTTP server for roles without one of their own (producer, worker, aggregator): GET /metrics only.
// The api serves /metrics on its own Fastify server instead.

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { METRICS_CONTENT_TYPE, metricsText } from "./registry.ts";

export interface MetricsServer {
  /** e.g. http://127.0.0.1:9464 */
  url: string;
  close(): Promise<void>;
}

export function startMetricsServer(options: { port: number; host?: string }): Promise<MetricsServer> {
  const server = createServer((request, response) => {
    if (request.method !== "GET" || (request.url ?? "").split("?")[0] !== "/metrics") {
      response.writeHead(404, { "content-type": "text/plain" }).end("only GET /metrics is served here\n");
      return;
    }
    metricsText().then(
      (text) => response.writeHead(200, { "content-type": METRICS_CONTENT_TYPE }).end(text),
      (error: Error) => response.writeHead(500, { "content-type": "text/plain" }).end(`${error.message}\n`),
    );
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "0.0.0.0", () => {
      const { port } = server.address() as AddressInfo;
      const host = options.host && options.host !== "0.0.0.0" ? options.host : "127.0.0.1";
      resolve({
        url: `http://${host}:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
