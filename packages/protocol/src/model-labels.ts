// What model each φ of a deployment runs and what its class ids are called. Workers publish one entry per φ at
// start-up (they alone hold the weights); the api, producer and aggregator read them to turn class names into ids
// and ids into names.

import { z } from "zod";

export const modelLabelsSchema = z
  .object({
    /** What runs: a cached model's name, a checkpoint or ONNX path, or "untrained (seeded, seed N)". */
    weights: z.string().max(4096),
    /** Where the names come from: "COCO", or the cached model whose manifest lists them. */
    source: z.string().max(256),
    /** labels[k] names class id k + 1 (the id in detections). */
    labels: z.array(z.string().max(256)).max(100_000),
  })
  .strict();
export type ModelLabels = z.infer<typeof modelLabelsSchema>;
