// Heartbeats: every running role (api, producer, worker, aggregator) writes its kind, id and the job ids it holds
// to Redis every few seconds under a key that expires unless renewed, and stamps when its kind was last alive.
// Readers (the api for GET /jobs/:id, `vdet status`, the job page and the live-roles metric) count the keys
// still there, so a role killed with SIGKILL disappears after one time to live.

import { hostname } from "node:os";
import { ROLE_KINDS, type RoleKind, type RoleLiveness } from "@vdet/protocol";
import type { Redis } from "ioredis";
import { DeploymentKeys } from "./keys.ts";

export interface Heartbeat {
  role: RoleKind;
  id: string;
  /** Jobs this role holds work of (empty when the role does not say). */
  jobs: string[];
  atMs: number;
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
  redis: Redis,
  prefix: string,
  options: HeartbeatOptions,
): { id: string; beat(): Promise<void>; close(): Promise<void> } {
  const keys = new DeploymentKeys(prefix);
  const id = options.id ?? `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const intervalMs = options.intervalMs ?? HEARTBEAT_DEFAULTS.intervalMs;
  const key = keys.heartbeat(options.role, id);
  const beat = async () => {
    const now = Date.now();
    const value: Heartbeat = { role: options.role, id, jobs: options.jobs?.() ?? [], atMs: now };
    await redis
      .multi()
      .set(key, JSON.stringify(value), "PX", intervalMs * HEARTBEAT_DEFAULTS.ttlIntervals)
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
      await redis.del(key).catch(() => {});
    },
  };
}

/** The heartbeats alive now (SCAN, never KEYS). */
export async function readHeartbeats(redis: Redis, prefix: string): Promise<Heartbeat[]> {
  const keys = new DeploymentKeys(prefix);
  const found: string[] = [];
  let cursor = "0";
  do {
    const [next, page] = await redis.scan(cursor, "MATCH", keys.heartbeatPattern, "COUNT", 500);
    found.push(...page);
    cursor = next;
  } while (cursor !== "0");
  if (found.length === 0) return [];
  const values = await redis.mget(...found);
  const beats: Heartbeat[] = [];
  for (const value of values) {
    if (value === null) continue; // expired between SCAN and MGET
    try {
      beats.push(JSON.parse(value) as Heartbeat);
    } catch {
      // not ours: ignored
    }
  }
  return beats;
}

/** How many roles of each kind are alive, and when each kind was last seen. */
export async function readRoleLiveness(redis: Redis, prefix: string): Promise<RoleLiveness> {
  const [beats, lastSeen] = await Promise.all([
    readHeartbeats(redis, prefix),
    redis.hgetall(new DeploymentKeys(prefix).rolesLastSeen),
  ]);
  const live = Object.fromEntries(ROLE_KINDS.map((kind) => [kind, 0])) as Record<RoleKind, number>;
  for (const beat of beats) if (beat.role in live) live[beat.role] += 1;
  const lastSeenMs: Partial<Record<RoleKind, number>> = {};
  for (const kind of ROLE_KINDS) if (lastSeen[kind] !== undefined) lastSeenMs[kind] = Number(lastSeen[kind]);
  return { live, lastSeenMs };
}
