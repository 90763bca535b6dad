// Heartbeats: every running role (api, producer, worker, aggregator) writes its kind, id, the job ids it holds and
// when the entry expires into one hash of the deployment every few seconds, and stamps when its kind was last
// alive. Readers (the api for GET /jobs/:id, `vdet status`, the job page and the live-roles metric) count the
// entries not yet expired and remove the others, so a role killed with SIGKILL disappears after one time to live.
// One hash on the deployment's own hash tag (not a key per role found by SCAN) keeps this a single-slot read on a
// Redis Cluster too.

import { hostname } from "node:os";
import { ROLE_KINDS, type RoleKind, type RoleLiveness } from "@vdet/protocol";
import type { DeploymentKeys, RedisClient } from "./keys.ts";

export interface Heartbeat {
  role: RoleKind;
  id: string;
  /** Jobs this role holds work of (empty when the role does not say). */
  jobs: string[];
  atMs: number;
  /** After this (ms since epoch) the entry counts as gone unless renewed. */
  expiresAtMs: number;
}

export interface HeartbeatOptions {
  role: RoleKind;
  /** Default: host name, pid and a random suffix. */
  id?: string;
  /** The job ids the role holds work of now. */
  jobs?: () => string[];
  /** How often the heartbeat is renewed (default 5 s); it expires after three intervals without one. */
  intervalMs?: number;
}

export const HEARTBEAT_DEFAULTS = { intervalMs: 5000, ttlIntervals: 3 } as const;

/** Publishes a role's heartbeat until close(), which removes it at once. */
export function startHeartbeat(
  redis: RedisClient,
  keys: DeploymentKeys,
  options: HeartbeatOptions,
): { id: string; beat(): Promise<void>; close(): Promise<void> } {
  const id = options.id ?? `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const intervalMs = options.intervalMs ?? HEARTBEAT_DEFAULTS.intervalMs;
  const field = `${options.role}:${id}`;
  const beat = async () => {
    const now = Date.now();
    const value: Heartbeat = {
      role: options.role,
      id,
      jobs: options.jobs?.() ?? [],
      atMs: now,
      expiresAtMs: now + intervalMs * HEARTBEAT_DEFAULTS.ttlIntervals,
    };
    await redis
      .multi()
      .hset(keys.heartbeats, field, JSON.stringify(value))
      .hset(keys.rolesLastSeen, options.role, String(now))
      .exec();
  };
  let stopped = false;
  const timer = setInterval(() => {
    if (!stopped) beat().catch(() => {}); // Redis away: the key expires, which is what readers should see
  }, intervalMs);
  timer.unref();
  void beat().catch(() => {});
  return {
    id,
    beat,
    close: async () => {
      stopped = true;
      clearInterval(timer);
      await redis.hdel(keys.heartbeats, field).catch(() => {});
    },
  };
}

/** The heartbeats alive now; expired entries (roles that died without closing) are removed on the way. */
export async function readHeartbeats(
  redis: RedisClient,
  keys: DeploymentKeys,
  nowMs = Date.now(),
): Promise<Heartbeat[]> {
  const entries = await redis.hgetall(keys.heartbeats);
  const beats: Heartbeat[] = [];
  const expired: string[] = [];
  for (const [field, value] of Object.entries(entries)) {
    let beat: Heartbeat | undefined;
    try {
      beat = JSON.parse(value) as Heartbeat;
    } catch {
      beat = undefined;
    }
    if (beat === undefined || !(beat.expiresAtMs >= nowMs)) expired.push(field);
    else beats.push(beat);
  }
  if (expired.length > 0) await redis.hdel(keys.heartbeats, ...expired);
  return beats;
}

/** How many roles of each kind are alive, and when each kind was last seen. */
export async function readRoleLiveness(redis: RedisClient, keys: DeploymentKeys): Promise<RoleLiveness> {
  const [beats, lastSeen] = await Promise.all([
    readHeartbeats(redis, keys),
    redis.hgetall(keys.rolesLastSeen),
  ]);
  const live = Object.fromEntries(ROLE_KINDS.map((kind) => [kind, 0])) as Record<RoleKind, number>;
  for (const beat of beats) if (beat.role in live) live[beat.role] += 1;
  const lastSeenMs: Partial<Record<RoleKind, number>> = {};
  for (const kind of ROLE_KINDS) if (lastSeen[kind] !== undefined) lastSeenMs[kind] = Number(lastSeen[kind]);
  return { live, lastSeenMs };
}
