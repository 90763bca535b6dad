// The Kubernetes manifests: rendered output is current, every object validates against the Kubernetes and KEDA
// JSON schemas (kubernetes-models), the wiring holds together, and the backlog KEDA reads is the real one.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { ScaledObject, TriggerAuthentication } from "@kubernetes-models/keda/keda.sh/v1alpha1";
import { buildServer } from "@vdet/api";
import { MemoryJobStore } from "@vdet/pipeline";
import type { FrameChunk } from "@vdet/protocol";
import { createRedisTransport, deleteKeysWithPrefix, redisOptionsFromUrl } from "@vdet/transport";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { Deployment } from "kubernetes-models/apps/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ConfigMap, Secret, Service } from "kubernetes-models/v1";
import { parseAllDocuments } from "yaml";
import { BACKLOG_VALUE_LOCATION, type Manifest, renderManifests, toYaml, valuesFromArgs } from "./render.ts";
import { defaultValues, gpuValues, mergeValues, type Values } from "./values.ts";

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML/JSON documents, checked field by field below
type Json = any;

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
export function validateManifest(m: Manifest): void {
  const Model = MODELS[`${m.apiVersion}/${m.kind}`];
  if (!Model) throw new Error(`no schema for ${m.apiVersion} ${m.kind}`);
  try {
    new Model(m as never).validate();
  } catch (error) {
    throw new Error(`${m.kind} ${m.metadata.name}: ${(error as Error).message}`);
  }
}

const readRendered = (name: string): Manifest[] =>
  parseAllDocuments(readFileSync(new URL(`rendered/${name}`, import.meta.url), "utf8")).map(
    (d) => d.toJSON() as Manifest,
  );

const find = (ms: Manifest[], kind: string, name: string) => {
  const m = ms.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(m, `${kind} ${name} is rendered`);
  return m as Manifest & { spec: Record<string, Json> };
};

const withSecret: Values = mergeValues(defaultValues, {
  secret: { values: { "redis-password": "abc", "api-token": "t".repeat(32) } },
  s3: { endpoint: "http://minio:9000", forcePathStyle: true, outputBuckets: ["out"] },
});

describe("kubernetes manifests", () => {
  test("rendered/ is what render.ts produces now (re-render after changing values or render.ts)", () => {
    for (const [file, args] of [
      ["vdet-cpu.yaml", []],
      ["vdet-gpu.yaml", ["--gpu"]],
    ] as const) {
      const fresh = toYaml(renderManifests(valuesFromArgs([...args])));
      const committed = readFileSync(new URL(`rendered/${file}`, import.meta.url), "utf8");
      assert.equal(
        committed,
        fresh,
        `infra/k8s/rendered/${file} is stale: re-render with node --import tsx infra/k8s/render.ts${args.length ? " --gpu" : ""} > infra/k8s/rendered/${file}`,
      );
    }
  });

  test("every object validates against the Kubernetes and KEDA schemas", () => {
    const all = [
      ...readRendered("vdet-cpu.yaml"),
      ...readRendered("vdet-gpu.yaml"),
      ...renderManifests(withSecret),
    ];
    for (const m of all) validateManifest(m);
    assert.ok(all.some((m) => m.kind === "ScaledObject") && all.some((m) => m.kind === "Secret"));
  });

  test("the validation rejects a broken object (the check can fail)", () => {
    const ms = renderManifests(defaultValues);
    const worker = structuredClone(find(ms, "Deployment", "vdet-worker"));
    worker.spec.template.spec.containers[0].readinessProbe.httpGet = { path: "/readyz" }; // no port
    assert.throws(() => validateManifest(worker), /port/);
    const scaled = structuredClone(find(ms, "ScaledObject", "vdet-worker"));
    delete scaled.spec.triggers[0].type;
    assert.throws(() => validateManifest(scaled), /type/);
  });

  for (const [flavour, values] of [
    ["cpu", defaultValues],
    ["gpu", gpuValues],
  ] as const) {
    test(`${flavour}: roles, probes, drain time, PDBs and scaling are wired together`, () => {
      const ms = renderManifests(values);
      for (const role of ["api", "producer", "worker", "aggregator"]) {
        const d = find(ms, "Deployment", `vdet-${role}`);
        const pod = d.spec.template.spec;
        const c = pod.containers[0];
        assert.deepEqual(c.args, [role]);
        assert.equal(c.readinessProbe.httpGet.path, "/readyz");
        assert.equal(c.livenessProbe.httpGet.path, "/healthz");
        assert.equal(c.ports[0].containerPort, role === "api" ? 8080 : 8081);
        assert.equal(pod.securityContext.runAsNonRoot, true);
        // Every secret a container reads comes from the one Secret; only optional keys may be missing.
        for (const e of c.env.filter((x: Json) => x.valueFrom)) {
          assert.equal(e.valueFrom.secretKeyRef.name, values.secret.name);
        }
        assert.ok(c.envFrom.some((x: Json) => x.configMapRef?.name === "vdet-config"));
        if (role !== "api") {
          // Longer than runUntilSignal's 60 s drain, so the role ends by itself, not by SIGKILL.
          assert.ok(pod.terminationGracePeriodSeconds > 60, `${role} grace period`);
        }
      }
      const config = find(ms, "ConfigMap", "vdet-config");
      assert.equal((config as Json).data.VDET_HEALTH_PORT, "8081");

      const worker = find(ms, "Deployment", "vdet-worker");
      assert.equal(worker.spec.replicas, undefined, "KEDA owns the worker count");
      const limits = worker.spec.template.spec.containers[0].resources.limits;
      assert.equal(limits["nvidia.com/gpu"], flavour === "gpu" ? "1" : undefined);
      assert.match(
        worker.spec.template.spec.containers[0].image,
        flavour === "gpu" ? /worker-cuda/ : /worker-cpu/,
      );

      for (const role of ["api", "worker"]) {
        const budget = find(ms, "PodDisruptionBudget", `vdet-${role}`);
        assert.deepEqual(
          budget.spec.selector.matchLabels,
          find(ms, "Deployment", `vdet-${role}`).spec.template.metadata.labels,
        );
      }
      const scaled = find(ms, "ScaledObject", "vdet-worker");
      assert.equal(scaled.spec.scaleTargetRef.name, worker.metadata.name);
      const trigger = scaled.spec.triggers[0];
      find(ms, "TriggerAuthentication", trigger.authenticationRef.name);
      const service = find(ms, "Service", "vdet-api");
      assert.ok(trigger.metadata.url.startsWith(`http://${service.metadata.name}.${values.namespace}.svc`));
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

  const chunk = (n: number, priority: number): FrameChunk => ({
    jobId: "j_keda",
    chunk: n,
    frames: [{ index: n, ptsMs: n * 200, key: `frame:j_keda/${n}` }],
    size: 512,
    letterbox: { sourceWidth: 1280, sourceHeight: 720, contentWidth: 512, contentHeight: 288 },
    phi: { min: 0, max: 0 },
    mode: "archive",
    scoreThreshold: 0.3,
    priority,
    enqueuedAtMs: Date.now(),
  });

  test("is the frames queue's wait list plus its prioritized set, read where the ScaledObject says", async () => {
    // Through vdet's transport (every message carries a priority) and straight through BullMQ without one,
    // so both of BullMQ's waiting keys hold messages.
    for (let i = 0; i < 5; i++) await transport.frames.add(chunk(i, 1 + (i % 10)), { id: `p-${i}` });
    const plain = new Queue("frames", { connection: redisOptionsFromUrl(redisUrl), prefix });
    for (let i = 5; i < 8; i++) await plain.add("frames", chunk(i, 5), { jobId: `w-${i}` });
    await plain.close();

    const inWaitList = await redis.llen(`${prefix}:frames:wait`);
    const inPrioritized = await redis.zcard(`${prefix}:frames:prioritized`);
    assert.equal(inWaitList, 3, "un-prioritized messages are in <prefix>:frames:wait");
    assert.equal(inPrioritized, 5, "prioritized messages are in <prefix>:frames:prioritized");

    const scaled = find(renderManifests(defaultValues), "ScaledObject", "vdet-worker");
    const trigger = scaled.spec.triggers[0];
    assert.equal(trigger.type, "metrics-api");
    assert.equal(trigger.metadata.valueLocation, BACKLOG_VALUE_LOCATION);
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
