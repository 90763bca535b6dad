// The Redis a benchmark runs against, and where its commands went: the shared Redis (one shard), or a local
// three-master Redis Cluster (@vdet/transport/testing) with the work spread over queue partitions. `sample` reads
// every shard's INFO stats, commandstats and cpu; `shardDeltas` turns two samples into per-shard figures (calls,
// their share, bytes, CPU, the busiest commands), which show whether the commands spread over the shards.

import type { RedisClient } from "@vdet/jobs";
import { connectRedis, parseRedisUrl } from "@vdet/transport";
import { startRedisCluster } from "@vdet/transport/testing";
import type { Redis } from "ioredis";

export interface ShardSample {
  port: number;
  /** Commands by name (INFO commandstats `calls`; commands run by Lua scripts included, as Redis counts them). */
  commands: Map<string, number>;
  bytes: number;
  cpuS: number;
}

export interface BenchRedis {
  mode: "single" | "cluster";
  /** VDET_REDIS_URL for the roles. */
  url: string;
  /** Queue partitions the roles use (VDET_QUEUE_PARTITIONS). */
  partitions: number;
  /** A connection for the bench's own job store and clean-up. */
  client: RedisClient;
  sample(): Promise<ShardSample[]>;
  close(): Promise<void>;
}

async function sampleNode(port: number, redis: Redis): Promise<ShardSample> {
  const [commandstats, stats, cpu] = await Promise.all([
    redis.info("commandstats"),
    redis.info("stats"),
    redis.info("cpu"),
  ]);
  const commands = new Map<string, number>();
  for (const m of commandstats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) commands.set(m[1], Number(m[2]));
  const num = (text: string, key: string) =>
    Number(new RegExp(`^${key}:([\\d.]+)`, "m").exec(text)?.[1] ?? 0);
  return {
    port,
    commands,
    bytes: num(stats, "total_net_input_bytes") + num(stats, "total_net_output_bytes"),
    cpuS: num(cpu, "used_cpu_user") + num(cpu, "used_cpu_sys"),
  };
}

/** The shared Redis at `url`, or (cluster) a fresh local three-master cluster with `partitions` queue partitions. */
export async function startBenchRedis(
  mode: "single" | "cluster",
  url: string,
  partitions = 3,
): Promise<BenchRedis> {
  if (mode === "single") {
    const endpoint = parseRedisUrl(url);
    const redis = connectRedis(endpoint) as Redis;
    const port = Number(endpoint.kind === "single" ? endpoint.options.port : 0);
    return {
      mode,
      url,
      partitions: 1,
      client: redis,
      sample: async () => [await sampleNode(port, redis)],
      close: async () => {
        await redis.quit();
      },
    };
  }
  const cluster = await startRedisCluster();
  const client = connectRedis(parseRedisUrl(cluster.url));
  return {
    mode,
    url: cluster.url,
    partitions,
    client,
    sample: () => Promise.all(cluster.nodes.map((n) => sampleNode(n.port, n.redis))),
    close: async () => {
      await client.quit();
      await cluster.stop();
    },
  };
}

const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

/** Totals over the shards of one sample: commands (calls), bytes in + out, Redis CPU seconds. */
export function totals(shards: ShardSample[]) {
  return {
    calls: shards.reduce((n, s) => n + sum(s.commands), 0),
    bytes: shards.reduce((n, s) => n + s.bytes, 0),
    cpuS: shards.reduce((n, s) => n + s.cpuS, 0),
  };
}

/** Per shard between two samples: calls, their share of all calls, bytes, CPU %, the five busiest commands. */
export function shardDeltas(a: ShardSample[], b: ShardSample[], seconds: number) {
  const calls = b.map((s, i) => sum(s.commands) - sum(a[i].commands));
  const all = calls.reduce((x, y) => x + y, 0) || 1;
  const r3 = (v: number) => Math.round(v * 1000) / 1000;
  return b.map((s, i) => {
    const top = [...s.commands]
      .map(([name, n]) => [name, n - (a[i].commands.get(name) ?? 0)] as const)
      .filter(([, n]) => n > 0)
      .sort((x, y) => y[1] - x[1])
      .slice(0, 5);
    return {
      port: s.port,
      calls: calls[i],
      callsShare: r3(calls[i] / all),
      bytes: s.bytes - a[i].bytes,
      cpuPct: r3((100 * (s.cpuS - a[i].cpuS)) / seconds),
      topCommands: Object.fromEntries(top),
    };
  });
}
