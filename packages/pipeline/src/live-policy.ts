// A live job's reconnect policy: its spec's `reconnect` over @vdet/config's LIVE_DEFAULTS.reconnect, and the
// capped exponential backoff with jitter it implies.

import { LIVE_DEFAULTS } from "@vdet/config";
import type { LiveTransport, ReconnectSpec } from "@vdet/protocol";

/** A job's reconnect policy with every default filled in. */
export type ReconnectPolicy = Required<ReconnectSpec>;

export function reconnectPolicy(spec: ReconnectSpec | undefined): ReconnectPolicy {
  return { ...LIVE_DEFAULTS.reconnect, ...spec };
}

/** The wait before reconnect attempt `attempt` (0-based): capped exponential, drawn from [d × (1 − jitter), d]. */
export function backoffMs(
  policy: ReconnectPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const delay = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** attempt);
  return Math.round(delay * (1 - policy.jitter * random()));
}

/** Whether an input is a live stream (HLS playlist, RTSP): it cannot be read twice and is recorded or decoded live. */
export function isLiveInput(input: string): boolean {
  return /^rtsps?:\/\//i.test(input) || /\.m3u8(\?|$)/i.test(input);
}

/**
 * How a live job's frames reach the workers: as asked, else recorded segments when the latency budget leaves room
 * for one (at least twice a segment's length: the wait for the segment, then its decode and inference), else JPEG
 * frames (the low-latency path). Archive jobs: segments.
 */
export function chooseLiveTransport(options: {
  requested?: LiveTransport;
  latencyBudgetMs?: number;
  segmentSeconds?: number;
}): LiveTransport {
  if (options.requested !== undefined) return options.requested;
  const segmentMs = 1000 * (options.segmentSeconds ?? LIVE_DEFAULTS.segmentSeconds);
  return options.latencyBudgetMs !== undefined && options.latencyBudgetMs < 2 * segmentMs
    ? "jpeg"
    : "segments";
}

/**
 * How long a live frame waits after capture before any work on it can start: on the segment path, until its
 * segment is complete (a segment's length at most); on the frame path, nothing. Its deadline counts from capture,
 * so this is budget the φ policy and `vdet plan` cannot spend on inference.
 */
export function captureWaitMs(transport: LiveTransport, segmentSeconds?: number): number {
  return transport === "segments" ? 1000 * (segmentSeconds ?? LIVE_DEFAULTS.segmentSeconds) : 0;
}
