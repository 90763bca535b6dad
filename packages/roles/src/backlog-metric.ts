// Publishes the frame backlog per worker to CloudWatch, for autoscaling workers where no KEDA runs (AWS ECS: a
// target-tracking policy on vdet/FramesBacklogPerWorker). The api runs it when VDET_CLOUDWATCH_NAMESPACE is set.
// Backlog per worker = waiting segments and frame chunks ÷ connected workers (at least 1, so an empty fleet still
// scales out).

import {
  CloudWatchClient,
  PutMetricDataCommand,
  type PutMetricDataCommandInput,
} from "@aws-sdk/client-cloudwatch";
import { type Transport, workerBacklog } from "@vdet/transport";
import type { Logger } from "pino";

export const BACKLOG_PER_WORKER_METRIC = "FramesBacklogPerWorker";

export interface BacklogSample {
  /** Segments and frame chunks waiting (BullMQ wait list + prioritized set): workerBacklog. */
  waitingChunks: number;
  workers: number;
  backlogPerWorker: number;
}

export async function sampleBacklog(transport: Transport): Promise<BacklogSample> {
  const { waiting, workers } = await workerBacklog(transport);
  return { waitingChunks: waiting, workers, backlogPerWorker: waiting / Math.max(1, workers) };
}

/** The PutMetricData request for one sample; `deployment` (the key prefix) is the metrics' only dimension. */
export function backlogMetricData(
  sample: BacklogSample,
  namespace: string,
  deployment: string,
  at: Date,
): PutMetricDataCommandInput {
  const dimensions = [{ Name: "Deployment", Value: deployment }];
  const datum = (name: string, value: number) => ({
    MetricName: name,
    Dimensions: dimensions,
    Timestamp: at,
    Value: value,
    Unit: "Count" as const,
  });
  return {
    Namespace: namespace,
    MetricData: [
      datum(BACKLOG_PER_WORKER_METRIC, sample.backlogPerWorker),
      datum("FramesBacklog", sample.waitingChunks),
      datum("Workers", sample.workers),
    ],
  };
}

export interface BacklogPublisherOptions {
  transport: Transport;
  namespace: string;
  deployment: string;
  intervalMs: number;
  logger: Logger;
  /** Sends one request; by default a CloudWatch client with the SDK's default credentials and region. */
  send?: (input: PutMetricDataCommandInput) => Promise<unknown>;
}

/** Samples and publishes every intervalMs until stopped; a failed round is logged, the next one tries again. */
export function startBacklogPublisher(options: BacklogPublisherOptions): { close(): Promise<void> } {
  let send = options.send;
  let client: CloudWatchClient | undefined;
  if (!send) {
    client = new CloudWatchClient({});
    const c = client;
    send = (input) => c.send(new PutMetricDataCommand(input));
  }
  let inFlight: Promise<void> = Promise.resolve();
  const round = async () => {
    try {
      const sample = await sampleBacklog(options.transport);
      await send(backlogMetricData(sample, options.namespace, options.deployment, new Date()));
      options.logger.debug({ ...sample }, "backlog metric published");
    } catch (error) {
      options.logger.warn({ err: (error as Error).message }, "could not publish the backlog metric");
    }
  };
  const timer = setInterval(() => {
    inFlight = round();
  }, options.intervalMs);
  inFlight = round();
  return {
    close: async () => {
      clearInterval(timer);
      await inFlight;
      client?.destroy();
    },
  };
}
