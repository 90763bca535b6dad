// A live job's reconnect policy: its spec's `reconnect` over @vdet/config's LIVE_DEFAULTS.reconnect, and the
// capped exponential backoff with jitter it implies.

import { LIVE_DEFAULTS } from "@vdet/config";
import type { ReconnectSpec } from "@vdet/protocol";

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
