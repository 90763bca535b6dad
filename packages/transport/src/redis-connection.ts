// Where Redis connections are made: VDET_REDIS_URL read once into what ioredis and BullMQ need, for one Redis
// (redis://, rediss://) or a Redis Cluster (redis+cluster://[user:password@]host:port,host:port,… — the seed
// nodes; rediss+cluster:// for TLS). Every connection of a role is created here.

import { ConfigError } from "@vdet/config";
import { DeploymentKeys, type KeyLayoutOptions, type RedisClient } from "@vdet/jobs";
// BullMQ's RedisOptions (ioredis' options as BullMQ takes them), so that one object serves both.
import type { ConnectionOptions, RedisOptions } from "bullmq";
import { Cluster, Redis } from "ioredis";

export interface RedisTlsOptions {
  /** PEM CA certificate(s) to trust for rediss:// (default: the system's trusted CAs). */
  tlsCa?: string;
}

/** A Redis URL, read: one server, or the seed nodes of a cluster with the options every node connection takes. */
export type RedisEndpoint =
  | { kind: "single"; options: RedisOptions }
  | { kind: "cluster"; nodes: { host: string; port: number }[]; options: RedisOptions };

const CLUSTER_URL = /^(rediss?)\+cluster:\/\/(?:([^@/]*)@)?([^/?#]+)\/?$/;

function tlsOf(secure: boolean, options: RedisTlsOptions): RedisOptions["tls"] {
  if (!secure) return undefined;
  return options.tlsCa ? { ca: options.tlsCa } : {};
}

/** One server's connection options from redis:// or rediss:// (a cluster URL is refused: see parseRedisUrl). */
export function redisOptionsFromUrl(url: string, options: RedisTlsOptions = {}): RedisOptions {
  const parsed = new URL(url);
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new ConfigError(
      `Redis URL must start with redis:// or rediss:// (redis+cluster:// for a Redis Cluster), got ${parsed.protocol}`,
    );
  }
  return {
    host: parsed.hostname || "127.0.0.1",
    port: parsed.port ? Number(parsed.port) : 6379,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0,
    tls: tlsOf(parsed.protocol === "rediss:", options),
    maxRetriesPerRequest: null,
  };
}

/** Whether a Redis URL names a Redis Cluster (redis+cluster:// or rediss+cluster://). */
export function isClusterUrl(url: string): boolean {
  return /^rediss?\+cluster:\/\//.test(url);
}

/** Reads VDET_REDIS_URL: one server or a cluster's seed nodes (database numbers do not exist on a cluster). */
export function parseRedisUrl(url: string, options: RedisTlsOptions = {}): RedisEndpoint {
  if (!isClusterUrl(url)) return { kind: "single", options: redisOptionsFromUrl(url, options) };
  const match = CLUSTER_URL.exec(url);
  if (!match) {
    throw new ConfigError(
      "a Redis Cluster URL looks like redis+cluster://[:password@]host:port,host:port (no database number)",
    );
  }
  const [, scheme, userinfo, hostList] = match;
  const nodes = hostList.split(",").map((entry) => {
    const node = /^(\[[^\]]+\]|[^:,]+):(\d{1,5})$/.exec(entry.trim());
    if (!node || Number(node[2]) < 1 || Number(node[2]) > 65535) {
      throw new ConfigError(`Redis Cluster node "${entry}" is not host:port`);
    }
    return { host: node[1].replace(/^\[|\]$/g, ""), port: Number(node[2]) };
  });
  const colon = userinfo?.indexOf(":") ?? -1;
  const username = userinfo ? decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon)) : "";
  const password = userinfo && colon >= 0 ? decodeURIComponent(userinfo.slice(colon + 1)) : "";
  return {
    kind: "cluster",
    nodes,
    options: {
      username: username || undefined,
      password: password || undefined,
      tls: tlsOf(scheme === "rediss", options),
      maxRetriesPerRequest: null,
    },
  };
}

/** The key map of a deployment on this endpoint: hash-tagged on a Redis Cluster, plain on one Redis. */
export function deploymentKeysFor(
  endpoint: RedisEndpoint,
  prefix: string,
  layout: Omit<KeyLayoutOptions, "hashTags"> = {},
): DeploymentKeys {
  return new DeploymentKeys(prefix, { ...layout, hashTags: endpoint.kind === "cluster" });
}

/** A new connection (ioredis Redis or Cluster) to the endpoint, with `extra` options for each connection. */
export function connectRedis(endpoint: RedisEndpoint, extra: RedisOptions = {}): RedisClient {
  if (endpoint.kind === "single") return new Redis({ ...endpoint.options, ...extra });
  return new Cluster(endpoint.nodes, {
    redisOptions: { ...endpoint.options, ...extra },
    // Keys of one slot per command, many slots per batch: pipelines are split by node.
    enableAutoPipelining: true,
    slotsRefreshTimeout: 2000,
    clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
  });
}

/**
 * What a BullMQ queue or worker connects with: options for one Redis (BullMQ opens and closes its own
 * connections), or a Cluster connection of its own (BullMQ duplicates it for blocking reads; `release` closes it).
 */
export function bullmqConnection(
  endpoint: RedisEndpoint,
  onError: (error: Error) => void,
): {
  connection: ConnectionOptions;
  release(): Promise<void>;
} {
  if (endpoint.kind === "single") return { connection: endpoint.options, release: async () => {} };
  const cluster = connectRedis(endpoint) as Cluster;
  cluster.on("error", onError);
  return {
    connection: cluster,
    release: async () => {
      await cluster.quit().catch(() => cluster.disconnect());
    },
  };
}
