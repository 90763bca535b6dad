// @vdet/metrics: Prometheus metrics of every role (prom-client): metric objects, queue depths, /metrics server.
export * from "./pipeline-metrics.ts";
export * from "./queue-depths.ts";
export * from "./registry.ts";
export * from "./server.ts";
