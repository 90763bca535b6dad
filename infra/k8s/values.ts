// The settings of the Kubernetes manifests (what a Helm chart's values.yaml would hold). `render.ts --values
// FILE.json` merges a JSON file over these defaults; `--gpu` switches the workers to the CUDA image and GPUs.

export interface Values {
  namespace: string;
  /** Image repository; tags app / worker-cpu / worker-cuda are appended as `<repository>:<tag>-<version>`. */
  image: { repository: string; version: string; pullPolicy: "Always" | "IfNotPresent" | "Never" };
  /** Non-secret settings, passed to every role through the ConfigMap (VDET_* variables, see README). */
  redis: { host: string; port: number; tls: boolean };
  s3: { endpoint?: string; region: string; forcePathStyle: boolean; outputBuckets: string[] };
  prefix: string;
  logLevel: string;
  /**
   * The Secret every role reads: keys `redis-password`, `api-token`, and optionally `aws-access-key-id`,
   * `aws-secret-access-key` (leave those out where pods get S3 access from their service account).
   * `values` set: the Secret is rendered too (for development; create it out of band in production).
   */
  secret: { name: string; values?: Record<string, string> };
  api: { replicas: number; resources: Resources };
  producer: { replicas: number; framesPerChunk: number; resources: Resources };
  aggregator: { resources: Resources };
  worker: {
    gpu: boolean;
    gpusPerWorker: number;
    maxBatch: number;
    /** φ loaded and latency-profiled at start-up (VDET_PRELOAD): the φ the deadline policy can choose from. */
    phis: string;
    threads?: number;
    weights?: string;
    resources: Resources;
    nodeSelector: Record<string, string>;
    /** KEDA: scale between these on `backlog.frames` of the api's /backlog (waiting frame chunks). */
    minReplicas: number;
    maxReplicas: number;
    /** Waiting frame chunks per worker that KEDA aims at. */
    targetBacklogPerWorker: number;
    pollingIntervalSeconds: number;
    cooldownSeconds: number;
    /** Longer than the role's 60 s drain limit: a stopping worker finishes and acknowledges its batch. */
    terminationGracePeriodSeconds: number;
  };
}

export interface Resources {
  requests: Record<string, string>;
  limits: Record<string, string>;
}

export const defaultValues: Values = {
  namespace: "vdet",
  image: { repository: "ghcr.io/example/vdet", version: "0.1.0", pullPolicy: "IfNotPresent" },
  redis: { host: "redis", port: 6379, tls: false },
  s3: { region: "us-east-1", forcePathStyle: false, outputBuckets: [] },
  prefix: "vdet",
  logLevel: "info",
  secret: { name: "vdet" },
  api: {
    replicas: 2,
    resources: { requests: { cpu: "250m", memory: "256Mi" }, limits: { memory: "512Mi" } },
  },
  producer: {
    replicas: 1,
    framesPerChunk: 4,
    resources: { requests: { cpu: "1", memory: "1Gi" }, limits: { memory: "2Gi" } },
  },
  aggregator: { resources: { requests: { cpu: "500m", memory: "512Mi" }, limits: { memory: "1Gi" } } },
  worker: {
    gpu: false,
    gpusPerWorker: 1,
    maxBatch: 4,
    phis: "0",
    resources: { requests: { cpu: "2", memory: "2Gi" }, limits: { memory: "4Gi" } },
    nodeSelector: {},
    minReplicas: 1,
    maxReplicas: 32,
    targetBacklogPerWorker: 8,
    pollingIntervalSeconds: 15,
    cooldownSeconds: 300,
    terminationGracePeriodSeconds: 90,
  },
};

/** The GPU flavour: CUDA image, one GPU per worker, GPU nodes, bigger batches. */
export const gpuValues: Values = {
  ...defaultValues,
  worker: {
    ...defaultValues.worker,
    gpu: true,
    maxBatch: 8,
    phis: "0,1,2,3",
    resources: { requests: { cpu: "2", memory: "4Gi" }, limits: { memory: "8Gi" } },
    nodeSelector: { "nvidia.com/gpu.present": "true" },
    targetBacklogPerWorker: 16,
  },
};

type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain => typeof v === "object" && v !== null && !Array.isArray(v);

/** Deep merge of JSON overrides (objects merge, everything else replaces). */
export function mergeValues<T>(base: T, overrides: unknown): T {
  if (!isPlain(base) || !isPlain(overrides)) return (overrides === undefined ? base : overrides) as T;
  const out: Plain = { ...base };
  for (const [key, value] of Object.entries(overrides)) out[key] = mergeValues((base as Plain)[key], value);
  return out as T;
}
