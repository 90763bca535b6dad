// @vdet/pipeline: the stages (producer, worker, aggregator) and local mode.
export * from "./aggregator.ts";
export * from "./aggregator-checkpoint.ts";
export * from "./error-codes.ts";
export * from "./frame-scheduler.ts";
export * from "./input-limits.ts";
export * from "./job-output.ts";
export * from "./labels.ts";
export * from "./letterbox.ts";
export * from "./local-run.ts";
export * from "./logger.ts";
export * from "./model-metrics.ts";
export * from "./models.ts";
export * from "./producer.ts";
export * from "./profiling.ts";
export * from "./sink-output.ts";
export * from "./worker.ts";
