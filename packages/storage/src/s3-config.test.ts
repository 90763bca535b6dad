import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConfigError } from "@vdet/config";
import { BackoffRetryStrategy, backoffDelayMs } from "./retry.ts";
import { createS3Client, describeS3Config, s3ConfigFromEnv } from "./s3-config.ts";

describe("s3ConfigFromEnv", () => {
  test("AWS defaults: region required, virtual-host addressing", () => {
    const config = s3ConfigFromEnv({ AWS_REGION: "eu-west-1" });
    assert.deepEqual(config, {
      endpoint: undefined,
      region: "eu-west-1",
      forcePathStyle: false,
      maxAttempts: 6,
      idleTimeoutMs: 30_000,
      connectionTimeoutMs: 5_000,
    });
    assert.equal(s3ConfigFromEnv({ AWS_DEFAULT_REGION: "us-west-2" }).region, "us-west-2");
    assert.throws(() => s3ConfigFromEnv({}), /set AWS_REGION/);
  });

  test("a custom endpoint defaults to path style and us-east-1", () => {
    const config = s3ConfigFromEnv({ VDET_S3_ENDPOINT: "http://127.0.0.1:9000" });
    assert.equal(config.endpoint, "http://127.0.0.1:9000");
    assert.equal(config.region, "us-east-1");
    assert.equal(config.forcePathStyle, true);
    assert.equal(
      s3ConfigFromEnv({ VDET_S3_ENDPOINT: "https://minio.local", VDET_S3_FORCE_PATH_STYLE: "false" })
        .forcePathStyle,
      false,
    );
    assert.equal(
      s3ConfigFromEnv({ AWS_REGION: "eu-west-1", VDET_S3_FORCE_PATH_STYLE: "yes" }).forcePathStyle,
      true,
    );
  });

  test("bad values name the variable to fix", () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ VDET_S3_ENDPOINT: "not a url" }, /VDET_S3_ENDPOINT=not a url is not a URL/],
      [{ VDET_S3_ENDPOINT: "ftp://host" }, /must be an http:\/\/ or https:\/\/ URL/],
      [
        { AWS_REGION: "x", VDET_S3_FORCE_PATH_STYLE: "maybe" },
        /VDET_S3_FORCE_PATH_STYLE=maybe is not a boolean/,
      ],
      [
        { AWS_REGION: "x", VDET_S3_MAX_ATTEMPTS: "0" },
        /VDET_S3_MAX_ATTEMPTS=0 is not a positive whole number/,
      ],
      [{ AWS_REGION: "x", VDET_S3_IDLE_TIMEOUT_MS: "1.5" }, /VDET_S3_IDLE_TIMEOUT_MS=1.5/],
    ];
    for (const [env, message] of cases)
      assert.throws(
        () => s3ConfigFromEnv(env),
        (e: unknown) => {
          assert.ok(e instanceof ConfigError);
          assert.match(e.message, message);
          return true;
        },
      );
  });

  test("the printable description holds no secrets", () => {
    const env = {
      AWS_REGION: "eu-west-1",
      AWS_ACCESS_KEY_ID: "AKIAEXAMPLE",
      AWS_SECRET_ACCESS_KEY: "s3cr3t",
    };
    const printed = JSON.stringify(describeS3Config(s3ConfigFromEnv(env), env));
    assert.doesNotMatch(printed, /AKIAEXAMPLE|s3cr3t/);
    assert.match(printed, /AWS_ACCESS_KEY_ID set/);
    const explicit = {
      ...s3ConfigFromEnv(env),
      credentials: { accessKeyId: "AKIAEXAMPLE", secretAccessKey: "s3cr3t" },
    };
    assert.doesNotMatch(JSON.stringify(describeS3Config(explicit, {})), /AKIAEXAMPLE|s3cr3t/);
  });

  test("createS3Client applies region, path style and our retry strategy", async () => {
    const client = createS3Client(s3ConfigFromEnv({ VDET_S3_ENDPOINT: "http://127.0.0.1:9000" }));
    try {
      assert.equal(await client.config.region(), "us-east-1");
      assert.equal(client.config.forcePathStyle, true);
      assert.ok((await client.config.retryStrategy()) instanceof BackoffRetryStrategy);
    } finally {
      client.destroy();
    }
  });
});

describe("BackoffRetryStrategy", () => {
  const strategy = new BackoffRetryStrategy({
    maxAttempts: 4,
    baseDelayMs: 100,
    throttlingBaseDelayMs: 1000,
    maxDelayMs: 3000,
  });

  test("full jitter stays below base·2^retry and the cap", () => {
    for (let retry = 0; retry < 10; retry++) {
      for (let i = 0; i < 200; i++) {
        const delay = backoffDelayMs(retry, 100, 3000);
        assert.ok(delay >= 0 && delay < Math.min(3000, 100 * 2 ** retry), `retry ${retry}: ${delay}`);
      }
    }
  });

  test("retries transient and throttling errors up to maxAttempts, nothing else", async () => {
    let token = await strategy.acquireInitialRetryToken();
    for (let retry = 1; retry <= 3; retry++) {
      token = await strategy.refreshRetryTokenForRetry(token, { errorType: "TRANSIENT" });
      assert.equal(token.getRetryCount(), retry);
      assert.ok(token.getRetryDelay() < 100 * 2 ** (retry - 1));
    }
    await assert.rejects(strategy.refreshRetryTokenForRetry(token, { errorType: "TRANSIENT" }), /no retry/);
    const fresh = await strategy.acquireInitialRetryToken();
    await assert.rejects(
      strategy.refreshRetryTokenForRetry(fresh, { errorType: "CLIENT_ERROR" }),
      /no retry/,
    );
    await assert.rejects(
      strategy.refreshRetryTokenForRetry(fresh, { errorType: "SERVER_ERROR" }),
      /no retry/,
    );
  });

  test("throttling backs off on its own scale and a Retry-After hint is honoured up to the cap", async () => {
    const fresh = await strategy.acquireInitialRetryToken();
    const throttled = await Promise.all(
      Array.from({ length: 200 }, () =>
        strategy.refreshRetryTokenForRetry(fresh, { errorType: "THROTTLING" }),
      ),
    );
    const longest = Math.max(...throttled.map((t) => t.getRetryDelay()));
    assert.ok(longest >= 100 && longest < 1000, `throttling delays reach ${longest} ms`);
    const hinted = await strategy.refreshRetryTokenForRetry(fresh, {
      errorType: "THROTTLING",
      retryAfterHint: new Date(Date.now() + 2000),
    });
    assert.ok(hinted.getRetryDelay() > 1900 && hinted.getRetryDelay() <= 2000);
    const capped = await strategy.refreshRetryTokenForRetry(fresh, {
      errorType: "TRANSIENT",
      retryAfterHint: new Date(Date.now() + 60_000),
    });
    assert.equal(capped.getRetryDelay(), 3000);
  });
});
