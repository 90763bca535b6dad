// Live roles by kind (api, producer, worker, aggregator), read from their heartbeats at scrape time: a
// deployment whose every worker died shows vdet_live_roles{kind="worker"} 0 at the next scrape.

import { Gauge } from "prom-client";
import { registry } from "./registry.ts";

/** Counts the live roles of each kind; called on every scrape. */
export type LiveRolesSource = () => Promise<Record<string, number>>;

const sources = new Set<LiveRolesSource>();

export const liveRoles = new Gauge({
  name: "vdet_live_roles",
  help: "Roles whose heartbeat is current, by kind (api, producer, worker, aggregator), read at scrape time",
  labelNames: ["kind"] as const,
  registers: [registry],
  async collect() {
    this.reset();
    for (const counts of await Promise.all([...sources].map((source) => source()))) {
      for (const [kind, value] of Object.entries(counts)) this.set({ kind }, value);
    }
  },
});

/** Reports live roles on every scrape until the returned function is called. */
export function watchLiveRoles(source: LiveRolesSource): () => void {
  sources.add(source);
  return () => {
    sources.delete(source);
  };
}
