// Queue depths, read from the queues at scrape time (not sampled in between), so a scrape always shows the
// backlog as it is: waiting, prioritized, active, delayed and failed messages per queue.

import { Gauge } from "prom-client";
import { registry } from "./registry.ts";

export const QUEUE_STATES = ["waiting", "prioritized", "active", "delayed", "failed"] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

export interface QueueDepth {
  queue: string;
  counts: Partial<Record<QueueState, number>>;
}

/** Reads the depth of some queues; called on every scrape. */
export type QueueDepthSource = () => Promise<QueueDepth[]>;

const sources = new Set<QueueDepthSource>();

export const queueMessages = new Gauge({
  name: "vdet_queue_messages",
  help: "Messages in each queue by state (waiting, prioritized, active, delayed, failed), read at scrape time",
  labelNames: ["queue", "state"] as const,
  registers: [registry],
  async collect() {
    this.reset();
    const all = await Promise.all([...sources].map((source) => source()));
    for (const { queue, counts } of all.flat()) {
      for (const state of QUEUE_STATES) {
        const value = counts[state];
        if (value !== undefined) this.set({ queue, state }, value);
      }
    }
  },
});

/** Reports these queues' depths on every scrape until the returned function is called. */
export function watchQueueDepths(source: QueueDepthSource): () => void {
  sources.add(source);
  return () => {
    sources.delete(source);
  };
}
