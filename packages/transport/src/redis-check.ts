// Checking a Redis URL once, before a role starts: ioredis (and BullMQ through it) retries a refused password or
// a failed TLS handshake forever, logging the same line each time, so a misconfigured role never says clearly
// what is wrong. One connection, no retries, and an error that names the cause and the setting to fix.

import { codedError } from "@vdet/errors";
import { Redis, type RedisOptions } from "ioredis";
import { TRANSPORT_ERRORS } from "./error-codes.ts";
import { isClusterUrl, parseRedisUrl, type RedisTlsOptions } from "./redis-connection.ts";

export class RedisConnectionError extends codedError(TRANSPORT_ERRORS.REDIS_CONNECTION) {}

/** The URL without its password, for messages. */
export function redactRedisUrl(url: string): string {
  if (isClusterUrl(url)) return url.replace(/^([^:]+:\/\/[^:@/]*:)[^@/]*@/, "$1***@");
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.toString();
  } catch {
    return "<unparseable Redis URL>";
  }
}

function explain(error: Error, url: string, tls: boolean): string {
  const where = redactRedisUrl(url);
  const text = error.message;
  if (/WRONGPASS|invalid password|invalid username-password/i.test(text)) {
    return `Redis at ${where} refused the username or password (${text}); fix the password in VDET_REDIS_URL (redis://:PASSWORD@host:port)`;
  }
  if (/NOAUTH|Authentication required/i.test(text)) {
    return `Redis at ${where} requires a password (${text}); put it in VDET_REDIS_URL (redis://:PASSWORD@host:port)`;
  }
  if (/ECONNREFUSED/.test(text))
    return `nothing accepts connections at ${where} (${text}); start Redis or fix VDET_REDIS_URL`;
  if (/ENOTFOUND|EAI_AGAIN/.test(text))
    return `cannot resolve the host of ${where} (${text}); fix VDET_REDIS_URL`;
  if (tls && /certificate|self.signed|CERT_|SSL|TLS|wrong version/i.test(text)) {
    return `TLS with Redis at ${where} failed (${text}); for a private CA set VDET_REDIS_TLS_CA_FILE to its PEM file`;
  }
  return `cannot use Redis at ${where} (${text})${tls ? "" : "; if the server takes TLS connections, use rediss://"}`;
}

/**
 * Connects once and runs PING; throws RedisConnectionError naming the problem (wrong or missing password, TLS
 * failure, refused, no answer within `timeoutMs`). Returns the server's version (INFO server's redis_version).
 */
export async function checkRedis(
  url: string,
  options: RedisTlsOptions & { timeoutMs?: number } = {},
): Promise<{ serverVersion: string }> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const tls = /^rediss/.test(url);
  const endpoint = parseRedisUrl(url, options);
  if (endpoint.kind === "single") return checkNode(endpoint.options, url, tls, timeoutMs, false);
  // A cluster: one seed node that answers is enough (the others may be down); it must be a cluster node.
  let failure: unknown;
  for (const node of endpoint.nodes) {
    try {
      return await checkNode({ ...endpoint.options, ...node }, url, tls, timeoutMs, true);
    } catch (error) {
      failure = error;
    }
  }
  throw failure;
}

async function checkNode(
  options: RedisOptions,
  url: string,
  tls: boolean,
  timeoutMs: number,
  cluster: boolean,
): Promise<{ serverVersion: string }> {
  const redis = new Redis({
    ...options,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
  });
  let lastError: Error | undefined;
  redis.on("error", (error: Error) => {
    lastError ??= error;
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    return await Promise.race([
      (async () => {
        await redis.connect();
        await redis.ping();
        const info = await redis.info("server");
        if (cluster) {
          const enabled = /^cluster_enabled:1/m.test(await redis.info("cluster"));
          if (!enabled) {
            throw new RedisConnectionError(
              `VDET_REDIS_URL names a Redis Cluster, but ${options.host}:${options.port} is a Redis without cluster ` +
                "support: use redis:// for one Redis",
            );
          }
        }
        return { serverVersion: /^redis_version:(\S+)/m.exec(info)?.[1] ?? "unknown" };
      })(),
      timeout,
    ]);
  } catch (error) {
    if (error instanceof RedisConnectionError) throw error;
    // ioredis reports a failed AUTH or handshake as "Connection is closed"; the first error event says why.
    const cause = lastError ?? (error as Error);
    throw new RedisConnectionError(explain(cause, url, tls), { cause });
  } finally {
    clearTimeout(timer);
    redis.disconnect();
  }
}
