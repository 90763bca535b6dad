// bull-board, the queue admin UI, under /admin/queues: the BullMQ queues of the Redis transport (none in
// memory). It sits behind the same authentication as the API (see auth.ts). It is self-contained: the link to a
// third-party font host in bull-board's page is removed (the page falls back to the system's fonts), and a
// Content-Security-Policy lets the browser load nothing from anywhere but this server.

import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { FastifyAdapter } from "@bull-board/fastify";
import type { Queue } from "bullmq";
import type { FastifyInstance } from "fastify";

export const ADMIN_PATH = "/admin/queues";

/** Everything from this server only (inline style attributes are bull-board's own markup). */
export const ADMIN_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'";

/** Drops <link> elements that load from another host (bull-board's Google Fonts stylesheet). */
export function stripExternalLinks(html: string): string {
  return html.replace(/<link\b[^>]*\bhref="(?:https?:)?\/\/[^"]*"[^>]*>\s*/gi, "");
}

export async function registerQueueAdmin(app: FastifyInstance, queues: readonly Queue[]): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  // The partitions of a partitioned queue (Redis Cluster) share its name: each after the first is shown as
  // `<partition>:<name>`, so that the board can tell them apart.
  const seen = new Map<string, number>();
  const adapters = queues.map((q) => {
    const partition = seen.get(q.name) ?? 0;
    seen.set(q.name, partition + 1);
    return new BullMQAdapter(q, partition === 0 ? {} : { prefix: `${partition}:` });
  });
  createBullBoard({ queues: adapters, serverAdapter });
  serverAdapter.setBasePath(ADMIN_PATH);
  await app.register(
    async (scope) => {
      scope.addHook("onSend", async (_request, reply, payload) => {
        reply.header("content-security-policy", ADMIN_CSP);
        const type = String(reply.getHeader("content-type") ?? "");
        return typeof payload === "string" && type.startsWith("text/html")
          ? stripExternalLinks(payload)
          : payload;
      });
      await scope.register(serverAdapter.registerPlugin());
    },
    { prefix: ADMIN_PATH },
  );
}
