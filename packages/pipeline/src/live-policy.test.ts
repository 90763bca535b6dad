import assert from "node:assert/strict";
import { test } from "node:test";
import { LIVE_DEFAULTS } from "@vdet/config";
import {
  backoffMs,
  captureWaitMs,
  chooseLiveTransport,
  isLiveInput,
  reconnectPolicy,
} from "./live-policy.ts";

test("reconnect backoff: exponential from initialDelayMs, capped at maxDelayMs, jitter draws below the delay", () => {
  const policy = reconnectPolicy({ initialDelayMs: 100, maxDelayMs: 1000, factor: 2, jitter: 0.5 });
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5].map((attempt) => backoffMs(policy, attempt, () => 0)),
    [100, 200, 400, 800, 1000, 1000],
  );
  // The largest draw takes half off (jitter 0.5); every draw lies in [delay × (1 − jitter), delay].
  assert.equal(
    backoffMs(policy, 3, () => 1),
    400,
  );
  for (let i = 0; i < 100; i++) {
    const ms = backoffMs(policy, 2);
    assert.ok(ms >= 200 && ms <= 400, String(ms));
  }
  // Absent fields take the defaults, stated once in @vdet/config.
  assert.deepEqual(reconnectPolicy(undefined), { ...LIVE_DEFAULTS.reconnect });
  assert.equal(reconnectPolicy({ maxDelayMs: 5 }).initialDelayMs, LIVE_DEFAULTS.reconnect.initialDelayMs);
});

test("live transport: segments when the budget holds two segments (or archive), JPEG frames below, as asked otherwise", () => {
  assert.equal(chooseLiveTransport({}), "segments");
  assert.equal(chooseLiveTransport({ latencyBudgetMs: 2000 }), "segments");
  assert.equal(chooseLiveTransport({ latencyBudgetMs: 1999 }), "jpeg");
  assert.equal(chooseLiveTransport({ latencyBudgetMs: 3000, segmentSeconds: 2 }), "jpeg");
  assert.equal(chooseLiveTransport({ latencyBudgetMs: 100, requested: "raw" }), "raw");
  assert.equal(captureWaitMs("segments"), 1000 * LIVE_DEFAULTS.segmentSeconds);
  assert.equal(captureWaitMs("jpeg"), 0);
  assert.ok(isLiveInput("rtsp://127.0.0.1:8554/cam") && isLiveInput("http://x/live.m3u8?token=1"));
  assert.ok(!isLiveInput("clip.mp4") && !isLiveInput("s3://bucket/clip.mp4"));
});
