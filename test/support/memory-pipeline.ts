// The whole pipeline in this process over the in-memory transport, as the end-to-end tests start it: a job store,
// a producer, a worker with seeded weights (seed 0) and an aggregator that writes each job's output where its
// spec says. `close()` stops the stages, the models and the transport.

import { MemoryJobStore } from "@vdet/jobs";
import { seededWeightsDescription } from "@vdet/models";
import {
  createModelProvider,
  type ModelProvider,
  openJobOutput,
  type ProducerConfig,
  startAggregator,
  startProducer,
  startWorker,
} from "@vdet/pipeline";
import { createMemoryTransport } from "@vdet/transport";
import { closeInOrder } from "./close.ts";

export interface MemoryPipelineOptions {
  /** Wraps the seeded model provider (e.g. to record model metrics). */
  wrapModels?: (models: ModelProvider) => ModelProvider;
  maxBatch?: number;
  producer?: Omit<ProducerConfig, "transport" | "jobStore">;
  onJobFinished?: (id: string, state: string) => void;
}

export function startMemoryPipeline(options: MemoryPipelineOptions = {}) {
  const transport = createMemoryTransport();
  const jobStore = new MemoryJobStore();
  const seeded = createModelProvider({ seed: 0 });
  const models = options.wrapModels ? options.wrapModels(seeded) : seeded;
  const aggregator = startAggregator({
    transport,
    jobStore,
    openOutput: (_id, location) => openJobOutput(location),
    // What the worker below runs, for the manifest (and the job page): seeded, as a worker role says it.
    modelDescription: () => seededWeightsDescription(0),
    onJobFinished: options.onJobFinished,
  });
  const worker = startWorker({ transport, jobStore, models, maxBatch: options.maxBatch });
  const producer = startProducer({ transport, jobStore, ...options.producer });
  return {
    transport,
    jobStore,
    close: () => closeInOrder(producer, worker, aggregator, models, transport),
  };
}
