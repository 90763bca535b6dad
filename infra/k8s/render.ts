// Renders the vdet Kubernetes manifests (Deployments per role, the api Service, KEDA ScaledObject on the frame
// backlog, PodDisruptionBudgets, ConfigMap, optional Secret) from Values. Neither Helm nor kustomize is packaged
// by Debian, so this small renderer stands in for a chart; `rendered/` holds its output for kubectl apply.
//   node --import tsx infra/k8s/render.ts [--gpu] [--values overrides.json] > vdet.yaml

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { defaultValues, gpuValues, mergeValues, type Resources, type Values } from "./values.ts";

export type Manifest = { apiVersion: string; kind: string; metadata: Record<string, unknown> } & Record<
  string,
  unknown
>;

type Role = "api" | "producer" | "worker" | "aggregator";
const API_PORT = 8080;
const HEALTH_PORT = 8081;
/** The api's backlog endpoint and the field KEDA reads from it (the api sums BullMQ's wait list and prioritized set). */
export const BACKLOG_PATH = "/backlog";
export const BACKLOG_VALUE_LOCATION = "backlog.frames";

const labels = (role: Role) => ({
  "app.kubernetes.io/name": "vdet",
  "app.kubernetes.io/component": role,
});

function image(v: Values, role: Role): string {
  const flavour = role !== "worker" ? "app" : v.worker.gpu ? "worker-cuda" : "worker-cpu";
  return `${v.image.repository}:${flavour}-${v.image.version}`;
}

function secretEnv(v: Values, name: string, key: string, optional: boolean) {
  return { name, valueFrom: { secretKeyRef: { name: v.secret.name, key, optional } } };
}

function container(v: Values, role: Role, resources: Resources, extraEnv: Record<string, string> = {}) {
  const port = role === "api" ? API_PORT : HEALTH_PORT;
  const probe = (path: string, periodSeconds: number, failureThreshold: number) => ({
    httpGet: { path, port: "http" },
    periodSeconds,
    timeoutSeconds: 5,
    failureThreshold,
  });
  return {
    name: role,
    image: image(v, role),
    imagePullPolicy: v.image.pullPolicy,
    args: [role],
    ports: [{ name: "http", containerPort: port }],
    envFrom: [{ configMapRef: { name: "vdet-config" } }],
    env: [
      secretEnv(v, "VDET_REDIS_PASSWORD", "redis-password", true),
      ...(role === "api" ? [secretEnv(v, "VDET_API_TOKEN", "api-token", false)] : []),
      ...(role === "worker"
        ? []
        : [
            secretEnv(v, "AWS_ACCESS_KEY_ID", "aws-access-key-id", true),
            secretEnv(v, "AWS_SECRET_ACCESS_KEY", "aws-secret-access-key", true),
          ]),
      ...Object.entries(extraEnv).map(([name, value]) => ({ name, value })),
    ],
    resources: {
      requests: resources.requests,
      limits:
        role === "worker" && v.worker.gpu
          ? { ...resources.limits, "nvidia.com/gpu": String(v.worker.gpusPerWorker) }
          : resources.limits,
    },
    // Model loading (worker) happens before the health server answers: the startup probe allows 5 minutes.
    startupProbe: probe("/healthz", 5, 60),
    livenessProbe: probe("/healthz", 20, 3),
    readinessProbe: probe("/readyz", 10, 3),
    securityContext: {
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    },
    // tsx compiles to a cache under /tmp; the root filesystem stays read-only.
    volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
  };
}

function deployment(
  v: Values,
  role: Role,
  replicas: number | undefined,
  podSpec: Record<string, unknown>,
  strategy: "RollingUpdate" | "Recreate" = "RollingUpdate",
): Manifest {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: `vdet-${role}`, namespace: v.namespace, labels: labels(role) },
    spec: {
      ...(replicas === undefined ? {} : { replicas }),
      strategy: { type: strategy },
      selector: { matchLabels: labels(role) },
      template: {
        metadata: { labels: labels(role) },
        spec: {
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
          volumes: [{ name: "tmp", emptyDir: {} }],
          ...podSpec,
        },
      },
    },
  };
}

function pdb(v: Values, role: Role, maxUnavailable: string | number): Manifest {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: { name: `vdet-${role}`, namespace: v.namespace, labels: labels(role) },
    spec: { maxUnavailable, selector: { matchLabels: labels(role) } },
  };
}

export function renderManifests(v: Values): Manifest[] {
  const config: Record<string, string> = {
    VDET_PREFIX: v.prefix,
    VDET_LOG_LEVEL: v.logLevel,
    VDET_REDIS_HOST: v.redis.host,
    VDET_REDIS_PORT: String(v.redis.port),
    VDET_REDIS_TLS: String(v.redis.tls),
    VDET_HEALTH_PORT: String(HEALTH_PORT),
    AWS_REGION: v.s3.region,
    VDET_S3_FORCE_PATH_STYLE: String(v.s3.forcePathStyle),
    ...(v.s3.endpoint ? { VDET_S3_ENDPOINT: v.s3.endpoint } : {}),
    ...(v.s3.outputBuckets.length > 0 ? { VDET_OUTPUT_BUCKETS: v.s3.outputBuckets.join(",") } : {}),
  };
  const w = v.worker;
  const apiUrl = `http://vdet-api.${v.namespace}.svc.cluster.local:${API_PORT}${BACKLOG_PATH}`;
  const out: Manifest[] = [
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "vdet-config", namespace: v.namespace, labels: { "app.kubernetes.io/name": "vdet" } },
      data: config,
    },
  ];
  if (v.secret.values) {
    out.push({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: v.secret.name, namespace: v.namespace, labels: { "app.kubernetes.io/name": "vdet" } },
      type: "Opaque",
      stringData: v.secret.values,
    });
  }
  out.push(
    deployment(v, "api", v.api.replicas, {
      terminationGracePeriodSeconds: 30,
      containers: [container(v, "api", v.api.resources)],
    }),
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "vdet-api", namespace: v.namespace, labels: labels("api") },
      spec: { selector: labels("api"), ports: [{ name: "http", port: API_PORT, targetPort: "http" }] },
    },
    pdb(v, "api", 1),
    deployment(v, "producer", v.producer.replicas, {
      terminationGracePeriodSeconds: 90,
      containers: [
        container(v, "producer", v.producer.resources, {
          VDET_FRAMES_PER_CHUNK: String(v.producer.framesPerChunk),
        }),
      ],
    }),
    // One aggregator: it holds the per-job reorder buffers; Recreate never runs two at once.
    deployment(
      v,
      "aggregator",
      1,
      { terminationGracePeriodSeconds: 90, containers: [container(v, "aggregator", v.aggregator.resources)] },
      "Recreate",
    ),
    // No replicas field: KEDA's HPA owns the worker count.
    deployment(v, "worker", undefined, {
      terminationGracePeriodSeconds: w.terminationGracePeriodSeconds,
      ...(Object.keys(w.nodeSelector).length > 0 ? { nodeSelector: w.nodeSelector } : {}),
      ...(w.gpu
        ? { tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }] }
        : {}),
      containers: [
        container(v, "worker", w.resources, {
          VDET_EP: w.gpu ? "cuda" : "cpu",
          VDET_MAX_BATCH: String(w.maxBatch),
          VDET_PRELOAD: w.phis,
          ...(w.threads ? { VDET_THREADS: String(w.threads) } : {}),
          ...(w.weights ? { VDET_WEIGHTS: w.weights } : {}),
        }),
      ],
    }),
    pdb(v, "worker", "25%"),
    {
      apiVersion: "keda.sh/v1alpha1",
      kind: "TriggerAuthentication",
      metadata: { name: "vdet-api-token", namespace: v.namespace, labels: labels("worker") },
      spec: { secretTargetRef: [{ parameter: "token", name: v.secret.name, key: "api-token" }] },
    },
    {
      apiVersion: "keda.sh/v1alpha1",
      kind: "ScaledObject",
      metadata: { name: "vdet-worker", namespace: v.namespace, labels: labels("worker") },
      spec: {
        scaleTargetRef: { name: "vdet-worker" },
        minReplicaCount: w.minReplicas,
        maxReplicaCount: w.maxReplicas,
        pollingInterval: w.pollingIntervalSeconds,
        cooldownPeriod: w.cooldownSeconds,
        advanced: {
          horizontalPodAutoscalerConfig: {
            behavior: {
              scaleDown: {
                stabilizationWindowSeconds: w.cooldownSeconds,
                policies: [{ type: "Percent", value: 25, periodSeconds: 60 }],
              },
            },
          },
        },
        triggers: [
          {
            // BullMQ keeps waiting messages in two keys (<prefix>:frames:wait, a list, and
            // <prefix>:frames:prioritized, a sorted set); KEDA's redis scaler reads one key and takes the
            // maximum over triggers, so the api sums both and KEDA reads the sum over HTTP.
            type: "metrics-api",
            metricType: "AverageValue",
            metadata: {
              url: apiUrl,
              valueLocation: BACKLOG_VALUE_LOCATION,
              targetValue: String(w.targetBacklogPerWorker),
              activationTargetValue: "0",
              authMode: "bearer",
            },
            authenticationRef: { name: "vdet-api-token" },
          },
        ],
      },
    },
  );
  return out;
}

export function toYaml(manifests: Manifest[]): string {
  return manifests.map((m) => stringify(m, { lineWidth: 0 })).join("---\n");
}

export function valuesFromArgs(args: string[]): Values {
  let values = args.includes("--gpu") ? gpuValues : defaultValues;
  const file = args[args.indexOf("--values") + 1];
  if (args.includes("--values")) values = mergeValues(values, JSON.parse(readFileSync(file, "utf8")));
  return values;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(toYaml(renderManifests(valuesFromArgs(process.argv.slice(2)))));
}
