import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  aggregatorConfigSchema,
  apiConfigSchema,
  ConfigError,
  describeConfig,
  loadConfig,
  loadS3Settings,
  PRODUCER_DEFAULTS,
  producerConfigSchema,
  QUEUE_DEFAULTS,
  WORKER_DEFAULTS,
  weightPrecisions,
  weightReferences,
  workerConfigSchema,
} from "./index.ts";

describe("role configuration", () => {
  test("defaults come from the one table of defaults", () => {
    const producer = loadConfig(producerConfigSchema, {});
    for (const key of [
      "framesPerChunk",
      "maxFramesInFlight",
      "maxQueuedChunks",
      "frameTtlSeconds",
    ] as const) {
      assert.equal(producer[key], PRODUCER_DEFAULTS[key]);
    }
    assert.equal(producer.lockDurationMs, QUEUE_DEFAULTS.lockDurationMs);
    const worker = loadConfig(workerConfigSchema, {});
    assert.equal(worker.maxBatch, WORKER_DEFAULTS.maxBatch);
    assert.equal(worker.lockDurationMs, WORKER_DEFAULTS.lockDurationMs);
    assert.deepEqual(worker.preload, ["0"]);
    assert.equal(loadConfig(aggregatorConfigSchema, {}).tracksPartBytes, 1024 * 1024);
  });

  test("flags win over the environment, which wins over defaults", () => {
    const env = { VDET_API_PORT: "9000", VDET_PREFIX: "from-env" };
    const config = loadConfig(apiConfigSchema, env, { port: 0 });
    assert.equal(config.port, 0);
    assert.equal(config.prefix, "from-env");
    assert.deepEqual(loadConfig(apiConfigSchema, { VDET_OUTPUT_BUCKETS: " a, b,," }).allowedOutputBuckets, [
      "a",
      "b",
    ]);
  });

  test("one boolean grammar for every setting, roles and S3 alike", () => {
    for (const [word, value] of [
      ["1", true],
      ["true", true],
      ["YES", true],
      ["on", true],
      ["0", false],
      ["False", false],
      ["no", false],
      ["off", false],
    ] as const) {
      assert.equal(
        loadConfig(apiConfigSchema, { VDET_ALLOW_FILE_INPUTS: word }).allowFileInputs,
        value,
        word,
      );
      assert.equal(
        loadS3Settings({ AWS_REGION: "eu-west-1", VDET_S3_FORCE_PATH_STYLE: word }).forcePathStyle,
        value,
        word,
      );
    }
    assert.throws(
      () => loadConfig(apiConfigSchema, { VDET_API_NO_AUTH: "maybe" }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.code === "INVALID_CONFIG" &&
        e.retryable === false &&
        /VDET_API_NO_AUTH=maybe is not a boolean/.test(e.message),
    );
  });

  test("errors name each variable to fix, and never print a secret", () => {
    assert.throws(
      () => loadConfig(apiConfigSchema, { VDET_API_PORT: "70000", VDET_API_TOKEN: "short-secret" }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, /VDET_API_PORT=70000 is not from 0 to 65535/);
        assert.match(e.message, /VDET_API_TOKEN=\*\*\* the API token must be at least 16 characters/);
        assert.doesNotMatch(e.message, /short-secret/);
        return true;
      },
    );
    assert.throws(
      () => loadConfig(workerConfigSchema, { VDET_PROFILE: "sometimes" }),
      /VDET_PROFILE=sometimes/,
    );
    assert.throws(
      () => loadConfig(workerConfigSchema, {}, { maxBatch: 0 }),
      /--max-batch 0 is not from 1 to 64/,
    );
  });

  test("the live segment store is an s3:// bucket and prefix, or unset", () => {
    assert.equal(loadConfig(producerConfigSchema, {}).liveSegmentStore, undefined);
    assert.equal(
      loadConfig(producerConfigSchema, { VDET_LIVE_SEGMENT_STORE: "s3://my-bucket/live-segments" })
        .liveSegmentStore,
      "s3://my-bucket/live-segments",
    );
    for (const bad of ["/var/segments", "http://host/bucket", "s3://Bad_Bucket/x", "s3://"])
      assert.throws(
        () => loadConfig(producerConfigSchema, { VDET_LIVE_SEGMENT_STORE: bad }),
        /VDET_LIVE_SEGMENT_STORE=.* must be s3:\/\/bucket or s3:\/\/bucket\/prefix/,
        bad,
      );
  });

  test("intra-op spinning: unset (onnxruntime's default), on or off; anything else names the variable", () => {
    assert.equal(loadConfig(workerConfigSchema, {}).intraOpSpinning, undefined);
    assert.equal(loadConfig(workerConfigSchema, { VDET_INTRA_OP_SPINNING: "off" }).intraOpSpinning, false);
    assert.equal(loadConfig(workerConfigSchema, { VDET_INTRA_OP_SPINNING: "on" }).intraOpSpinning, true);
    // A flag overrides the variable (vdet worker --intra-op-spinning off).
    assert.equal(
      loadConfig(workerConfigSchema, { VDET_INTRA_OP_SPINNING: "on" }, { intraOpSpinning: "off" })
        .intraOpSpinning,
      false,
    );
    assert.throws(
      () => loadConfig(workerConfigSchema, { VDET_INTRA_OP_SPINNING: "sometimes" }),
      /VDET_INTRA_OP_SPINNING.*not a boolean/,
    );
  });

  test("describeConfig masks secrets and URL credentials", () => {
    const described = describeConfig(
      loadConfig(apiConfigSchema, {
        VDET_API_TOKEN: "0123456789abcdef-secret",
        VDET_REDIS_URL: "redis://user:pass@127.0.0.1:6379",
      }),
    );
    assert.equal(described.token, "***");
    assert.equal(described.redisUrl, "redis://***@127.0.0.1:6379");
    assert.doesNotMatch(JSON.stringify(described), /secret|pass@/);
  });

  test("a Redis Cluster URL and queue partitions are settings of every role; other schemes are refused", () => {
    const config = loadConfig(workerConfigSchema, {
      VDET_REDIS_URL: "redis+cluster://:pw@10.0.0.1:7000,10.0.0.2:7001",
      VDET_QUEUE_PARTITIONS: "6",
    });
    assert.equal(config.queuePartitions, 6);
    assert.equal(loadConfig(producerConfigSchema, {}).queuePartitions, QUEUE_DEFAULTS.partitions);
    assert.equal(describeConfig(config).redisUrl, "redis+cluster://***@10.0.0.1:7000,10.0.0.2:7001");
    assert.throws(
      () => loadConfig(apiConfigSchema, { VDET_REDIS_URL: "memcached://127.0.0.1" }),
      /redis\+cluster:\/\//,
    );
    assert.throws(() => loadConfig(apiConfigSchema, { VDET_QUEUE_PARTITIONS: "0" }), /VDET_QUEUE_PARTITIONS/);
  });
});

describe("VDET_WEIGHTS grammar", () => {
  test("φ=REFERENCE[@PRECISION] and φ=@PRECISION; VDET_PRECISION fills the rest", () => {
    const config = loadConfig(workerConfigSchema, {
      VDET_WEIGHTS: "0=/m/d0.pth, D1=d1@int8,3=@INT8,2=/m/odd@name.pth",
      VDET_PRECISION: "int8",
    });
    assert.deepEqual(config.weights, {
      "0": { reference: "/m/d0.pth" },
      "1": { reference: "d1", precision: "int8" },
      "3": { precision: "int8" },
      // "@name.pth" is no precision word: part of the path.
      "2": { reference: "/m/odd@name.pth" },
    });
    assert.deepEqual(weightReferences(config.weights), {
      "0": "/m/d0.pth",
      "1": "d1",
      "2": "/m/odd@name.pth",
    });
    assert.deepEqual(weightPrecisions(config.weights, config.precision), {
      "0": "int8",
      "1": "int8",
      "2": "int8",
      "3": "int8",
    });
    assert.equal(loadConfig(workerConfigSchema, {}).precision, "fp32");
    assert.deepEqual(
      weightPrecisions(loadConfig(workerConfigSchema, { VDET_WEIGHTS: "0=d0,1=d1@fp32" }).weights, "int8"),
      { "0": "int8", "1": "fp32" },
    );
  });

  test("bad entries name the problem", () => {
    const bad = (VDET_WEIGHTS: string, message: RegExp) =>
      assert.throws(() => loadConfig(workerConfigSchema, { VDET_WEIGHTS }), message);
    bad("0=d0@int4", /unknown precision "int4" \(use fp32 or int8\)/);
    bad("0=@", /unknown precision ""/);
    bad("9=d9", /weights entries look like 0=\/path\/d0.pth, 1=d1@int8 or 3=@int8, got "9=d9"/);
    bad("0=a,0=b", /φ=0 is given twice/);
    assert.throws(() => loadConfig(workerConfigSchema, { VDET_PRECISION: "int4" }), /VDET_PRECISION/);
  });
});
