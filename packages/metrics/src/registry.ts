// The process-wide Prometheus registry every vdet metric lives in, and the text a /metrics endpoint serves.
// One registry per process: in local mode (`vdet run`, tests) every stage shares it, as they share the process.

import { collectDefaultMetrics, Registry } from "prom-client";

export const registry = new Registry();

let processMetricsOn = false;

/** Adds prom-client's process metrics (memory, CPU, event-loop lag, GC); once per process. */
export function enableProcessMetrics(): void {
  if (processMetricsOn) return;
  processMetricsOn = true;
  collectDefaultMetrics({ register: registry });
}

export const METRICS_CONTENT_TYPE = registry.contentType;

/** The registry in Prometheus's text format (runs the scrape-time collectors, e.g. queue depths). */
export function metricsText(): Promise<string> {
  return registry.metrics();
}
