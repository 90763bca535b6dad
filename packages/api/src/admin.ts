// bull-board, the queue admin UI, under /admin/queues: the BullMQ queues of the Redis transport (none in
// memory). It sits behind the same authentication as the API (see auth.ts).

import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { FastifyAdapter } from "@bull-board/fastify";
import type { Queue } from "bullmq";
import type { FastifyInstance } from "fastify";

export const ADMIN_PATH = "/admin/queues";

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
  await app.register(serverAdapter.registerPlugin(), { prefix: ADMIN_PATH });
}
